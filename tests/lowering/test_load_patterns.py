"""Loads without gathers (`lowering/ops/load_patterns.py`): broadcast rows, indices read from
memory, small strides and transposed tiles.

Each kernel runs through our backend against torch or Triton's interpreter, and its lowered
module is checked for `vector.gather`, so the pattern under test is the one taken.
"""
import torch
import triton
import triton.language as tl

from turbine_triton.lowering import orientation
from turbine_triton.lowering.pipeline import lower
from turbine_triton.triton_frontend.capture import capture_jit

from ..conftest import interpret


def _lowered(fn, *args, **kw):
    return lower(capture_jit(fn, *args, **kw)).mlir


# --- broadcast rows: every lane of a row reads one address -----------------------------------

@triton.jit
def channel_affine_kernel(x_ptr, w_ptr, b_ptr, out_ptr, xnumel, HW: tl.constexpr, C: tl.constexpr,
                          XBLOCK: tl.constexpr):
    # Inductor's eval batch norm: per-channel parameters at (x // HW) % C
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)
    xmask = xindex < xnumel
    c = (xindex // HW) % C
    x = tl.load(x_ptr + xindex, xmask, other=0.0)
    w = tl.load(w_ptr + c, xmask, eviction_policy="evict_last", other=0.0)
    b = tl.load(b_ptr + c, xmask, eviction_policy="evict_last", other=0.0)
    tl.store(out_ptr + xindex, x * w + b, xmask)


def test_per_channel_loads_are_broadcast_not_gathered():
    n, c, hw = 3, 6, 64
    x, w, b = torch.randn(n, c, hw), torch.randn(c), torch.randn(c)
    out = torch.empty_like(x)
    numel = x.numel() - 40          # a tail: the last program's mask is partly off
    grid = (triton.cdiv(numel, 256),)
    channel_affine_kernel[grid](x, w, b, out.fill_(7.0), numel, HW=hw, C=c, XBLOCK=256)
    ref = (x * w[:, None] + b[:, None]).flatten()
    torch.testing.assert_close(out.flatten()[:numel], ref[:numel])
    assert (out.flatten()[numel:] == 7.0).all()
    assert "vector.gather" not in _lowered(channel_affine_kernel, x, w, b, out, numel, HW=hw, C=c, XBLOCK=256)


@triton.jit
def row_scale_kernel(x_ptr, s_ptr, out_ptr, n_rows, n_cols, XBLOCK: tl.constexpr, RBLOCK: tl.constexpr):
    rows = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    cols = tl.arange(0, RBLOCK)[None, :]
    m = (rows < n_rows) & (cols < n_cols)
    s = tl.load(s_ptr + (rows + 0 * cols), m, other=0.0)      # one address per row, broadcast
    x = tl.load(x_ptr + rows * n_cols + cols, m, other=0.0)
    tl.store(out_ptr + rows * n_cols + cols, x * s, m)


def test_per_row_broadcast_loads_with_masks():
    x, s = torch.randn(13, 50), torch.randn(13)
    out = torch.zeros_like(x)
    row_scale_kernel[(triton.cdiv(13, 4),)](x, s, out, 13, 50, XBLOCK=4, RBLOCK=64)
    torch.testing.assert_close(out, x * s[:, None])
    assert "vector.gather" not in _lowered(row_scale_kernel, x, s, out, 13, 50, XBLOCK=4, RBLOCK=64)


@triton.jit
def embedding_kernel(idx_ptr, w_ptr, out_ptr, V: tl.constexpr, D: tl.constexpr, XBLOCK: tl.constexpr):
    # Inductor's embedding: a row index read from memory, wrapped when negative
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)
    idx = tl.load(idx_ptr + xindex // D)
    idx = tl.where(idx < 0, idx + V, idx)
    tl.store(out_ptr + xindex, tl.load(w_ptr + (idx * D + xindex % D)) * 2.0)


def test_rows_indexed_by_loaded_values_stay_contiguous():
    v, d, n = 50, 64, 24
    w = torch.randn(v, d)
    idx = torch.randint(-v, v, (n,))
    out = torch.empty(n, d)
    embedding_kernel[(n * d // 128,)](idx, w, out, V=v, D=d, XBLOCK=128)
    torch.testing.assert_close(out, w[idx] * 2.0)
    assert "vector.gather" not in _lowered(embedding_kernel, idx, w, out, V=v, D=d, XBLOCK=128)


@triton.jit
def masked_index_kernel(idx_ptr, w_ptr, out_ptr, n, D: tl.constexpr, XBLOCK: tl.constexpr):
    # masked-off lanes read `other`, so the loaded index is not uniform there: still correct
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)
    m = xindex < n
    idx = tl.load(idx_ptr + xindex // D, m, other=3)
    tl.store(out_ptr + xindex, tl.load(w_ptr + (idx * D + xindex % D)))


def test_masked_index_loads_against_interpreter():
    d, rows = 32, 10
    w = torch.randn(8, d)
    idx = torch.randint(0, 8, (rows,))
    n = rows * d - 20
    out = torch.zeros(rows * d)
    args = (idx, w, out, n)
    masked_index_kernel[(triton.cdiv(rows * d, 64),)](*args, D=d, XBLOCK=64)
    ref = interpret(masked_index_kernel, (triton.cdiv(rows * d, 64),), *args, D=d, XBLOCK=64)
    torch.testing.assert_close(out, ref[2])


@triton.jit
def pool_kernel(x_ptr, out_ptr, n_rows, W: tl.constexpr, K: tl.constexpr, XBLOCK: tl.constexpr):
    # Inductor's pooling: each output reads K neighbours at stride K along a row
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)
    m = xindex < n_rows * (W // K)
    x0 = xindex % (W // K)
    x1 = xindex // (W // K)
    acc = tl.load(x_ptr + (K * x0 + W * x1), m, other=0.0)
    for j in tl.static_range(1, K):
        acc += tl.load(x_ptr + (j + K * x0 + W * x1), m, other=0.0)
    tl.store(out_ptr + xindex, acc / K, m)


def test_strided_loads_keep_every_kth_lane():
    for k in (2, 3, 4):
        w, rows = 64 * k, 7          # output rows of 64: a 32-lane chunk stays in one row
        x = torch.randn(rows, w)
        out = torch.full((rows * (w // k),), 5.0)
        n = rows * (w // k) - 3                      # a tail: the last lanes are off
        pool_kernel[(triton.cdiv(rows * (w // k), 64),)](x, out, rows, W=w, K=k, XBLOCK=64)
        ref = x.reshape(rows, w // k, k).mean(-1).flatten()
        torch.testing.assert_close(out, ref)
        # the last element of x is the last one read: a wider plain load would run past it
        assert "vector.gather" not in _lowered(pool_kernel, x, out, rows, W=w, K=k, XBLOCK=64)


@triton.jit
def column_sum_kernel(x_ptr, out_ptr, n_rows, n_cols, XBLOCK: tl.constexpr, RBLOCK: tl.constexpr):
    # Inductor's outer reduction: x (a column) is contiguous, r walks the rows
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    xmask = xindex < n_cols
    rbase = tl.arange(0, RBLOCK)[None, :]
    acc = tl.full([XBLOCK, RBLOCK], 0, tl.float32)
    for roff in range(0, n_rows, RBLOCK):
        r = roff + rbase
        v = tl.load(x_ptr + (xindex + n_cols * r), xmask & (r < n_rows), other=0.0)
        acc += v
    tl.store(out_ptr + xindex, tl.sum(acc, 1)[:, None], xmask)


def test_column_contiguous_tiles_load_by_column(monkeypatch):
    x = torch.randn(37, 100)
    out = torch.zeros(100)
    column_sum_kernel[(triton.cdiv(100, 64),)](x, out, 37, 100, XBLOCK=64, RBLOCK=4)
    torch.testing.assert_close(out, x.sum(0), atol=1e-4, rtol=1e-4)
    # `orientation.py` turns this kernel's tiles into rows; the column path itself, without it
    monkeypatch.setattr(orientation, "ENABLED", False)
    assert "vector.gather" not in _lowered(column_sum_kernel, x, out, 37, 100, XBLOCK=64, RBLOCK=4)


@triton.jit
def transpose_copy_kernel(x_ptr, out_ptr, n_rows, n_cols, BX: tl.constexpr, BY: tl.constexpr):
    # out = x.T: the tile reads x down its columns (first dim contiguous) and stores rows of out
    cols = tl.program_id(0) * BX + tl.arange(0, BX)[:, None]
    rows = tl.program_id(1) * BY + tl.arange(0, BY)[None, :]
    m = (cols < n_cols) & (rows < n_rows)
    v = tl.load(x_ptr + (cols + n_cols * rows), m, other=0.0)
    tl.store(out_ptr + (rows + n_rows * cols), v * 2.0, m)


def test_transposed_tiles_of_several_widths():
    """Tiles of 2 to 32 columns, full and partial, through the interleaving tree."""
    for bx, by in ((16, 2), (16, 8), (32, 32), (8, 16)):
        x = torch.randn(45, 70)
        out = torch.zeros(70, 45)
        grid = (triton.cdiv(70, bx), triton.cdiv(45, by))
        transpose_copy_kernel[grid](x, out, 45, 70, BX=bx, BY=by)
        torch.testing.assert_close(out, x.T * 2.0)
        assert "vector.gather" not in _lowered(transpose_copy_kernel, x, out, 45, 70, BX=bx, BY=by)


def test_full_transposed_tiles_interleave_register_pieces():
    """A full tile whose column length is a multiple of a register loads each column as
    register-sized pieces and zips them piece by piece; partial tiles take the masked column
    loads.  Square, tall and wide tiles, full and partial."""
    from turbine_triton.lowering import host
    w = host.vector_bytes() // 4   # f32 lanes per register
    for bx, by, rows, cols in ((32, 32, 64, 96), (64, 16, 48, 128), (16, 64, 128, 48), (32, 64, 45, 70)):
        x = torch.randn(rows, cols)
        out = torch.full((cols, rows), float("nan"))
        grid = (triton.cdiv(cols, bx), triton.cdiv(rows, by))
        transpose_copy_kernel[grid](x, out, rows, cols, BX=bx, BY=by)
        torch.testing.assert_close(out, x.T * 2.0)
        text = _lowered(transpose_copy_kernel, x, out, rows, cols, BX=bx, BY=by)
        assert "vector.gather" not in text and f"vector<{w}xf32>" in text
