"""Tile orientation (`lowering/orientation.py`): kernels whose tiles are contiguous along their
first axis are lowered with every tensor's axes reversed.

Each kernel runs through our backend against torch; the decision and
the lowered module are checked too, so the reversed path is the one under test.
"""
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.lowering import orientation
from turbine_triton.lowering.pipeline import lower
from turbine_triton.triton_frontend.capture import capture_jit
from turbine_triton.triton_frontend.parser import parse_ttir

from .test_load_patterns import column_sum_kernel



def _fn(kernel, *args, **kw):
    return parse_ttir(capture_jit(kernel, *args, **kw).ttir).function()


@pytest.mark.parametrize("rows,cols,xb,rb", [(1000, 300, 64, 8), (37, 129, 16, 16), (64, 64, 64, 1)])
def test_column_sum_is_reversed_and_correct(rows, cols, xb, rb):
    x = torch.randn(rows, cols)
    out = torch.full((cols,), 7.0)
    column_sum_kernel[(triton.cdiv(cols, xb),)](x, out, rows, cols, XBLOCK=xb, RBLOCK=rb)
    torch.testing.assert_close(out, x.sum(0), rtol=1e-4, atol=1e-4)
    fn = _fn(column_sum_kernel, x, out, rows, cols, XBLOCK=xb, RBLOCK=rb)
    votes = orientation.orientation_votes(fn)
    assert votes.column > votes.row and orientation.should_reverse(fn)


def test_reversal_removes_the_register_transpose():
    x, out = torch.randn(256, 128), torch.empty(128)
    cap = capture_jit(column_sum_kernel, x, out, 256, 128, XBLOCK=64, RBLOCK=4)
    assert "vector.shuffle" not in lower(cap).mlir
    fn = parse_ttir(cap.ttir).function()
    flipped = orientation.reversed_axes(fn)
    shapes = {v.type.shape for op in orientation._all_ops(flipped) for v in op.results
              if hasattr(v.type, "shape") and len(v.type.shape) == 2}
    assert (4, 64) in shapes and (64, 4) not in shapes
    # the input function is left as it was
    assert any(getattr(v.type, "shape", None) == (64, 4) for op in orientation._all_ops(fn) for v in op.results)


@triton.jit
def col_argmax_cumsum_kernel(x_ptr, idx_ptr, cs_ptr, n_rows, n_cols, XBLOCK: tl.constexpr,
                             RBLOCK: tl.constexpr):
    # one program: all rows of XBLOCK columns; a two-operand reduce and a scan along axis 1
    cols = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    rows = tl.arange(0, RBLOCK)[None, :]
    m = (cols < n_cols) & (rows < n_rows)
    v = tl.load(x_ptr + cols + n_cols * rows, m, other=float("-inf"))
    best = tl.argmax(v, 1)
    tl.store(idx_ptr + tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK), best,
             tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK) < n_cols)
    c = tl.cumsum(tl.where(m, v, 0.0), 1)
    tl.store(cs_ptr + cols + n_cols * rows, c, m)


def test_multi_operand_reduce_and_scan_along_the_reversed_axis():
    x = torch.randn(12, 50)
    idx, cs = torch.zeros(50, dtype=torch.int32), torch.zeros(12, 50)
    args = (x, idx, cs, 12, 50)
    grid = (triton.cdiv(50, 16),)
    col_argmax_cumsum_kernel[grid](*args, XBLOCK=16, RBLOCK=16)
    assert orientation.should_reverse(_fn(col_argmax_cumsum_kernel, *args, XBLOCK=16, RBLOCK=16))
    torch.testing.assert_close(idx.long(), x.argmax(0))
    torch.testing.assert_close(cs, x.cumsum(0), rtol=1e-5, atol=1e-5)


@triton.jit
def trans_expand_kernel(x_ptr, b_ptr, out_ptr, XB: tl.constexpr, YB: tl.constexpr):
    # a column-major read of a [YB, XB] matrix, a transposed bias, and an expand_dims on each side
    xi = tl.arange(0, XB)
    yi = tl.arange(0, YB)
    x = tl.load(x_ptr + xi[:, None] + XB * yi[None, :])          # [XB, YB], contiguous along XB
    bias = tl.load(b_ptr + yi[:, None] * XB + xi[None, :])        # [YB, XB], row-wise
    col_sums = tl.sum(x, 0)
    row_maxes = tl.max(x, 1)
    y = x + tl.trans(bias) + tl.expand_dims(col_sums, 0) * 0.5 + tl.expand_dims(row_maxes, 1)
    tl.store(out_ptr + xi[:, None] + XB * yi[None, :], y)


def test_trans_and_expand_dims_in_a_reversed_kernel():
    x, b = torch.randn(8, 32), torch.randn(8, 32)     # [YB, XB] in memory
    out = torch.empty(8, 32)
    trans_expand_kernel[(1,)](x, b, out, XB=32, YB=8)
    assert orientation.should_reverse(_fn(trans_expand_kernel, x, b, out, XB=32, YB=8))
    xt, bt = x.t(), b.t()                               # [XB, YB] views, as the kernel sees them
    want = xt + bt + xt.sum(0, keepdim=True) * 0.5 + xt.amax(1, keepdim=True)
    torch.testing.assert_close(out.t(), want, rtol=1e-5, atol=1e-5)


