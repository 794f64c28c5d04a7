"""Per-step advance of loads in loops (`lowering/analysis/advance.py`), checked against the
addresses the kernel's index math names."""
import torch
import triton
import triton.language as tl

from turbine_triton.lowering.analysis.advance import load_advances
from turbine_triton.triton_frontend.capture import capture_jit
from turbine_triton.triton_frontend.parser import parse_ttir


def _advances(kernel, *args, **kw):
    fn = parse_ttir(capture_jit(kernel, *args, **kw).ttir).function()
    return sorted(load_advances(fn).values())


@triton.jit
def outer_sum_kernel(out_ptr, in_ptr, XBLOCK: tl.constexpr, RBLOCK: tl.constexpr):
    # Inductor's form: sizes are constants in the body, rows step by RBLOCK
    xnumel = 1024
    rnumel = 4096
    x = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    acc = tl.zeros([XBLOCK, RBLOCK], tl.float32)
    for roff in tl.range(0, rnumel, RBLOCK):
        r = roff + tl.arange(0, RBLOCK)[None, :]
        acc += tl.load(in_ptr + (x + xnumel * r), (r < rnumel) & (x < xnumel), other=0.0)
        acc += tl.load(in_ptr + x)          # loop-invariant: no advance
    tl.store(out_ptr + x, tl.sum(acc, 1)[:, None])


@triton.jit
def row_sum_kernel(out_ptr, in_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK], tl.float32)
    for c in range(0, n_cols, BLOCK):
        cols = c + tl.arange(0, BLOCK)
        acc += tl.load(in_ptr + row * n_cols + cols, cols < n_cols, other=0.0)
    tl.store(out_ptr + row, tl.sum(acc, 0))


def test_outer_reduction_rows_advance_by_rblock_rows():
    x, out = torch.randn(4096, 1024), torch.empty(1024)
    assert _advances(outer_sum_kernel, out, x, XBLOCK=64, RBLOCK=4) == [4 * 1024]
    assert _advances(outer_sum_kernel, out, x, XBLOCK=64, RBLOCK=16) == [16 * 1024]


def test_a_contiguous_column_loop_advances_by_its_block():
    x, out = torch.randn(8, 300), torch.empty(8)
    assert _advances(row_sum_kernel, out, x, 300, BLOCK=64) == [64]
    row_sum_kernel[(8,)](out, x, 300, BLOCK=64)
    torch.testing.assert_close(out, x.sum(1), rtol=1e-5, atol=1e-5)
