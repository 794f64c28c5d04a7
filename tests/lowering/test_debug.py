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
    x = torch.arange(24, dtype=torch.float32)
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
