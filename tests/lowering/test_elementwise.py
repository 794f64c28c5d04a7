"""arith casts and integer ops on tensors and scalars, against torch."""
import numpy as np
import pytest
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice

from ..conftest import interpret


@triton.jit
def cast_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(out_ptr + offs, x.to(out_ptr.dtype.element_ty), mask=m)


@pytest.mark.parametrize("src,dst", [
    (torch.float32, torch.bfloat16), (torch.float32, torch.float16), (torch.bfloat16, torch.float32),
    (torch.float16, torch.float32), (torch.float32, torch.int32), (torch.int32, torch.float32),
    (torch.int64, torch.int8), (torch.int8, torch.int64), (torch.float32, torch.float64),
    (torch.bool, torch.float32), (torch.float32, torch.bool), (torch.uint8, torch.int32),
])
def test_casts(src, dst):
    x = (torch.randn(1000) * 100)
    x = x > 0 if src == torch.bool else x.to(src)
    out = torch.zeros(1000, dtype=dst)
    cast_kernel[(4,)](x, out, 1000, BLOCK=256)
    torch.testing.assert_close(out, x.to(dst), atol=0, rtol=0)


def test_bf16_rounds_to_nearest_even():
    # values exactly halfway between two bf16 numbers
    base = torch.tensor([1.0, 1.0078125, 3.0, -2.0], dtype=torch.float32)
    half_ulp = torch.tensor([2 ** -8, 2 ** -8, 2 ** -7, 2 ** -8])
    x = base + half_ulp
    out = torch.zeros(4, dtype=torch.bfloat16)
    cast_kernel[(1,)](x, out, 4, BLOCK=4)
    torch.testing.assert_close(out, x.to(torch.bfloat16), atol=0, rtol=0)


