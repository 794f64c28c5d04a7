"""TTIR types to IREE (MLIR builtin) types."""
from __future__ import annotations

from iree.compiler import ir

from ..triton_frontend.ttir import PtrType, ScalarType, TensorType, Type
from .errors import UnsupportedOp


def scalar(t: ScalarType) -> ir.Type:
    """The MLIR type of a TTIR scalar type (in the current context)."""
    n = t.name
    if n == "index":
        return ir.IndexType.get()
    if n == "f32":
        return ir.F32Type.get()
    if n == "f16":
        return ir.F16Type.get()
    if n == "bf16":
        return ir.BF16Type.get()
    if n == "f64":
        return ir.F64Type.get()
    if n == "f8E4M3FN":
        return ir.Float8E4M3FNType.get()
    if n == "f8E5M2":
        return ir.Float8E5M2Type.get()
    if n.startswith("i"):
        return ir.IntegerType.get_signless(int(n[1:]))
    raise UnsupportedOp(f"element type {n} is not supported")


def memory_scalar(t: Type) -> ir.Type:
    """How an element is stored in a buffer: booleans are bytes."""
    if isinstance(t, ScalarType) and t.name == "i1":
        return ir.IntegerType.get_signless(8)
    if isinstance(t, PtrType):
        return ir.IntegerType.get_signless(64)
    return scalar(t)


def value_type(t: Type, lanes: tuple = ()) -> ir.Type:
    """The type a TTIR value lowers to: a scalar, or a vector for a tensor.

    `lanes` widens scalars to vectors (used when a combine region of
    `tt.reduce`/`tt.scan` runs on whole vectors at once).
    """
    if isinstance(t, TensorType):
        return ir.VectorType.get(list(lanes) + list(t.shape), value_type(t.element))
    if isinstance(t, PtrType):
        return ir.IntegerType.get_signless(64)
    if lanes:
        return ir.VectorType.get(list(lanes), scalar(t))
    return scalar(t)


def is_float(t: ir.Type) -> bool:
    t = element(t)
    return isinstance(t, (ir.F16Type, ir.BF16Type, ir.F32Type, ir.F64Type)) or "f8" in str(t)


def element(t: ir.Type) -> ir.Type:
    """The element type of a vector, or the type itself."""
    return ir.VectorType(t).element_type if isinstance(t, ir.VectorType) else t


def shape(t: ir.Type) -> tuple:
    return tuple(ir.VectorType(t).shape) if isinstance(t, ir.VectorType) else ()


def like(t: ir.Type, elem: ir.Type) -> ir.Type:
    """A type with the shape of `t` and element `elem`."""
    s = shape(t)
    return ir.VectorType.get(list(s), elem) if s else elem


def bitwidth(t: ir.Type) -> int:
    t = element(t)
    if isinstance(t, ir.IndexType):
        return 64
    if isinstance(t, ir.IntegerType):
        return ir.IntegerType(t).width
    return {"f16": 16, "bf16": 16, "f32": 32, "f64": 64}.get(str(t), 8)
