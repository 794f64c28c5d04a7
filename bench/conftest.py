"""Fixtures for the benchmarks; run with `python -m pytest bench --benchmark-enable`.

The workloads are `turbine_triton.bench_workloads`, shared with `turbine-triton bench --report`.
"""
from __future__ import annotations

import pytest
import torch

from turbine_triton.report import settle_compile_workers


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def bench_case(benchmark):
    """`run(case, impl)`: build `case.impls[impl]`, check it against torch, then benchmark it.

    A wrong result fails the case instead of producing a number."""
    def run(case, impl):
        benchmark.group = case.label + (f" ({case.note})" if case.note else "")
        with torch.no_grad():
            fn = case.impls[impl]()
            torch.testing.assert_close(fn().float(), case.reference().float(), **case.tol)
            settle_compile_workers()
            benchmark(fn)
        torch._dynamo.reset()
    return run
