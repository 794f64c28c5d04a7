"""torch.compile through us (`backend="turbine_triton"`, impl "ours") vs Inductor's C++ backend vs eager.

The models and sizes are those of `turbine-triton bench --report` (`turbine_triton.bench_workloads`).
Each case compiles once, checks the compiled result against eager torch, then times
steady-state calls.  Run: `python -m pytest bench --benchmark-enable`.
"""
from __future__ import annotations

import pytest

from turbine_triton import bench_workloads as bw


@pytest.mark.parametrize("impl", bw.IMPLS)
@pytest.mark.parametrize("name", bw.MODELS)
def test_bench_torch_compile(bench_case, name, impl):
    bench_case(bw.model_case(name, bw.SIZES["full"]), impl)


@pytest.mark.parametrize("impl", bw.IMPLS)
@pytest.mark.parametrize("name", bw.AUTOTUNED)
def test_bench_torch_compile_max_autotune(bench_case, name, impl):
    """Both compiles in mode="max-autotune-no-cudagraphs" (ours: Triton GEMM templates)."""
    bench_case(bw.model_case(name, bw.SIZES["full"], bw.AUTOTUNE_MODE), impl)


@pytest.mark.parametrize("impl", bw.IMPLS)
@pytest.mark.parametrize("name", bw.TRAINED)
def test_bench_torch_compile_training_step(bench_case, name, impl):
    """A training step, default mode: forward with autograd, then the backward graph."""
    bench_case(bw.model_case(name, bw.SIZES["full"], train=True), impl)
