"""Affine forms through `//` and `%`: Inductor-style permuted indexing reads the right elements
whether or not the lanes of a chunk or a row cross a multiple of the divisor, against torch."""
import pytest
import torch
import triton
import triton.language as tl


@triton.jit
def permute_kernel(in_ptr, out_ptr, A: tl.constexpr, B: tl.constexpr, C: tl.constexpr, SHIFT: tl.constexpr,
                   XBLOCK: tl.constexpr):
    # out[b, a, c] = in[a, b, c] + 1 for a contiguous in of shape (A, B, C), written flat
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK) + SHIFT
    xmask = xindex < A * B * C
    x0 = xindex % C
    x1 = (xindex // C) % A
    x2 = xindex // (C * A)
    v = tl.load(in_ptr + (x0 + C * x2 + (B * C) * x1), xmask, other=0.0)
    tl.store(out_ptr + xindex, v + 1, xmask)


@pytest.mark.parametrize("shape", [(8, 16, 512), (3, 5, 100), (4, 6, 48), (2, 3, 32)])
@pytest.mark.parametrize("xblock", [128, 1024])
def test_permuted_reads(shape, xblock):
    A, B, C = shape
    x = torch.randn(A, B, C)
    n = A * B * C
    out = torch.full((n,), 99.0)
    permute_kernel[(triton.cdiv(n, xblock),)](x, out, A, B, C, SHIFT=0, XBLOCK=xblock)
    torch.testing.assert_close(out, (x.permute(1, 0, 2) + 1).reshape(-1))


def test_unaligned_base_is_not_assumed_aligned():
    """A shift of 1 (the base is a multiple of nothing) puts lanes across multiples of C."""
    A, B, C = 8, 16, 512
    x = torch.randn(A, B, C)
    n = A * B * C
    out = torch.full((n + 1,), 99.0)
    permute_kernel[(triton.cdiv(n, 128),)](x, out, A, B, C, SHIFT=1, XBLOCK=128)
    ref = torch.full((n + 1,), 99.0)
    idx = torch.arange(1, n)                  # lanes 1..n-1 are in range
    x0, x1, x2 = idx % C, (idx // C) % A, idx // (C * A)
    ref[idx] = x.reshape(-1)[x0 + C * x2 + B * C * x1] + 1
    torch.testing.assert_close(out, ref)


@triton.jit
def rows_kernel(in_ptr, w_ptr, out_ptr, xnumel, R: tl.constexpr, G: tl.constexpr, XBLOCK: tl.constexpr):
    # Inductor's reduction shape: rows x0 = x % G, x1 = x // G read a (G, xnumel // G, R) tensor as rows
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    rindex = tl.arange(0, R)[None, :]
    xmask = xindex < xnumel
    x0 = xindex % G
    x1 = xindex // G
    v = tl.load(in_ptr + (rindex + R * x1 + (R * (xnumel // G)) * x0), xmask, other=0.0)
    w = tl.load(w_ptr + rindex)
    s = tl.sum(v * w, 1)[:, None]
    tl.store(out_ptr + (rindex + R * xindex), v - s / R, xmask)


@pytest.mark.parametrize("g", [256, 8, 3])
def test_row_reads_with_div_mod_row_index(g):
    rows, R = 768, 64
    x = torch.randn(g, rows // g, R)
    w = torch.randn(R)
    out = torch.zeros(rows, R)
    rows_kernel[(triton.cdiv(rows, 8),)](x, w, out, rows, R=R, G=g, XBLOCK=8)
    v = x.permute(1, 0, 2).reshape(rows, R)
    torch.testing.assert_close(out, v - (v * w).sum(1, keepdim=True) / R, atol=1e-5, rtol=1e-5)
