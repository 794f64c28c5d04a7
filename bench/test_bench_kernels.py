"""Hand-written Triton kernels through us vs eager torch vs Inductor's C++ backend,
and vs Triton's interpreter at small shapes.

The workloads are those of `turbine-triton bench --report` (`turbine_triton.bench_workloads`).
Run: `python -m pytest bench --benchmark-enable`.
"""
from __future__ import annotations

import pytest
import torch

from turbine_triton import bench_workloads as bw

S = bw.SIZES["full"]
R, C = S.rows

KERNELS = {
    "add": lambda: bw.add_case(S.add_n, 1024),
    "add-block8192": lambda: bw.add_case(S.add_n, 8192),
    "add-autotuned": lambda: bw.add_case(S.add_n, None),
    "softmax": lambda: bw.softmax_case(R, C),
    "layernorm": lambda: bw.layernorm_case(R, C),
    "rmsnorm": lambda: bw.rmsnorm_case(R, C),
    **{f"matmul-{m}-{bw.DTYPE_NAMES[dt]}": (lambda m=m, dt=dt: bw.matmul_case(m, dt))
       for dt in (torch.float32, torch.bfloat16) for m in S.matmul},
    "attention": lambda: bw.attention_case(*S.attn),
}

# The interpreter is 500-5000x slower: small shapes only, against ours at the same shape.
INTERPRETED = {
    "add": lambda: bw.add_interp_case(S.i_add_n, 1024),
    "softmax": lambda: bw.softmax_interp_case(*S.i_rows),
    "layernorm": lambda: bw.layernorm_interp_case(*S.i_rows),
    "rmsnorm": lambda: bw.rmsnorm_interp_case(*S.i_rows),
    "matmul": lambda: bw.matmul_interp_case(S.i_matmul),
    "attention": lambda: bw.attention_interp_case(*S.i_attn),
}


@pytest.mark.parametrize("impl", bw.IMPLS)
@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel(bench_case, name, impl):
    bench_case(KERNELS[name](), impl)


@pytest.mark.parametrize("impl", ["ours", "interpreter"])
@pytest.mark.parametrize("name", list(INTERPRETED))
def test_interpreter_small(bench_case, name, impl):
    bench_case(INTERPRETED[name](), impl)
