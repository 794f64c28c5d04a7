"""Software prefetch (`lowering/ops/prefetch.py`): row loads that jump pages each loop step
prefetch later steps' rows; results are unchanged (checked against torch)."""
import torch

from turbine_triton.lowering.pipeline import lower
from turbine_triton.triton_frontend.capture import capture_jit

from .analysis.test_advance import outer_sum_kernel, row_sum_kernel


def test_page_striding_rows_are_prefetched():
    x, out = torch.randn(4096, 1024), torch.empty(1024)
    outer_sum_kernel[(1024 // 64,)](out, x, XBLOCK=64, RBLOCK=4)
    torch.testing.assert_close(out, x.sum(0) + 4096 * x[0], rtol=1e-3, atol=1e-2)
    mlir = lower(capture_jit(outer_sum_kernel, out, x, XBLOCK=64, RBLOCK=4)).mlir
    assert "memref.prefetch" in mlir


def test_contiguous_streams_are_left_to_the_hardware():
    # a row walked in 4 KB blocks: each step starts where the last ended
    x, out = torch.randn(8, 3000), torch.empty(8)
    assert "memref.prefetch" not in lower(capture_jit(row_sum_kernel, out, x, 3000, BLOCK=1024)).mlir