@triton.jit
def int_ops_kernel(a_ptr, b_ptr, out_ptr, n, s, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    a = tl.load(a_ptr + offs, mask=m, other=1)
    b = tl.load(b_ptr + offs, mask=m, other=1)
    r = (a // b) * 3 + (a % b) - (a >> 2) + (a << 1) ^ (b & 7) | (a * s)
    r = tl.maximum(r, -1000) + tl.minimum(a, b)
    tl.store(out_ptr + offs, r, mask=m)


def test_integer_ops_match_interpreter():
    a = torch.randint(-1000, 1000, (200,), dtype=torch.int32)
    b = torch.randint(1, 50, (200,), dtype=torch.int32) * torch.where(torch.rand(200) > 0.5, 1, -1).int()
    out = torch.zeros(200, dtype=torch.int32)
    int_ops_kernel[(1,)](a, b, out, 200, 3, BLOCK=256)
    ref = interpret(int_ops_kernel, (1,), a, b, torch.zeros(200, dtype=torch.int32), 200, 3, BLOCK=256)[2]
    torch.testing.assert_close(out, ref)


@triton.jit
def scalar_kernel(out_ptr, a, b, f):
    tl.store(out_ptr, a * b + 1)
    tl.store(out_ptr + 1, (f * 2.0).to(tl.int64))
    tl.store(out_ptr + 2, a // 7)


def test_scalar_arguments_and_math():
    out = torch.zeros(3, dtype=torch.int64)
    scalar_kernel[(1,)](out, 123456789012, 3, 2.75)
    assert out.tolist() == [123456789012 * 3 + 1, 5, 123456789012 // 7]


@triton.jit
def float_class_kernel(x_ptr, inf_ptr, nan_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(inf_ptr + offs, libdevice.isinf(x).to(tl.int8), mask=m)
    tl.store(nan_ptr + offs, libdevice.isnan(x).to(tl.int8), mask=m)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_libdevice_float_class(dtype):
    # float64 arrives as `__nv_isinfd` / `__nv_isnand` (Inductor's `isinf` on doubles)
    x = torch.tensor([1.0, float("inf"), -2.0, float("-inf"), float("nan"), 0.0, -0.0], dtype=dtype)
    isinf = torch.zeros(7, dtype=torch.int8)
    isnan = torch.zeros(7, dtype=torch.int8)
    float_class_kernel[(1,)](x, isinf, isnan, 7, BLOCK=8)
    torch.testing.assert_close(isinf, torch.isinf(x).to(torch.int8), atol=0, rtol=0)
    torch.testing.assert_close(isnan, torch.isnan(x).to(torch.int8), atol=0, rtol=0)


@triton.jit
def row_divide_kernel(x_ptr, d_ptr, out_ptr, exact_ptr, s, COLS: tl.constexpr):
    # x[r, :] / d[r] (a broadcast row value), x / s (a splat scalar), and div_rn by d[r]
    row = tl.program_id(0)
    cols = tl.arange(0, COLS)
    x = tl.load(x_ptr + row * COLS + cols)
    d = tl.load(d_ptr + row + tl.zeros([1], dtype=tl.int32))
    tl.store(out_ptr + row * 2 * COLS + cols, x / d)
    tl.store(out_ptr + row * 2 * COLS + COLS + cols, x / s)
    tl.store(exact_ptr + row * COLS + cols, libdevice.div_rn(x, d))


def test_division_by_a_broadcast_value():
    # Triton's `/` on f32 is approximate on NVIDIA (div.full.f32, <= 2 ulp); ours multiplies by
    # one reciprocal per row (<= 1.5 ulp).  IEEE special cases hold; div_rn stays exact.  (No
    # subnormal inputs or results: IREE's CPU code flushes them, division or not.)
    g = torch.Generator().manual_seed(0)
    rows, cols = 8, 64
    x = torch.randn(rows, cols, generator=g) * torch.logspace(-15, 15, cols)
    x[:, :4] = torch.tensor([0.0, float("inf"), float("-inf"), float("nan")])
    d = torch.tensor([3.0, -7.5e-3, 1e20, 0.0, -0.0, float("inf"), 2e-38, 1.0])
    out = torch.empty(rows, 2, cols)
    exact = torch.empty(rows, cols)
    row_divide_kernel[(rows,)](x, d, out, exact, 0.1, COLS=cols)
    ref = (x.double() / d.double()[:, None]).float()
    ref_s = (x.double() / torch.tensor(0.1, dtype=torch.float32).double()).float()
    assert torch.equal(exact.isnan(), ref.isnan())
    torch.testing.assert_close(exact, ref, rtol=0, atol=0, equal_nan=True)
    for got, want in ((out[:, 0], ref), (out[:, 1], ref_s)):
        assert torch.equal(got.isnan(), want.isnan()) and torch.equal(got.isinf(), want.isinf())
        finite = torch.isfinite(want) & (want != 0)
        ulp = torch.from_numpy(np.spacing(want.abs().numpy()))
        assert ((got - want).abs()[finite] / ulp[finite]).max() <= 2.0
        zero = want == 0
        assert (got[zero] == 0).all() and torch.equal(got[zero].signbit(), want[zero].signbit())


def test_division_by_a_broadcast_value_divides_once_per_row():
    import re
    from turbine_triton.lowering.pipeline import lower
    from turbine_triton.triton_frontend.capture import capture_jit
    x, d, out, exact = torch.zeros(2, 64), torch.ones(2), torch.zeros(2, 2, 64), torch.zeros(2, 64)
    mlir = lower(capture_jit(row_divide_kernel, x, d, out, exact, 0.5, COLS=64)).mlir
    divisions = re.findall(r"arith\.divf [^\n]*: (\S+)", mlir)
    # div_rn keeps one per-lane division; `x / d[r]` and `x / s` divide a scalar or a 1-vector
    per_lane = [t for t in divisions if t.startswith("vector<") and not t.startswith("vector<1x")]
    assert len(per_lane) == 1 and len(divisions) == 3, divisions
