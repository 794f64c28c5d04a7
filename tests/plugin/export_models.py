"""Small models mixing torch graph code and user Triton kernels, for the export tests.

Also a factory module for the CLI test: `turbine-triton export export_models.py:gelu_factory`.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch.library import triton_op, wrap_triton


# --- linear + fused bias/GELU, as a `triton_op` with `wrap_triton`
@triton.jit
def bias_gelu_kernel(x_ptr, b_ptr, out_ptr, n, N: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    b = tl.load(b_ptr + offs % N, mask=m)
    y = x + b
    out = 0.5 * y * (1.0 + tl.erf(y * 0.7071067811865476))
    tl.store(out_ptr + offs, out, mask=m)


@triton_op("turbine_export_test::bias_gelu", mutates_args={})
def bias_gelu(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    n = x.numel()
    wrap_triton(bias_gelu_kernel)[(triton.cdiv(n, 128),)](x, b, out, n, N=b.numel(), BLOCK=128)
    return out


class LinearBiasGelu(torch.nn.Module):
    """y = gelu(x @ W^T + b), the bias add and GELU fused in one Triton kernel."""

    def __init__(self, k=64, n=32):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n, k) / k ** 0.5)
        self.bias = torch.nn.Parameter(torch.randn(n))

    def forward(self, x):
        return bias_gelu(x @ self.weight.t(), self.bias)

    def reference(self, x):
        return torch.nn.functional.gelu(x @ self.weight.t() + self.bias)


def gelu_factory():
    """CLI factory: (model, example args)."""
    torch.manual_seed(0)
    return LinearBiasGelu(), (torch.randn(4, 64),)


# --- layernorm between two matmuls, launched plainly inside forward
@triton.jit
def layernorm_kernel(x_ptr, w_ptr, b_ptr, out_ptr, stride, N, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    m = cols < N
    x = tl.load(x_ptr + row * stride + cols, mask=m, other=0.0)
    mean = tl.sum(x, axis=0) / N
    d = tl.where(m, x - mean, 0.0)
    var = tl.sum(d * d, axis=0) / N
    rstd = 1.0 / tl.sqrt(var + eps)
    w = tl.load(w_ptr + cols, mask=m)
    b = tl.load(b_ptr + cols, mask=m)
    tl.store(out_ptr + row * stride + cols, d * rstd * w + b, mask=m)


class MatmulLayernormMatmul(torch.nn.Module):
    def __init__(self, k=48, h=64, n=16):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(k, h) / k ** 0.5)
        self.w2 = torch.nn.Parameter(torch.randn(h, n) / h ** 0.5)
        self.ln_w = torch.nn.Parameter(torch.rand(h) + 0.5)
        self.ln_b = torch.nn.Parameter(torch.randn(h))

    def forward(self, x):
        h = x @ self.w1
        out = torch.empty_like(h)
        rows, cols = h.shape
        layernorm_kernel[(rows,)](h, self.ln_w, self.ln_b, out, h.stride(0), cols, 1e-5,
                                  BLOCK=triton.next_power_of_2(cols))
        return out @ self.w2

    def reference(self, x):
        h = torch.nn.functional.layer_norm(x @ self.w1, (self.w1.shape[1],), self.ln_w, self.ln_b, 1e-5)
        return h @ self.w2


# --- a kernel that writes in place
@triton.jit
def scale_shift_inplace_kernel(x_ptr, n, scale, shift, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(x_ptr + offs, x * scale + shift, mask=m)


class InplaceAfterMatmul(torch.nn.Module):
    """h = x @ W; the kernel rewrites h in place; then more graph code reads it."""

    def __init__(self, k=32, n=24):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(k, n) / k ** 0.5)

    def forward(self, x):
        h = x @ self.w
        n = h.numel()
        scale_shift_inplace_kernel[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](h, n, 2.0, -0.5, BLOCK=64)
        return torch.relu(h) + 1.0

    def reference(self, x):
        return torch.relu((x @ self.w) * 2.0 - 0.5) + 1.0


def inplace_on_input(x):
    """The kernel writes the caller's input; the function returns a new tensor too."""
    n = x.numel()
    scale_shift_inplace_kernel[(triton.cdiv(n, 64),)](x, n, 3.0, 1.0, BLOCK=64)
    return x.sum(dim=-1)


# --- a kernel with a device assert (the CPU lowering adds a hidden status buffer)
@triton.jit(debug=True)
def checked_relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    tl.device_assert(x == x, "nan input")
    tl.store(out_ptr + offs, tl.maximum(x, 0.0), mask=m)


def checked_relu_plus_one(x):
    out = torch.empty_like(x)
    n = x.numel()
    checked_relu_kernel[(triton.cdiv(n, 64),)](x, out, n, BLOCK=64)
    return out + 1.0
