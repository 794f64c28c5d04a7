"""Scans and shape ops (join, split, cat, gather, histogram, trans, permute, sort, flip) vs torch."""
import pytest
import torch
import triton
import triton.language as tl


@triton.jit
def _mul_combine(a, b):
    return a * b


@triton.jit
def scan_kernel(x_ptr, out_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr, OP: tl.constexpr,
                REVERSE: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + offs)
    if OP == "cumsum":
        y = tl.cumsum(x, axis=AXIS, reverse=REVERSE)
    else:
        y = tl.associative_scan(x, AXIS, _mul_combine, reverse=REVERSE)
    tl.store(out_ptr + offs, y)


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("reverse", [False, True])
def test_scans(op, axis, reverse):
    x = torch.randint(-3, 4, (8, 16)).float() if op == "cumsum" else (torch.rand(8, 16) + 0.5)
    out = torch.zeros(8, 16)
    scan_kernel[(1,)](x, out, M=8, N=16, AXIS=axis, OP=op, REVERSE=reverse)
    src = x.flip(axis) if reverse else x
    ref = src.cumsum(axis) if op == "cumsum" else src.cumprod(axis)
    ref = ref.flip(axis) if reverse else ref
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)



@triton.jit
def _argmax_combine(v0, i0, v1, i1):
    gt = v0 > v1
    return tl.where(gt, v0, v1), tl.where(gt, i0, i1)


@triton.jit
def scan_index_kernel(x_ptr, out_ptr, idx_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr,
                      REVERSE: tl.constexpr):
    rm = tl.arange(0, M)[:, None]
    rn = tl.arange(0, N)[None, :]
    x = tl.load(x_ptr + rm * N + rn)
    pos = tl.broadcast_to((rm if AXIS == 0 else rn).to(tl.int64), [M, N])
    v, i = tl.associative_scan((x, pos), AXIS, _argmax_combine, reverse=REVERSE)
    tl.store(out_ptr + rm * N + rn, v)
    tl.store(idx_ptr + rm * N + rn, i)


@pytest.mark.parametrize("shape", [(256, 4), (4, 256), (128, 1)])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("reverse", [False, True])
def test_running_max_with_index_on_tall_and_wide_tiles(shape, axis, reverse):
    """Two-operand scans on tiles with many rows (the loop form) and few (the vector form)."""
    m, n = shape
    x = torch.randn(m, n)
    out, idx = torch.empty(m, n), torch.empty(m, n, dtype=torch.int64)
    scan_index_kernel[(1,)](x, out, idx, M=m, N=n, AXIS=axis, REVERSE=reverse)
    src = x.flip(axis) if reverse else x
    ref = torch.cummax(src, axis)
    ref_v, ref_i = ref.values, ref.indices
    if reverse:
        ref_v, ref_i = ref_v.flip(axis), src.shape[axis] - 1 - ref_i.flip(axis)
    torch.testing.assert_close(out, ref_v)
    torch.testing.assert_close(idx, ref_i)


