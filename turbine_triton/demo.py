"""Demo kernels (vector add, softmax, layernorm, matmul) and their host wrappers.

The CLI's `demo` and the benchmarks in `bench/` share these, so there is one
copy.  Each wrapper launches with `kernel[grid](...)` on CPU tensors, which
goes through the `cpu` Triton backend.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(x_ptr + offs, mask=mask)
    b = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, a + b, mask=mask)


@triton.jit
def softmax_kernel(x_ptr, out_ptr, x_row_stride, out_row_stride, n_cols,
                   BLOCK: tl.constexpr):
    # One program per row; the whole row fits in one block.
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * x_row_stride + cols, mask=mask, other=-float("inf"))
    x = x - tl.max(x, axis=0)
    num = tl.exp(x)
    y = num / tl.sum(num, axis=0)
    tl.store(out_ptr + row * out_row_stride + cols, y, mask=mask)


@triton.jit
def layernorm_kernel(x_ptr, w_ptr, b_ptr, out_ptr, row_stride, n_cols, eps,
                     BLOCK: tl.constexpr):
    # One program per row; rows wider than BLOCK are walked in column chunks.
    row = tl.program_id(0)
    x_row = x_ptr + row * row_stride
    out_row = out_ptr + row * row_stride

    total = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        total += tl.load(x_row + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
    mean = tl.sum(total, axis=0) / n_cols

    sq = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < n_cols
        v = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        d = tl.where(mask, v - mean, 0.0)
        sq += d * d
    rstd = 1.0 / tl.sqrt(tl.sum(sq, axis=0) / n_cols + eps)

    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < n_cols
        v = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + cols, mask=mask)
        b = tl.load(b_ptr + cols, mask=mask)
        tl.store(out_row + cols, (v - mean) * rstd * w + b, mask=mask)


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                  stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                  BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, EVEN: tl.constexpr = False):
    # EVEN: M, N and K are multiples of the block, so no load or store needs a mask
    # (masked tile loads cost as much as a third of the time here).
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rows = pid_m * BM + tl.arange(0, BM)
    cols = pid_n * BN + tl.arange(0, BN)
    ks = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k0 in range(0, K, BK):
        kk = k0 + ks
        a_ptrs = a_ptr + rows[:, None] * stride_am + kk[None, :] * stride_ak
        b_ptrs = b_ptr + kk[:, None] * stride_bk + cols[None, :] * stride_bn
        if EVEN:
            a = tl.load(a_ptrs)
            b = tl.load(b_ptrs)
        else:
            a = tl.load(a_ptrs, mask=(rows[:, None] < M) & (kk[None, :] < K), other=0.0)
            b = tl.load(b_ptrs, mask=(kk[:, None] < K) & (cols[None, :] < N), other=0.0)
        acc += tl.dot(a, b)
    c_ptrs = c_ptr + rows[:, None] * stride_cm + cols[None, :] * stride_cn
    if EVEN:
        tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty))
    else:
        tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=(rows[:, None] < M) & (cols[None, :] < N))


# Tile sizes for the host wrappers; chosen for the CPU, not a GPU.
LN_BLOCK = 1024
MM_BM, MM_BN, MM_BK = 64, 128, 32


def add(x, y, out, BLOCK=1024):
    """`out = x + y` on 1-D contiguous tensors, one program per BLOCK elements."""
    n = out.numel()
    add_kernel[(triton.cdiv(n, BLOCK),)](x, y, out, n, BLOCK=BLOCK)
    return out


def softmax(x, out):
    """Row softmax of a 2-D tensor into `out`, one program per row."""
    rows, cols = x.shape
    softmax_kernel[(rows,)](x, out, x.stride(0), out.stride(0), cols,
                            BLOCK=triton.next_power_of_2(cols))
    return out


def layernorm(x, w, b, eps, out):
    """Layer norm over the last dim of a 2-D contiguous tensor, one program per row."""
    rows, cols = x.shape
    block = min(LN_BLOCK, triton.next_power_of_2(cols))
    layernorm_kernel[(rows,)](x, w, b, out, x.stride(0), cols, eps, BLOCK=block)
    return out


def matmul(a, b, out):
    """`out = a @ b` for 2-D tensors with `tl.dot` tiles."""
    M, K = a.shape
    _, N = b.shape
    grid = (triton.cdiv(M, MM_BM), triton.cdiv(N, MM_BN))
    even = M % MM_BM == 0 and N % MM_BN == 0 and K % MM_BK == 0
    matmul_kernel[grid](a, b, out, M, N, K,
                        a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                        out.stride(0), out.stride(1),
                        BM=MM_BM, BN=MM_BN, BK=MM_BK, EVEN=even)
    return out
