"""TTIR capture without a GPU, the parser, and a kernel run from a saved `.ttir` file."""
import torch
import triton
import triton.language as tl

from turbine_triton.runtime.compile import compile_kernel
from turbine_triton.runtime.launch import Launcher
from turbine_triton.triton_frontend.capture import capture_file, capture_jit
from turbine_triton.triton_frontend.parser import parse_ttir
from turbine_triton.triton_frontend.ttir import PtrType, TensorType


@triton.jit
def axpy_kernel(x_ptr, y_ptr, a, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y_ptr + offs, a * tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


def test_capture_applies_triton_specialization():
    x, y = torch.randn(64), torch.randn(64)
    k = capture_jit(axpy_kernel, x, y, 2.0, 64, BLOCK=32)
    assert k.signature["x_ptr"] == "*fp32" and k.signature["BLOCK"] == "constexpr"
    assert k.constexprs["BLOCK"] == 32
    fn = parse_ttir(k.ttir).function()
    assert [a.value.name for a in fn.args] == ["%x_ptr", "%y_ptr", "%a", "%n"]
    # torch allocations are 16-byte aligned and 64 % 16 == 0
    assert fn.args[0].divisibility == 16 and fn.args[3].divisibility == 16
    k1 = capture_jit(axpy_kernel, x, y, 2.0, 1, BLOCK=32)  # n == 1 becomes a constant
    assert k1.signature["n"] == "constexpr"


def test_parser_types_locations_and_regions():
    x, y = torch.randn(64), torch.randn(64)
    fn = parse_ttir(capture_jit(axpy_kernel, x, y, 2.0, 64, BLOCK=32).ttir).function()
    loads = [op for op in fn.body.ops if op.name == "tt.load"]
    assert len(loads) == 2
    ptr_type = loads[0].operands[0].type
    assert isinstance(ptr_type, TensorType) and isinstance(ptr_type.element, PtrType)
    assert loads[0].result.type == TensorType((32,), ptr_type.element.pointee)
    assert loads[0].loc.file == __file__ and loads[0].loc.line == axpy_kernel.starting_line_number + 4  # decorator, def, offs, m, store


def test_kernel_from_saved_ttir_file(tmp_path):
    n = 1000
    x, y = torch.randn(n), torch.randn(n)
    path = tmp_path / "axpy.ttir"
    path.write_text(capture_jit(axpy_kernel, x, y, 2.0, n, BLOCK=128).ttir)
    k = capture_file(str(path))
    assert k.signature == {"x_ptr": "*fp32", "y_ptr": "*fp32", "a": "fp32", "n": "i32"}
    launcher = Launcher(compile_kernel(k).abi, vmfb=compile_kernel(k).vmfb)
    expected = 2.0 * x + y
    launcher((triton.cdiv(n, 128),), x, y, 2.0, n)
    torch.testing.assert_close(y, expected)