@triton.jit
def join_split_kernel(a_ptr, b_ptr, out_ptr, sum_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    a, b = tl.load(a_ptr + offs), tl.load(b_ptr + offs)
    j = tl.join(a, b)                      # [N, 2]
    tl.store(out_ptr + tl.arange(0, N)[:, None] * 2 + tl.arange(0, 2)[None, :], j)
    x, y = tl.split(j)
    tl.store(sum_ptr + offs, x * 10 + y)


def test_join_and_split():
    a, b = torch.randn(16), torch.randn(16)
    out, s = torch.zeros(16, 2), torch.zeros(16)
    join_split_kernel[(1,)](a, b, out, s, N=16)
    torch.testing.assert_close(out, torch.stack([a, b], 1))
    torch.testing.assert_close(s, a * 10 + b)


@triton.jit
def cat_trans_kernel(a_ptr, b_ptr, out_ptr, t_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    c = tl.cat(tl.load(a_ptr + offs), tl.load(b_ptr + offs), can_reorder=False)
    tl.store(out_ptr + tl.arange(0, 2 * N), c)
    m = tl.load(a_ptr + tl.arange(0, 4)[:, None] * 4 + tl.arange(0, 4)[None, :])
    tl.store(t_ptr + tl.arange(0, 4)[:, None] * 4 + tl.arange(0, 4)[None, :], tl.trans(m))


def test_cat_and_trans():
    a, b = torch.randn(16), torch.randn(16)
    out, t = torch.zeros(32), torch.zeros(4, 4)
    cat_trans_kernel[(1,)](a, b, out, t, N=16)
    torch.testing.assert_close(out, torch.cat([a, b]))
    torch.testing.assert_close(t, a.view(4, 4).t())


@triton.jit
def gather_kernel(src_ptr, idx_ptr, out_ptr, M: tl.constexpr, N: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    src = tl.load(src_ptr + offs)
    idx = tl.load(idx_ptr + offs)
    tl.store(out_ptr + offs, tl.gather(src, idx, axis=1))


def test_gather_along_axis():
    src = torch.randn(4, 8)
    idx = torch.randint(0, 8, (4, 8), dtype=torch.int32)
    out = torch.zeros(4, 8)
    gather_kernel[(1,)](src, idx, out, M=4, N=8)
    torch.testing.assert_close(out, torch.gather(src, 1, idx.long()))


@triton.jit
def gather_1d_kernel(src_ptr, idx_ptr, out_ptr, N: tl.constexpr, K: tl.constexpr):
    src = tl.load(src_ptr + tl.arange(0, N))
    idx = tl.load(idx_ptr + tl.arange(0, K))
    tl.store(out_ptr + tl.arange(0, K), tl.gather(src, idx, 0))


def test_gather_1d():
    src = torch.randn(16)
    idx = torch.randint(0, 16, (32,), dtype=torch.int32)
    out = torch.zeros(32)
    gather_1d_kernel[(1,)](src, idx, out, N=16, K=32)
    torch.testing.assert_close(out, src[idx.long()])


@triton.jit
def histogram_kernel(x_ptr, out_ptr, N: tl.constexpr, BINS: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(out_ptr + tl.arange(0, BINS), tl.histogram(x, BINS))


def test_histogram():
    x = torch.randint(0, 8, (64,), dtype=torch.int32)
    out = torch.zeros(8, dtype=torch.int32)
    histogram_kernel[(1,)](x, out, N=64, BINS=8)
    torch.testing.assert_close(out, torch.bincount(x, minlength=8).int())


@triton.jit
def sort_flip_kernel(x_ptr, sorted_ptr, flipped_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, N))
    tl.store(sorted_ptr + tl.arange(0, N), tl.sort(x))
    tl.store(flipped_ptr + tl.arange(0, N), tl.flip(x, 0))


def test_sort_and_flip():
    x = torch.randn(32)
    s, f = torch.zeros(32), torch.zeros(32)
    sort_flip_kernel[(1,)](x, s, f, N=32)
    torch.testing.assert_close(s, x.sort().values)
    torch.testing.assert_close(f, x.flip(0))


@triton.jit
def permute4d_kernel(in_ptr, out_ptr, S0: tl.constexpr, S1: tl.constexpr, S2: tl.constexpr, S3: tl.constexpr,
                     P0: tl.constexpr, P1: tl.constexpr, P2: tl.constexpr, P3: tl.constexpr):
    i = tl.arange(0, S0 * S1 * S2 * S3)
    v = tl.load(in_ptr + i).reshape(S0, S1, S2, S3).permute((P0, P1, P2, P3))
    tl.store(out_ptr + i, v.reshape(S0 * S1 * S2 * S3))


@pytest.mark.parametrize("perm", [(3, 1, 0, 2), (0, 2, 1, 3), (1, 0, 3, 2)])
def test_permute_4d(perm):
    """Rank > 2 permutes go through a stack copy and gathers (vector.transpose compiles for minutes)."""
    shape = (2, 2, 8, 16)
    x = torch.arange(512, dtype=torch.int32).reshape(shape)
    out = torch.zeros(512, dtype=torch.int32)
    permute4d_kernel[(1,)](x, out, *shape, *perm)
    assert torch.equal(out, x.permute(perm).reshape(-1))


@triton.jit
def bf16_cumsum_kernel(x_ptr, out_ptr, M: tl.constexpr, N: tl.constexpr, AXIS: tl.constexpr,
                       REVERSE: tl.constexpr):
    offs = tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :]
    tl.store(out_ptr + offs, tl.cumsum(tl.load(x_ptr + offs), axis=AXIS, reverse=REVERSE))


@pytest.mark.parametrize("shape, axis", [((8, 32), 1), ((256, 4), 0)])
@pytest.mark.parametrize("reverse", [False, True])
def test_bf16_cumsum_rounds_once(shape, axis, reverse):
    """bf16 scans accumulate in f32: every prefix is within one bf16 rounding (0.4%) of the exact
    sum; bf16 partial sums put a fifth of a 32-long row more than 1% off."""
    x = torch.randn(shape).bfloat16()
    out = torch.empty(shape)
    bf16_cumsum_kernel[(1,)](x, out, M=shape[0], N=shape[1], AXIS=axis, REVERSE=reverse)
    src = x.double().flip(axis) if reverse else x.double()
    ref = src.cumsum(axis)
    ref = ref.flip(axis) if reverse else ref
    torch.testing.assert_close(out.double(), ref, rtol=1e-2, atol=0)
