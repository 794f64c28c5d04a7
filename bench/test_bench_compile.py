"""Cold compiles: each demo kernel's first launch with empty Triton and turbine-triton caches.

In process, so a round is the compile itself (capture, lowering, `iree-compile`, loading) plus
one launch, without the one-time imports; `turbine-triton bench --report` also times the same
kernels in a new process, where the first one pays those imports.  Each round's result is
checked against torch.

Run: `python -m pytest bench/test_bench_compile.py --benchmark-enable`.
"""
from __future__ import annotations

import itertools

import pytest
import torch
import triton

import turbine_triton.plugin  # noqa: F401  (registers the backend)
from turbine_triton import demo
from turbine_triton.coldstart import KERNELS, demo_cases

CASES = demo_cases()


@pytest.mark.parametrize("name", KERNELS)
def test_cold_compile(benchmark, name, tmp_path, monkeypatch):
    attr, run, make_out, reference = CASES[name]
    fn = getattr(demo, attr).fn
    fresh = itertools.count()
    outs = []

    def setup():
        # empty caches on disk and a new JITFunction (empty in-memory caches) each round
        d = tmp_path / str(next(fresh))
        monkeypatch.setattr(triton.knobs.cache, "dir", str(d / "triton"))
        monkeypatch.setenv("TURBINE_TRITON_CACHE_DIR", str(d / "turbine"))
        monkeypatch.setattr(demo, attr, triton.jit(fn))
        outs.append(make_out())
        return (outs[-1],), {}

    benchmark.group = "cold compile + first launch"
    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    for o in outs:
        torch.testing.assert_close(o, reference(), rtol=1e-4, atol=1e-4)