@triton.jit
def col_sum_ptr_loop_kernel(out_ptr, in_ptr, n_rows, n_cols, XBLOCK: tl.constexpr, RBLOCK: tl.constexpr):
    # the same reduction with a loop-carried pointer tile, advanced each step
    cols = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)
    ptrs = in_ptr + cols[:, None] + n_cols * tl.arange(0, RBLOCK)[None, :]
    acc = tl.zeros([XBLOCK, RBLOCK], tl.float32)
    for r in range(0, n_rows, RBLOCK):
        m = (cols[:, None] < n_cols) & (r + tl.arange(0, RBLOCK)[None, :] < n_rows)
        acc += tl.load(ptrs, m, other=0.0)
        ptrs += RBLOCK * n_cols
    tl.store(out_ptr + cols, tl.sum(acc, 1), cols < n_cols)


def test_loop_carried_pointer_tiles_count_as_column_reads():
    x, out = torch.randn(70, 90), torch.empty(90)
    col_sum_ptr_loop_kernel[(triton.cdiv(90, 32),)](out, x, 70, 90, XBLOCK=32, RBLOCK=8)
    torch.testing.assert_close(out, x.sum(0), rtol=1e-5, atol=1e-5)
    assert orientation.should_reverse(_fn(col_sum_ptr_loop_kernel, out, x, 70, 90, XBLOCK=32, RBLOCK=8))


@triton.jit
def row_softmax_kernel(out_ptr, in_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)[None, :]
    v = tl.load(in_ptr + row * n_cols + cols, cols < n_cols, other=float("-inf"))
    e = tl.exp(v - tl.max(v, 1)[:, None])
    tl.store(out_ptr + row * n_cols + cols, e / tl.sum(e, 1)[:, None], cols < n_cols)


@triton.jit
def transpose_copy_kernel(x_ptr, out_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    v = tl.load(x_ptr + i[:, None] * N + i[None, :])
    tl.store(out_ptr + i[:, None] + i[None, :] * N, v)


@triton.jit
def transposed_add_kernel(a_ptr, b_ptr, out_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    a = tl.load(a_ptr + i[:, None] + i[None, :] * N)
    b = tl.load(b_ptr + i[:, None] + i[None, :] * N)
    tl.store(out_ptr + i[:, None] * N + i[None, :], a + b)


@triton.jit
def col_dot_kernel(a_ptr, b_ptr, c_ptr, N: tl.constexpr):
    i = tl.arange(0, N)
    a = tl.load(a_ptr + i[:, None] + i[None, :] * N)       # column-major read, but a dot
    b = tl.load(b_ptr + i[:, None] * N + i[None, :])
    tl.store(c_ptr + i[:, None] + i[None, :] * N, tl.dot(a, b))


def test_a_column_wise_store_reverses_a_transpose():
    # a row-wise load and a column-wise store: reversed, the store writes rows (no scatter)
    sq, out = torch.randn(16, 16), torch.empty(16, 16)
    transpose_copy_kernel[(1,)](sq, out, N=16)
    torch.testing.assert_close(out, sq.t())
    cap = capture_jit(transpose_copy_kernel, sq, out, N=16)
    votes = orientation.orientation_votes(parse_ttir(cap.ttir).function())
    assert votes.row == votes.column and votes.column_stores > 0 and votes.row_stores == 0
    assert "vector.scatter" not in lower(cap).mlir


def test_kernels_that_keep_their_orientation():
    x, out = torch.randn(4, 100), torch.empty(4, 100)
    row_softmax_kernel[(4,)](out, x, 100, BLOCK=128)
    torch.testing.assert_close(out, torch.softmax(x, 1))
    assert not orientation.should_reverse(_fn(row_softmax_kernel, out, x, 100, BLOCK=128))
    sq = torch.randn(16, 16)
    o2 = torch.empty(16, 16)
    # two column-wise loads against one row-wise store: reversed, the store would scatter
    b16 = torch.randn(16, 16)
    transposed_add_kernel[(1,)](sq, b16, o2, N=16)
    torch.testing.assert_close(o2, sq.t() + b16.t())
    votes = orientation.orientation_votes(_fn(transposed_add_kernel, sq, b16, o2, N=16))
    assert votes.column > votes.row and votes.row_stores > 0
    assert not orientation.should_reverse(_fn(transposed_add_kernel, sq, b16, o2, N=16))
    # tl.dot depends on which axis is which
    a, b, c = torch.randn(16, 16), torch.randn(16, 16), torch.empty(16, 16)
    fn = _fn(col_dot_kernel, a, b, c, N=16)
    votes = orientation.orientation_votes(fn)
    assert votes.column > votes.row and votes.row_stores == 0
    assert not orientation.should_reverse(fn)
    col_dot_kernel[(1,)](a, b, c, N=16)
    torch.testing.assert_close(c.t(), a.t() @ b, rtol=1e-4, atol=1e-4)
