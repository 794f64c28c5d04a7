"""Minimal kernels for mismatches and failures the differential fuzzer found.

Each test compares against torch; tests for bugs not fixed yet in lowering/
are `xfail(strict=True)`, so they start failing (and need their mark removed)
once the fix lands.
"""
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.fuzz import interpret


@triton.jit
def minmax_kernel(x_ptr, y_ptr, lo_ptr, hi_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    y = tl.load(y_ptr + offs)
    tl.store(lo_ptr + offs, tl.minimum(x, y))
    tl.store(hi_ptr + offs, tl.maximum(x, y))


def _minmax(dtype):
    x, y = torch.randn(16).to(dtype), torch.randn(16).to(dtype)
    lo, hi = torch.zeros(16, dtype=dtype), torch.zeros(16, dtype=dtype)
    minmax_kernel[(1,)](x, y, lo, hi, BLOCK=16)
    assert torch.equal(lo, torch.minimum(x, y)) and torch.equal(hi, torch.maximum(x, y))


def test_fp16_minimum_maximum():
    _minmax(torch.float16)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_minimum_maximum_other_float_dtypes(dtype):
    _minmax(dtype)


@triton.jit
def argmax_masked_kernel(x_ptr, out_ptr, N, BN: tl.constexpr):
    rn = tl.arange(0, BN)
    x = tl.load(x_ptr + rn, mask=rn < N, other=float("-inf"))
    tl.store(out_ptr, tl.argmax(x, axis=0))


def test_bf16_argmax_with_masked_minus_inf_lanes():
    """Found as a fuzz mismatch; the bug is the interpreter's (bf16 held as uint16 and compared as
    integers), so the fuzzer runs bf16 kernels in fp32 under the interpreter. Ours matches torch."""
    x = torch.randn(7).to(torch.bfloat16)
    out = torch.zeros(1, dtype=torch.int32)
    argmax_masked_kernel[(1,)](x, out, 7, BN=8)
    assert out.item() == x.argmax().item()
    ref = torch.zeros(1, dtype=torch.int32)
    interpret(argmax_masked_kernel, (1,), x.float(), ref, 7, BN=8)
    assert ref.item() == out.item()


@triton.jit
def clamp_kernel(x_ptr, o_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(o_ptr + offs, tl.clamp(tl.load(x_ptr + offs), -0.5, 0.5))


def test_fp16_clamp():
    x = torch.randn(16).half()
    o = torch.zeros(16, dtype=torch.half)
    clamp_kernel[(1,)](x, o, BLOCK=16)
    assert torch.equal(o, x.clamp(-0.5, 0.5))


@triton.jit
def max_nan_kernel(x_ptr, y_ptr, o_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    y = tl.load(y_ptr + offs)
    tl.store(o_ptr + offs, tl.maximum(x, y, propagate_nan=tl.PropagateNan.ALL))


def _max_nan(dtype):
    x, y = torch.randn(16).to(dtype), torch.randn(16).to(dtype)
    x[3] = float("nan")
    o = torch.zeros(16, dtype=dtype)
    max_nan_kernel[(1,)](x, y, o, BLOCK=16)
    torch.testing.assert_close(o, torch.maximum(x, y), equal_nan=True, rtol=0, atol=0)


def test_fp16_maximum_propagate_nan():
    _max_nan(torch.float16)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_maximum_propagate_nan_other_dtypes(dtype):
    _max_nan(dtype)


@triton.jit
def colmax_to_f16_kernel(x_ptr, out_ptr, M, N, sxm, sxn, BM: tl.constexpr, BN: tl.constexpr):
    rm = tl.arange(0, BM)
    rn = tl.program_id(0) * BN + tl.arange(0, BN)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    x = tl.load(x_ptr + rm[:, None] * sxm + rn[None, :] * sxn, mask=mask, other=float("-inf"))
    tl.store(out_ptr + rn, tl.max(x, axis=0).to(tl.float16), mask=rn < N)


def test_f32_max_truncated_to_f16_links():
    """Long-fuzz seed 2026: LLVM narrowed an f32 maxnum feeding an f16 store to an f16 maxnum,
    which x86 expands to `fmaxf` calls the executable cannot link."""
    x = torch.randn(6, 4).t()           # (4, 6), transposed strides
    out = torch.zeros(6, dtype=torch.float16)
    colmax_to_f16_kernel[(1,)](x, out, 4, 6, x.stride(0), x.stride(1), BM=4, BN=16)
    assert torch.equal(out, x.max(dim=0).values.half())


@triton.jit
def bf16_to_f16_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs).to(tl.float16))


def test_bf16_to_f16_cast():
    """Long-fuzz seed 2026: bf16 -> f16 has no direct `arith.truncf`; it goes through f32."""
    x = torch.randn(32).bfloat16()
    out = torch.zeros(32, dtype=torch.float16)
    bf16_to_f16_kernel[(1,)](x, out, BLOCK=32)
    assert torch.equal(out, x.to(torch.float16))
