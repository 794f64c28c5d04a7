"""Scalar all-on tests for range masks: every predicate and shape still loads and stores exactly
the lanes the mask has on (tails, reversed operands, 2-D masks, wrapped i32 offsets), against torch."""
import pytest
import torch
import triton
import triton.language as tl


@triton.jit
def pred_kernel(x_ptr, out_ptr, lo, hi, n, PRED: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    if PRED == "lt":
        m = offs < hi
    elif PRED == "le":
        m = offs <= hi
    elif PRED == "gt":
        m = offs > lo
    elif PRED == "ge":
        m = offs >= lo
    elif PRED == "rev":
        m = hi > offs            # the range on the right-hand side
    else:
        m = (offs >= lo) & (offs < hi)
    x = tl.load(x_ptr + offs, mask=m & (offs < n), other=-7.0)
    tl.store(out_ptr + offs, x * 2 + 1, mask=offs < n)


def _expect(x, pred, lo, hi):
    i = torch.arange(x.numel())
    m = {"lt": i < hi, "le": i <= hi, "gt": i > lo, "ge": i >= lo, "rev": i < hi,
         "band": (i >= lo) & (i < hi)}[pred]
    return torch.where(m, x, torch.full_like(x, -7.0)) * 2 + 1


@pytest.mark.parametrize("pred", ["lt", "le", "gt", "ge", "rev", "band"])
@pytest.mark.parametrize("block", [64, 256])
def test_range_masks(pred, block):
    n = 1000
    x = torch.randn(n)
    out = torch.full((n,), 123.0)
    lo, hi = 77, 901            # boundaries inside chunks and inside programs
    pred_kernel[(triton.cdiv(n, block),)](x, out, lo, hi, n, PRED=pred, BLOCK=block)
    torch.testing.assert_close(out, _expect(x, pred, lo, hi))


@triton.jit
def wrap_kernel(x_ptr, out_ptr, base, BLOCK: tl.constexpr):
    lanes = tl.arange(0, BLOCK)
    offs = lanes + base          # i32: wraps past 2**31 - 1 for the later lanes
    m = offs > 0
    tl.store(out_ptr + lanes, tl.load(x_ptr + lanes, mask=m, other=-1.0))


def test_wrapped_int32_offsets_are_masked_per_lane():
    """In exact arithmetic every lane is > 0; in int32 the last lanes wrap negative and are off."""
    block = 64
    x = torch.randn(block)
    out = torch.zeros(block)
    base = 2**31 - 16
    wrap_kernel[(1,)](x, out, base, BLOCK=block)
    on = (torch.arange(block, dtype=torch.int64) + base) < 2**31
    torch.testing.assert_close(out, torch.where(on, x, torch.full_like(x, -1.0)))


@triton.jit
def tile_kernel(x_ptr, out_ptr, M, N, stride, BM: tl.constexpr, BN: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    m = (rm[:, None] < M) & (rn[None, :] < N)
    x = tl.load(x_ptr + rm[:, None] * stride + rn[None, :], mask=m, other=0.0)
    tl.store(out_ptr + rm[:, None] * stride + rn[None, :], tl.exp(x), mask=m)


@pytest.mark.parametrize("shape", [(64, 64), (50, 70), (33, 128)])
def test_2d_tile_masks(shape):
    M, N = shape
    x = torch.randn(M, N)
    out = torch.zeros(M, N)
    tile_kernel[(triton.cdiv(M, 16), triton.cdiv(N, 32))](x, out, M, N, N, BM=16, BN=32)
    torch.testing.assert_close(out, torch.exp(x))


@triton.jit
def flag_kernel(x_ptr, out_ptr, n, limit, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    live = pid < limit           # one flag for the whole program, splat to the lanes
    m = (offs < n) & live
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m, other=5.0), mask=offs < n)


def test_program_flag_masks():
    n, block = 1000, 128
    x = torch.randn(n)
    out = torch.zeros(n)
    flag_kernel[(triton.cdiv(n, block),)](x, out, n, 3, BLOCK=block)
    expect = torch.where(torch.arange(n) < 3 * block, x, torch.full_like(x, 5.0))
    torch.testing.assert_close(out, expect)
