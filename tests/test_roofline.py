"""The roofline's FMA probe computes what it claims: two `fma` chains per lane."""
import numpy as np
import torch

from turbine_triton import roofline
from turbine_triton.bench_kernels import fma_peak
from turbine_triton.lowering.host import vector_bytes


def test_fma_probe_block_fills_whole_vectors():
    block = roofline.fma_block()
    lanes = vector_bytes() // 4
    assert block % lanes == 0 and block & (block - 1) == 0
    assert 2 * block // lanes >= 8          # enough independent FMAs in flight


def test_fma_probe_matches_numpy():
    block, iters, a, b = roofline.fma_block(), 16, 0.999, 1e-3
    out = torch.empty(3 * block)
    flops = fma_peak(out, iters, block, a, b)
    x = np.arange(out.numel(), dtype=np.float64) * 1e-6
    y = x + 0.5
    for _ in range(iters):
        x, y = x * a + b, y * a + b
    np.testing.assert_allclose(out.numpy(), x + y, rtol=1e-5)
    assert flops == 4 * iters * out.numel()


def test_remeasured_stream_keeps_the_better_ceiling(monkeypatch):
    peaks = {"stream": {"elements": 1024, "copy_gbps": 30.0, "triad_gbps": 40.0, "gbps": 40.0}}
    monkeypatch.setattr(roofline, "measure_stream",
                        lambda n: {"elements": n, "copy_gbps": 50.0, "triad_gbps": 45.0})
    assert roofline.remeasure_stream(peaks)
    assert peaks["stream"]["gbps"] == 50.0 and peaks["stream"]["runs_gbps"] == [40.0, 50.0]
    monkeypatch.setattr(roofline, "measure_stream",
                        lambda n: {"elements": n, "copy_gbps": 10.0, "triad_gbps": 12.0})
    assert not roofline.remeasure_stream(peaks)
    assert peaks["stream"]["gbps"] == 50.0 and peaks["stream"]["runs_gbps"] == [40.0, 50.0, 12.0]
