"""Our Triton kernels against eager torch, one benchmark group per workload.

Every case first checks our result against torch, so a wrong kernel fails
instead of producing a number.  Run: `python -m pytest bench --benchmark-enable`.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

IMPLS = ["turbine", "torch"]


def _run(benchmark, impl, ours, theirs, check, **tol):
    torch.testing.assert_close(check(ours), check(theirs), **tol)
    benchmark(ours if impl == "turbine" else theirs)


@pytest.mark.benchmark(group="add-16M-fp32-block1024")
@pytest.mark.parametrize("impl", IMPLS)
def test_add_block1024(benchmark, kernels, impl):
    _add_case(benchmark, kernels, impl, 1024)


@pytest.mark.benchmark(group="add-16M-fp32-block8192")
@pytest.mark.parametrize("impl", IMPLS)
def test_add_block8192(benchmark, kernels, impl):
    _add_case(benchmark, kernels, impl, 8192)


def _add_case(benchmark, kernels, impl, block):
    n = 1 << 24
    x, y = torch.randn(n), torch.randn(n)
    ours_out, ref_out = torch.empty(n), torch.empty(n)
    _run(benchmark, impl,
         lambda: kernels.add(x, y, ours_out, BLOCK=block),
         lambda: torch.add(x, y, out=ref_out),
         lambda f: f().clone())


@pytest.mark.benchmark(group="softmax-4096x1024-fp32")
@pytest.mark.parametrize("impl", IMPLS)
def test_softmax(benchmark, kernels, impl):
    x = torch.randn(4096, 1024)
    out = torch.empty_like(x)
    _run(benchmark, impl,
         lambda: kernels.softmax(x, out),
         lambda: torch.softmax(x, dim=-1),
         lambda f: f().clone())


@pytest.mark.benchmark(group="layernorm-4096x1024-fp32")
@pytest.mark.parametrize("impl", IMPLS)
def test_layernorm(benchmark, kernels, impl):
    x = torch.randn(4096, 1024)
    w, b = torch.randn(1024), torch.randn(1024)
    out = torch.empty_like(x)
    _run(benchmark, impl,
         lambda: kernels.layernorm(x, w, b, 1e-5, out),
         lambda: F.layer_norm(x, (1024,), w, b, 1e-5),
         lambda f: f().clone(), rtol=1e-4, atol=1e-4)


@pytest.mark.benchmark(group="matmul-512x512x512-fp32")
@pytest.mark.parametrize("impl", IMPLS)
def test_matmul(benchmark, kernels, impl):
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    ours_out, ref_out = torch.empty(512, 512), torch.empty(512, 512)
    # Tiles sum K in a different order than BLAS, hence the looser bound.
    _run(benchmark, impl,
         lambda: kernels.matmul(a, b, ours_out),
         lambda: torch.mm(a, b, out=ref_out),
         lambda f: f().clone(), rtol=1e-4, atol=1e-3)
