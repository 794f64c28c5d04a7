"""End-to-end kernels through `kernel[grid](...)`, checked against torch and the interpreter."""
import pytest
import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from triton.language.extra import libdevice

from ..conftest import interpret


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


@pytest.mark.parametrize("n,block", [(1, 16), (1000, 128), (4097, 1024)])
def test_vector_add_ragged_tail(n, block):
    x, y = torch.randn(n), torch.randn(n)
    out = torch.full((n,), 7.0)
    add_kernel[(triton.cdiv(n, block),)](x, y, out, n, BLOCK=block)
    torch.testing.assert_close(out, x + y)
    ref = interpret(add_kernel, (triton.cdiv(n, block),), x, y, torch.full((n,), 7.0), n, BLOCK=block)[2]
    torch.testing.assert_close(out, ref)


def test_written_tensor_is_callers_memory():
    n = 3000
    x, y, out = torch.randn(n), torch.randn(n), torch.zeros(n)
    ptr_before = out.data_ptr()
    add_kernel[(triton.cdiv(n, 512),)](x, y, out, n, BLOCK=512)
    assert out.data_ptr() == ptr_before
    torch.testing.assert_close(out, x + y)


def test_in_place_update_of_view_with_storage_offset():
    base = torch.zeros(100)
    view = base[13:77]
    x = torch.randn(64)
    add_kernel[(1,)](view, x, view, 64, BLOCK=64)
    expected = torch.zeros(100)
    expected[13:77] = x
    torch.testing.assert_close(base, expected)


@triton.jit
def copy2d_kernel(src, dst, M, N, s_m, s_n, d_m, d_n, BM: tl.constexpr, BN: tl.constexpr):
    pm, pn = tl.program_id(0), tl.program_id(1)
    rm = pm * BM + tl.arange(0, BM)[:, None]
    rn = pn * BN + tl.arange(0, BN)[None, :]
    m = (rm < M) & (rn < N)
    v = tl.load(src + rm * s_m + rn * s_n, mask=m)
    tl.store(dst + rm * d_m + rn * d_n, v * 2.0, mask=m)


@pytest.mark.parametrize("transpose", [False, True])
def test_strided_and_transposed_views(transpose):
    a = torch.randn(45, 70)
    src = a.t() if transpose else a[::2, 1::3]
    dst = torch.zeros(src.shape[1], src.shape[0]).t()  # a transposed destination too
    M, N = src.shape
    copy2d_kernel[(triton.cdiv(M, 16), triton.cdiv(N, 32))](
        src, dst, M, N, src.stride(0), src.stride(1), dst.stride(0), dst.stride(1), BM=16, BN=32)
    torch.testing.assert_close(dst, src * 2.0)


@triton.jit
def grid3d_kernel(out_ptr):
    x, y, z = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    nx, ny, nz = tl.num_programs(0), tl.num_programs(1), tl.num_programs(2)
    idx = (z * ny + y) * nx + x
    tl.store(out_ptr + idx, idx * 1000 + nx * 100 + ny * 10 + nz)


@pytest.mark.parametrize("grid", [(5,), (3, 4), (2, 3, 4)])
def test_grids_with_num_programs(grid):
    g = tuple(grid) + (1,) * (3 - len(grid))
    n = g[0] * g[1] * g[2]
    out = torch.full((n,), -1, dtype=torch.int32)
    grid3d_kernel[grid](out)
    ref = interpret(grid3d_kernel, grid, torch.full((n,), -1, dtype=torch.int32))[0]
    torch.testing.assert_close(out, ref)
    assert out[-1].item() == (n - 1) * 1000 + g[0] * 100 + g[1] * 10 + g[2]


