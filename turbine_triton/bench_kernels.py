"""Benchmark-only Triton kernels (RMS norm, flash attention, an FMA probe, an autotuned add) and their wrappers.

The demo kernels (add, softmax, layernorm, matmul) live in `turbine_triton.demo`;
`turbine_triton.bench_workloads` combines both into timed workloads.  Every
wrapper launches with `kernel[grid](...)` on CPU tensors, i.e. through the
`cpu` Triton backend.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


# The demo's add as a Triton user would tune it: the autotuner picks BLOCK per size.  Bigger
# programs stream longer runs per worker (IREE hands out workgroups 8 at a time).
@triton.autotune(configs=[triton.Config({"BLOCK": b}) for b in (1024, 4096, 8192, 16384)], key=["n"])
@triton.jit
def add_tuned_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) + tl.load(y_ptr + offs, mask=mask), mask=mask)


def add_tuned(x, y, out):
    """`out = x + y` on 1-D contiguous tensors with an autotuned BLOCK."""
    n = out.numel()
    add_tuned_kernel[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](x, y, out, n)
    return out


@triton.jit
def rmsnorm_kernel(x_ptr, w_ptr, out_ptr, row_stride, n_cols, eps, BLOCK: tl.constexpr):
    # One program per row; rows wider than BLOCK are walked in column chunks.
    row = tl.program_id(0)
    x_row = x_ptr + row * row_stride
    out_row = out_ptr + row * row_stride
    sq = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        v = tl.load(x_row + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
        sq += v * v
    rstd = 1.0 / tl.sqrt(tl.sum(sq, axis=0) / n_cols + eps)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < n_cols
        v = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + cols, mask=mask)
        tl.store(out_row + cols, v * rstd * w, mask=mask)


@triton.jit
def attention_fwd_kernel(q_ptr, k_ptr, v_ptr, o_ptr, seq, qk_scale, stride_bh, stride_s,
                         BM: tl.constexpr, BN: tl.constexpr, D: tl.constexpr):
    # Flash-attention forward: one program per (BM query rows, batch*head); keys are
    # streamed BN at a time with an online softmax (running max m_i, running sum l_i).
    # qk_scale already includes log2(e), so exp2 is the softmax's exp.
    pid_m = tl.program_id(0)
    base = tl.program_id(1).to(tl.int64) * stride_bh
    offs_m = pid_m * BM + tl.arange(0, BM)
    offs_n = tl.arange(0, BN)
    offs_d = tl.arange(0, D)
    q = tl.load(q_ptr + base + offs_m[:, None] * stride_s + offs_d[None, :],
                mask=offs_m[:, None] < seq, other=0.0)
    m_i = tl.full([BM], -float("inf"), dtype=tl.float32)
    l_i = tl.zeros([BM], dtype=tl.float32)
    acc = tl.zeros([BM, D], dtype=tl.float32)
    for start in range(0, seq, BN):
        n = start + offs_n
        kt = tl.load(k_ptr + base + n[None, :] * stride_s + offs_d[:, None],
                     mask=n[None, :] < seq, other=0.0)
        qk = tl.dot(q, kt) * qk_scale
        qk = tl.where(n[None, :] < seq, qk, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(qk, axis=1))
        p = tl.exp2(qk - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        v = tl.load(v_ptr + base + n[:, None] * stride_s + offs_d[None, :],
                    mask=n[:, None] < seq, other=0.0)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    acc = acc / l_i[:, None]
    tl.store(o_ptr + base + offs_m[:, None] * stride_s + offs_d[None, :],
             acc.to(o_ptr.dtype.element_ty), mask=offs_m[:, None] < seq)


@triton.jit
def fma_peak_kernel(out_ptr, a, b, ITERS: tl.constexpr, BLOCK: tl.constexpr):
    # Register-resident FMA chains: no memory traffic inside the loop, BLOCK lanes
    # of independent work so the FMA pipes (not their latency) are the limit.
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = offs.to(tl.float32) * 1e-6
    y = x + 0.5
    for _ in range(ITERS):
        x = tl.fma(x, a, b)
        y = tl.fma(y, a, b)
    tl.store(out_ptr + offs, x + y)


RMS_BLOCK = 1024
ATTN_BM, ATTN_BN = 16, 32
LOG2E = 1.4426950408889634


def rmsnorm(x, w, eps, out):
    """RMS norm over the last dim of a 2-D contiguous tensor, one program per row."""
    rows, cols = x.shape
    block = min(RMS_BLOCK, triton.next_power_of_2(cols))
    rmsnorm_kernel[(rows,)](x, w, out, x.stride(0), cols, eps, BLOCK=block)
    return out


def attention(q, k, v, out, kernel=attention_fwd_kernel):
    """Non-causal softmax(q k^T / sqrt(d)) v for contiguous [BH, S, D] tensors.

    `kernel` may be swapped for an interpreted copy of the same kernel."""
    bh, seq, d = q.shape
    grid = (triton.cdiv(seq, ATTN_BM), bh)
    kernel[grid](q, k, v, out, seq, LOG2E / d ** 0.5, q.stride(0), q.stride(1),
                 BM=ATTN_BM, BN=ATTN_BN, D=d)
    return out


def fma_peak(out, iters, block, a=0.999, b=1e-3):
    """Run the FMA probe over `out` (numel a multiple of `block`); returns its flop count."""
    fma_peak_kernel[(out.numel() // block,)](out, a, b, ITERS=iters, BLOCK=block)
    return 2 * 2 * iters * out.numel()


def attention_reference(q, k, v):
    """Eager torch's attention on the same [BH, S, D] layout."""
    return torch.nn.functional.scaled_dot_product_attention(q, k, v)
