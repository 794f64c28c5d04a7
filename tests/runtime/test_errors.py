"""Typed errors for bad input: each names the problem and says what to do next."""
import os

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.lowering.errors import UnsupportedOp
from turbine_triton.runtime.compile import compile_kernel, compile_mlir
from turbine_triton.runtime.errors import ArgumentError, CompileError
from turbine_triton.runtime.launch import Launcher
from turbine_triton.triton_frontend.capture import capture_file, capture_jit


@triton.jit
def axpy_kernel(x_ptr, y_ptr, a, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y_ptr + offs, a * tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


@pytest.fixture(scope="module")
def axpy_launcher():
    x, y = torch.randn(100), torch.randn(100)
    compiled = compile_kernel(capture_jit(axpy_kernel, x, y, 2.0, 100, BLOCK=64))
    return Launcher(compiled.abi, vmfb=compiled.vmfb)


def _check_launcher_still_works(launcher):
    x, y = torch.randn(100), torch.randn(100)
    expected = 2.0 * x + y
    launcher((2,), x, y, 2.0, 100)
    torch.testing.assert_close(y, expected)


@pytest.mark.parametrize("nargs", [3, 5])
def test_wrong_argument_count_through_launcher(axpy_launcher, nargs):
    x, y = torch.randn(100), torch.randn(100)
    args = [x, y, 2.0, 100, 7][:nargs]
    y_before = y.clone()
    with pytest.raises(ArgumentError) as e:
        axpy_launcher((2,), *args)
    msg = str(e.value)
    # names what it expected, so the caller knows which argument is missing or extra
    assert "expected 4 runtime arguments (x_ptr, y_ptr, a, n)" in msg and f"got {nargs}" in msg
    assert isinstance(e.value, TypeError)  # ArgumentError is also a TypeError
    torch.testing.assert_close(y, y_before)  # nothing ran
    _check_launcher_still_works(axpy_launcher)


def test_wrong_argument_count_through_kernel_grid():
    """Triton's own binder catches a missing argument before our launcher sees it."""
    x, y = torch.randn(100), torch.randn(100)
    y_before = y.clone()
    with pytest.raises(TypeError, match="n"):
        axpy_kernel[(2,)](x, y, 2.0, BLOCK=64)
    with pytest.raises(TypeError):
        axpy_kernel[(2,)](x, y, 2.0, 100, 5, BLOCK=64)
    torch.testing.assert_close(y, y_before)
    axpy_kernel[(2,)](x, y, 2.0, 100, BLOCK=64)
    torch.testing.assert_close(y, 2.0 * x + y_before)


def test_dtype_contradicting_ttir_file(tmp_path):
    x, y = torch.randn(100), torch.randn(100)
    path = tmp_path / "axpy.ttir"
    path.write_text(capture_jit(axpy_kernel, x, y, 2.0, 100, BLOCK=64).ttir)
    compiled = compile_kernel(capture_file(str(path)))
    launcher = Launcher(compiled.abi, vmfb=compiled.vmfb)
    xi = torch.arange(100, dtype=torch.int32)
    with pytest.raises(ArgumentError) as e:
        launcher((2,), xi, y, 2.0, 100)
    msg = str(e.value)
    assert "x_ptr" in msg and "torch.int32" in msg and "torch.float32" in msg and "*fp32" in msg
    assert "pass a torch.float32 tensor" in msg
    with pytest.raises(ArgumentError, match=r"`a` expects a scalar \(fp32\) but got 'two'.*pass a Python float"):
        launcher((2,), x, y, "two", 100)
    with pytest.raises(ArgumentError, match=r"`a` expects a scalar \(fp32\).*range"):
        launcher((2,), x, y, 1e300, 100)
    with pytest.raises(ArgumentError, match=r"`n` expects an integer \(i32\) but got 2.5"):
        launcher((2,), x, y, 2.0, 2.5)
    _check_launcher_still_works(launcher)


def test_meta_tensor(axpy_launcher):
    y = torch.randn(100)
    with pytest.raises(ArgumentError) as e:
        axpy_launcher((2,), torch.empty(100, device="meta"), y, 2.0, 100)
    msg = str(e.value)
    assert "x_ptr" in msg and "meta" in msg and "no data" in msg and "device=\"cpu\"" in msg


def test_meta_tensor_through_kernel_grid():
    y = torch.randn(100)
    y_before = y.clone()
    with pytest.raises(ArgumentError, match="meta"):
        axpy_kernel[(2,)](torch.empty(100, device="meta"), y, 2.0, 100, BLOCK=64)
    torch.testing.assert_close(y, y_before)


def test_not_a_tensor(axpy_launcher):
    with pytest.raises(ArgumentError, match=r"`x_ptr` expects a tensor \(\*fp32\).*got list"):
        axpy_launcher((2,), [1.0] * 100, torch.randn(100), 2.0, 100)


def test_storage_not_aligned_to_its_elements(axpy_launcher):
    n = 100
    buf = bytearray(4 * n + 64)
    off = next(o for o in range(1, 64) if (torch.frombuffer(buf, dtype=torch.uint8).data_ptr() + o) % 4)
    x = torch.frombuffer(memoryview(buf)[off:off + 4 * n], dtype=torch.float32)
    assert x.data_ptr() % 4
    with pytest.raises(ArgumentError) as e:
        axpy_launcher((2,), x, torch.randn(n), 2.0, n)
    msg = str(e.value)
    assert "x_ptr" in msg and "4-byte elements" in msg and "x_ptr.clone()" in msg


def test_numpy_storage_off_64_byte_boundary_binds_in_place(axpy_launcher):
    """numpy allocates on 16-byte boundaries; such tensors bind zero-copy and are written in place."""
    n = 100
    raw = np.zeros(2 * 4 * n + 128, dtype=np.uint8)
    start = next(o for o in range(4, 68, 4) if (raw.ctypes.data + o) % 64)
    xs = raw[start:start + 4 * n].view(np.float32)
    ys = raw[start + 4 * n + 64:start + 8 * n + 64].view(np.float32)
    xs[:] = np.arange(n, dtype=np.float32)
    ys[:] = 1.0
    x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    assert x.data_ptr() % 64 and x.untyped_storage().data_ptr() % 64
    axpy_launcher((2,), x, y, 2.0, n)
    np.testing.assert_allclose(ys, 2.0 * np.arange(n, dtype=np.float32) + 1.0)  # numpy sees the write
    assert not raw[:start].any() and not raw[start + 4 * n:start + 4 * n + 64].any()


@triton.jit
def inline_asm_kernel(x_ptr, y_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    y = tl.inline_asm_elementwise("mov.b32 $0, $1;", "=r,r", [x], dtype=tl.int32, is_pure=True, pack=1)
    tl.store(y_ptr + offs, y)


def test_unsupported_op_names_op_and_kernel_line():
    x = torch.arange(16, dtype=torch.int32)
    y = torch.zeros(16, dtype=torch.int32)
    with pytest.raises(UnsupportedOp) as e:
        inline_asm_kernel[(1,)](x, y, BLOCK=16)
    err = e.value
    line = inline_asm_kernel.starting_line_number + 4  # decorator, def, offs, x, y
    assert err.op_name == "tt.elementwise_inline_asm"
    assert err.loc.file == __file__ and err.loc.line == line
    msg = str(err)
    assert "`tt.elementwise_inline_asm`" in msg and f"{__file__}:{line}" in msg
    assert "tl.inline_asm_elementwise" in msg  # the source line is quoted
    assert torch.equal(y, torch.zeros(16, dtype=torch.int32))


_BAD_MLIR = """
func.func @bad(%a: tensor<4xf32>, %b: tensor<8xf32>) -> tensor<4xf32> {
  %c = arith.addf %a, %b : tensor<4xf32>
  return %c : tensor<4xf32>
}
"""


def test_compile_error_carries_diagnostic_and_reproducer():
    with pytest.raises(CompileError) as e:
        compile_mlir(_BAD_MLIR, "bad_kernel")
    err = e.value
    assert err.kernel == "bad_kernel"
    assert "error" in err.diagnostic and "tensor<8xf32>" in err.diagnostic
    assert os.path.exists(err.reproducer) and err.reproducer.endswith(".mlir")
    with open(err.reproducer) as f:
        assert f.read() == _BAD_MLIR
    assert err.reproducer in str(err) and "iree-compile" in str(err)
    os.unlink(err.reproducer)


@pytest.mark.parametrize("value", [2**64 - 1, 2**63, -2**63])
def test_64_bit_scalars_at_the_edges(value):
    """u64 values past 2**63 travel as their bit pattern; Triton types them u64, TTIR as i64."""
    out = torch.zeros(1, dtype=torch.int64)
    store_scalar_kernel[(1,)](out, value)
    assert out.item() == (value - 2**64 if value >= 2**63 else value)


@triton.jit
def store_scalar_kernel(out_ptr, v):
    tl.store(out_ptr, v)


def test_num_warps_must_be_a_power_of_two():
    out = torch.zeros(1, dtype=torch.int64)
    with pytest.raises(AssertionError, match="power of 2"):
        store_scalar_kernel[(1,)](out, 3, num_warps=3)


@triton.jit
def _z_ids_kernel(o_ptr):
    pz = tl.program_id(2)
    tl.store(o_ptr + pz, pz + 1)


@pytest.mark.parametrize("mode", ["team", "adaptive"])
def test_grid_beyond_iree_workgroup_counts_is_an_error(monkeypatch, mode):
    """IREE counts workgroups in 16 bits along z: 65535 programs there all run, one more is a
    typed error (it used to drop every program past 65535 silently)."""
    from turbine_triton.runtime import launch
    monkeypatch.setattr(launch, "LAUNCH_MODE", mode)
    n = 65535
    o = torch.zeros(n + 1, dtype=torch.int32)
    _z_ids_kernel[(1, 1, n)](o)
    torch.testing.assert_close(o[:n], torch.arange(1, n + 1, dtype=torch.int32))
    with pytest.raises(ArgumentError, match=r"too large.*65535"):
        _z_ids_kernel[(1, 1, n + 1)](o)