@triton.jit
def index_math_kernel(in_ptr, out_ptr, xnumel, D1: tl.constexpr, D2: tl.constexpr, XBLOCK: tl.constexpr):
    xoffset = tl.program_id(0) * XBLOCK
    xindex = xoffset + tl.arange(0, XBLOCK)
    xmask = xindex < xnumel
    x0 = xindex % D2
    x1 = (xindex // D2) % D1
    x2 = xindex // (D1 * D2)
    # permute (a, b, c) -> (c, a, b): Inductor-style div/rem index math
    src = x1 * D2 + x0 + x2 * D1 * D2
    dst = x0 * (xnumel // D2) + x2 * D1 + x1
    v = tl.load(in_ptr + src, mask=xmask, other=0.0)
    tl.store(out_ptr + dst, v, mask=xmask)


def test_integer_index_math_div_rem():
    a = torch.randn(6, 5, 7)
    out = torch.zeros(7, 6, 5)
    n = a.numel()
    index_math_kernel[(triton.cdiv(n, 64),)](a, out, n, D1=5, D2=7, XBLOCK=64)
    torch.testing.assert_close(out, a.permute(2, 0, 1))


@triton.jit
def softmax_kernel(out_ptr, in_ptr, in_stride, out_stride, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    m = cols < n_cols
    x = tl.load(in_ptr + row * in_stride + cols, mask=m, other=-float("inf"))
    x = x - tl.max(x, axis=0)
    e = tl.exp(x)
    tl.store(out_ptr + row * out_stride + cols, e / tl.sum(e, axis=0), mask=m)


@pytest.mark.parametrize("rows,cols", [(1, 1), (37, 100), (128, 1024)])
def test_fused_softmax(rows, cols):
    x = torch.randn(rows, cols) * 3
    out = torch.empty_like(x)
    block = triton.next_power_of_2(cols)
    softmax_kernel[(rows,)](out, x, x.stride(0), out.stride(0), cols, BLOCK=block)
    torch.testing.assert_close(out, torch.softmax(x, dim=1))


@triton.jit
def layernorm_kernel(X, Y, W, B, stride, N, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    X += row * stride
    Y += row * stride
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        acc += tl.load(X + cols, mask=cols < N, other=0.).to(tl.float32)
    mean = tl.sum(acc, axis=0) / N
    var_acc = tl.zeros([BLOCK], dtype=tl.float32)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        a = tl.load(X + cols, mask=cols < N, other=0.).to(tl.float32)
        a = tl.where(cols < N, a - mean, 0.)
        var_acc += a * a
    rstd = 1 / tl.sqrt(tl.sum(var_acc, axis=0) / N + eps)
    for off in range(0, N, BLOCK):
        cols = off + tl.arange(0, BLOCK)
        mask = cols < N
        w = tl.load(W + cols, mask=mask)
        b = tl.load(B + cols, mask=mask)
        x = tl.load(X + cols, mask=mask, other=0.).to(tl.float32)
        tl.store(Y + cols, (x - mean) * rstd * w + b, mask=mask)


@pytest.mark.parametrize("rows,cols,block", [(8, 100, 32), (64, 1000, 256)])
def test_layernorm_column_loops(rows, cols, block):
    x = torch.randn(rows, cols)
    w, b = torch.randn(cols), torch.randn(cols)
    y = torch.empty_like(x)
    layernorm_kernel[(rows,)](x, y, w, b, x.stride(0), cols, 1e-5, BLOCK=block)
    torch.testing.assert_close(y, F.layer_norm(x, (cols,), w, b, 1e-5), atol=1e-4, rtol=1e-4)


@triton.jit
def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, scm, scn,
                  BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pid_m, pid_n = tl.program_id(0), tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k in range(0, tl.cdiv(K, BK)):
        ks = k * BK + rk
        a = tl.load(a_ptr + rm[:, None] * sam + ks[None, :] * sak,
                    mask=(rm[:, None] < M) & (ks[None, :] < K), other=0.)
        b = tl.load(b_ptr + ks[:, None] * sbk + rn[None, :] * sbn,
                    mask=(ks[:, None] < K) & (rn[None, :] < N), other=0.)
        acc += tl.dot(a, b)
    c = acc.to(c_ptr.dtype.element_ty)
    tl.store(c_ptr + rm[:, None] * scm + rn[None, :] * scn, c, mask=(rm[:, None] < M) & (rn[None, :] < N))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("M,N,K", [(70, 50, 40), (128, 96, 200)])
def test_matmul_k_loop_masks(dtype, M, N, K):
    a = torch.randn(M, K).to(dtype)
    b = torch.randn(K, N).to(dtype)
    c = torch.empty(M, N, dtype=dtype)
    grid = (triton.cdiv(M, 32), triton.cdiv(N, 32))
    args = (a, b, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1))
    matmul_kernel[grid](*args, BM=32, BN=32, BK=16)
    ref = (a.float() @ b.float()).to(dtype)
    tol = 1e-4 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(c, ref, atol=tol * K ** 0.5, rtol=tol)


@triton.jit
def libdevice_kernel(x_ptr, out_ptr, n, OP: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=1.0)
    if OP == "exp":
        y = libdevice.exp(x)
    elif OP == "rsqrt":
        y = libdevice.rsqrt(tl.abs(x) + 0.5)
    elif OP == "erf":
        y = libdevice.erf(x)
    elif OP == "tanh":
        y = libdevice.tanh(x)
    elif OP == "log1p":
        y = libdevice.log1p(tl.abs(x))
    elif OP == "isnan":
        y = libdevice.isnan(tl.where(x > 0.5, float("nan"), x)).to(tl.float32)
    elif OP == "sin":
        y = libdevice.sin(x)
    else:
        y = libdevice.pow(tl.abs(x), 1.5)
    tl.store(out_ptr + offs, y, mask=m)


_LIBDEVICE_REF = {
    "exp": torch.exp, "rsqrt": lambda x: torch.rsqrt(x.abs() + 0.5), "erf": torch.erf, "tanh": torch.tanh,
    "log1p": lambda x: torch.log1p(x.abs()), "isnan": lambda x: (x > 0.5).float(), "sin": torch.sin,
    "pow": lambda x: x.abs() ** 1.5,
}


@pytest.mark.parametrize("op", sorted(_LIBDEVICE_REF))
def test_libdevice_math(op):
    x = torch.randn(1000)
    out = torch.empty(1000)
    libdevice_kernel[(triton.cdiv(1000, 256),)](x, out, 1000, OP=op, BLOCK=256)
    torch.testing.assert_close(out, _LIBDEVICE_REF[op](x), atol=1e-5, rtol=1e-5)
