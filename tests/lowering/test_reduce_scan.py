"""tt.reduce: built-in and custom combines, any axis, multi-operand, against torch."""
import pytest
import torch
import triton
import triton.language as tl


@triton.jit
def reduce2d_kernel(x_ptr, out_ptr, idx_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr,
                    OP: tl.constexpr):
    rm = tl.arange(0, M)[:, None]
    rn = tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + rm * N + rn)
    if OP == "sum":
        r = tl.sum(x, axis=AXIS)
    elif OP == "max":
        r = tl.max(x, axis=AXIS)
    elif OP == "min":
        r = tl.min(x, axis=AXIS)
    elif OP == "argmax":
        r = tl.argmax(x, axis=AXIS).to(x.dtype)
    elif OP == "argmin":
        r = tl.argmin(x, axis=AXIS).to(x.dtype)
    else:
        r, i = tl.max(x, axis=AXIS, return_indices=True)
        OUT: tl.constexpr = N if AXIS == 0 else M
        tl.store(idx_ptr + tl.arange(0, OUT), i)
    OUTN: tl.constexpr = N if AXIS == 0 else M
    tl.store(out_ptr + tl.arange(0, OUTN), r)


_TORCH = {"sum": lambda x, a: x.sum(a).to(x.dtype), "max": lambda x, a: x.amax(a), "min": lambda x, a: x.amin(a),
          "argmax": lambda x, a: x.argmax(a).to(x.dtype), "argmin": lambda x, a: x.argmin(a).to(x.dtype),
          "max_with_indices": lambda x, a: x.amax(a)}


@pytest.mark.parametrize("op", sorted(_TORCH))
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int32])
def test_reduce_2d(op, axis, dtype):
    M, N = 8, 16
    x = torch.randint(-5, 5, (M, N)).to(dtype)  # small range: ties exercise tie-breaking
    n_out = N if axis == 0 else M
    out = torch.zeros(n_out, dtype=dtype)
    idx = torch.zeros(n_out, dtype=torch.int32)
    reduce2d_kernel[(1,)](x, out, idx, M=M, N=N, AXIS=axis, OP=op)
    torch.testing.assert_close(out, _TORCH[op](x, axis))
    if op == "max_with_indices":
        # Triton picks the first index among ties, like torch.argmax on CPU
        torch.testing.assert_close(idx, x.argmax(axis).to(torch.int32))


@triton.jit
def _welford_combine(m1, v1, c1, m2, v2, c2):
    c = c1 + c2
    d = m2 - m1
    w = tl.where(c == 0, 0.0, c2 / tl.where(c == 0, 1.0, c))
    return m1 + d * w, v1 + v2 + d * d * c1 * w, c


@triton.jit
def welford_kernel(x_ptr, mean_ptr, var_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    m, v, c = tl.reduce((x, tl.zeros_like(x), tl.full(x.shape, 1.0, tl.float32)), 0, _welford_combine)
    tl.store(mean_ptr, m)
    tl.store(var_ptr, v / c)


def test_custom_multi_operand_combine_welford():
    x = torch.randn(64)
    mean, var = torch.zeros(1), torch.zeros(1)
    welford_kernel[(1,)](x, mean, var, N=64)
    torch.testing.assert_close(mean[0], x.mean())
    torch.testing.assert_close(var[0], x.var(unbiased=False), atol=1e-5, rtol=1e-4)


@triton.jit
def rowsum3d_kernel(x_ptr, out_ptr, A: tl.constexpr, B: tl.constexpr, C: tl.constexpr):
    ia = tl.arange(0, A)[:, None, None]
    ib = tl.arange(0, B)[None, :, None]
    ic = tl.arange(0, C)[None, None, :]
    x = tl.load(x_ptr + ia * B * C + ib * C + ic)
    s = tl.sum(x, axis=1)
    tl.store(out_ptr + tl.arange(0, A)[:, None] * C + tl.arange(0, C)[None, :], s)


def test_reduce_middle_axis_of_3d():
    x = torch.randn(4, 8, 16)
    out = torch.zeros(4, 16)
    rowsum3d_kernel[(1,)](x, out, A=4, B=8, C=16)
    torch.testing.assert_close(out, x.sum(1), atol=1e-5, rtol=1e-5)
