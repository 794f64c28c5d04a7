"""device_assert, device_print and the bounds-checked mode, reported after the launch."""
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime.errors import KernelAssertionError, OutOfBoundsError


@triton.jit
def assert_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0)
    tl.device_assert(x < 10, "x too big")


def test_device_assert_passes_and_fails_with_kernel_line():
    x = torch.arange(8, dtype=torch.int32)
    assert_kernel[(1,)](x, 8, BLOCK=8, debug=True)
    x[5] = 11
    with pytest.raises(KernelAssertionError, match=r"test_debug.py:\d+:\d+: 'x too big'.*lane 5"):
        assert_kernel[(1,)](x, 8, BLOCK=8, debug=True)


@triton.jit
def print_kernel(x_ptr, BLOCK: tl.constexpr):
    x = tl.load(x_ptr + tl.arange(0, BLOCK))
    tl.device_print(" x: ", x)


def test_device_print_reaches_stdout(capfd):
    print_kernel[(1,)](torch.tensor([1.5, -2.0, 3.25, 0.0]), BLOCK=4)
    lines = [l for l in capfd.readouterr().out.splitlines() if "x:" in l]
    assert lines == [f"pid (0, 0, 0) idx (  {i}) x: {v}" for i, v in enumerate([1.5, -2.0, 3.25, 0.0])]


@triton.jit
def strided_copy_kernel(x_ptr, out_ptr, n, STRIDE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs * STRIDE, tl.load(x_ptr + offs * STRIDE), mask=offs < n)


def test_bounds_check_catches_out_of_bounds_load(monkeypatch):
    monkeypatch.setenv("TURBINE_TRITON_BOUNDS_CHECK", "1")
    x, out = torch.randn(10), torch.zeros(20)
    with pytest.raises(OutOfBoundsError, match=r"out-of-bounds load .*element offset 10 of argument `x_ptr`"):
        strided_copy_kernel[(1,)](x, out, 8, STRIDE=2, BLOCK=8)


def test_bounds_check_drops_out_of_bounds_store():
    x = torch.arange(32, dtype=torch.float32)   # every load is in bounds
    out = torch.full((16,), -1.0)     # lanes 8..11 store at offsets 16..22: outside the storage
    with pytest.raises(OutOfBoundsError, match=r"out-of-bounds store .*element offset 16 of argument `out_ptr`"):
        strided_copy_kernel[(1,)](x, out, 12, STRIDE=2, BLOCK=16, bounds_check=True)
    expected = torch.full((16,), -1.0)
    expected[0:16:2] = x[0:16:2]      # in-bounds lanes were written, nothing else
    torch.testing.assert_close(out, expected)


def test_bounds_check_is_silent_on_valid_kernels():
    x, out = torch.randn(16), torch.zeros(16)
    strided_copy_kernel[(1,)](x, out, 8, STRIDE=2, BLOCK=8, bounds_check=True)
    torch.testing.assert_close(out[0:16:2], x[0:16:2])


@triton.jit
def indirect_gather_kernel(idx_ptr, table_ptr, out_ptr, n, size, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    i = tl.load(idx_ptr + offs, mask=m, other=0)
    tl.device_assert((0 <= i) & (i < size), "index out of bounds")   # Inductor's indirect-indexing guard
    tl.store(out_ptr + offs, tl.load(table_ptr + i, mask=m), mask=m)


def test_device_assert_in_a_block_of_many_chunks():
    """A 256-lane block runs as 32-lane chunks; the report still names the block's first bad lane."""
    table = torch.randn(50)
    idx = torch.randint(0, 50, (600,), dtype=torch.int32)
    out = torch.empty(600)
    indirect_gather_kernel[(3,)](idx, table, out, 600, 50, BLOCK=256, debug=True)
    torch.testing.assert_close(out, table[idx.long()])
    idx[256 + 70] = 99     # program 1, lane 70 (its third chunk)
    idx[256 + 90] = -1
    with pytest.raises(KernelAssertionError, match=r"index out of bounds.*lane 70"):
        indirect_gather_kernel[(3,)](idx, table, out, 600, 50, BLOCK=256, debug=True)


@triton.jit
def barrier_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 2)
    tl.debug_barrier()     # TTIR's ttg.barrier: one program runs its lanes in order, so nothing to wait for
    tl.store(out_ptr + offs, tl.load(out_ptr + offs) + 1)


def test_debug_barrier_between_store_and_reload():
    x = torch.randn(64)
    out = torch.zeros(64)
    barrier_kernel[(1,)](x, out, BLOCK=64)
    torch.testing.assert_close(out, x * 2 + 1)
