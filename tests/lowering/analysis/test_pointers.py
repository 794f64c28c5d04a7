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


@triton.jit
def grouped_copy_kernel(in_ptr, out_ptr, M: tl.constexpr, N: tl.constexpr, BM: tl.constexpr,
                        BN: tl.constexpr, GROUP_M: tl.constexpr, ASSUME: tl.constexpr):
    # Inductor's mm template: grouped program ids, `tl.assume`, and rows/columns `% M`, `% N`
    pid = tl.program_id(0)
    grid_m = (M + BM - 1) // BM
    grid_n = (N + BN - 1) // BN
    width = GROUP_M * grid_n
    group_id = pid // width
    group_size = min(grid_m - group_id * GROUP_M, GROUP_M)
    pid_m = group_id * GROUP_M + (pid % group_size)
    pid_n = (pid % width) // group_size
    if ASSUME:
        tl.assume(pid_m >= 0)
        tl.assume(pid_n >= 0)
    rm = (pid_m * BM + tl.arange(0, BM)) % M
    rn = (pid_n * BN + tl.arange(0, BN)) % N
    v = tl.load(in_ptr + rm[:, None] * N + rn[None, :])
    tl.store(out_ptr + rm[:, None] * N + rn[None, :], v * 2)


@pytest.mark.parametrize("assume", [True, False])
def test_assumed_nonnegative_program_ids_keep_rows_contiguous(assume):
    """With `tl.assume(pid_m >= 0)`, `(pid_m * BM + arange) % M` is a row of contiguous lanes
    and the tile loads as vectors; without it, a gather; the same result both ways."""
    from turbine_triton.lowering.pipeline import lower
    from turbine_triton.triton_frontend.capture import capture_jit
    M, N, BM, BN = 96, 64, 32, 16
    x, out = torch.randn(M, N), torch.zeros(M, N)
    kw = dict(M=M, N=N, BM=BM, BN=BN, GROUP_M=2, ASSUME=assume)
    mlir = lower(capture_jit(grouped_copy_kernel, x, out, **kw)).mlir
    assert ("vector.gather" in mlir) != assume
    grouped_copy_kernel[((M // BM) * (N // BN),)](x, out, **kw)
    torch.testing.assert_close(out, x * 2)
