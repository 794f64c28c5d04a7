"""State shared by the lowering rules of one kernel.

`LoweringContext` maps TTIR values to lowered values (rebinding is refused),
knows the memref view of every pointer argument, and offers the small IR
helpers every rule needs (constants, casts, broadcasts).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional

from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from ..triton_frontend.ttir import Loc, Op, PtrType, ScalarType, TensorType, Value
from . import types as T
from .errors import LoweringError


@dataclass(frozen=True)
class Affine:
    """value[i0..in] = base + sum(stride_d * i_d); strides are ints or i64 values.

    `align` divides the base and `nonneg` says it is >= 0 (facts about an SSA base; an int
    base carries its own, see `analysis/pointers.facts`)."""
    base: ir.Value
    strides: tuple
    align: int = 1
    nonneg: bool = False


@dataclass
class PtrValue:
    """A lowered pointer (or tensor of pointers): argument index plus i64 element offsets."""
    arg: int
    offset: ir.Value
    pointee: object
    affine: Optional[Affine] = None


class LoweringContext:
    """Per-kernel lowering state; see the module docstring."""

    def __init__(self, kernel_name: str, options=None):
        self.kernel_name = kernel_name
        self.options = options
        self.values = {}
        self.affine = {}
        self.memrefs = {}
        self.arg_sizes = {}
        self.bindings = {}
        self.lanes = ()
        self.loc = None
        self.written_args = set()
        self.entry_ip = None
        self.grid_args = ()         # the dispatch's grid operands (lowering/grid.py)
        self.checks = []
        self.uses_linalg = False
        self.status_arg = None      # index of the hidden status buffer argument
        self.sites = []             # (kind, file, line, col, message) per reporting site
        self.has_prints = False
        self.blocks = {}            # TTIR block label -> MLIR block (early returns)
        self.block_templates = {}   # label -> lowered branch operands (pointer block args)
        self.functions = {}         # name -> parsed tt.func, for inlining tt.call
        self.chunk = None           # (lane offset i32, lanes, block) when lowering in chunks
        self.promote_bf16 = False   # see bf16_in_f32
        self.mask_hints = {}        # lowered mask vector -> scalar i1 "all lanes on" (analysis/masks.py)
        self.int_facts = {}         # lowered scalar int -> (a divisor, is it >= 0) (analysis/pointers.py)
        self.nonneg_if_true = {}    # lowered scalar i1 `x >= c` -> x, for `tl.assume` (analysis/pointers.py)
        self.stream_facts = {}      # binding -> "large enough to stream", memref -> address (ops/streaming.py)
        self.loaded_args = frozenset()   # arguments some tt.load reads (ops/streaming.py: no streaming)
        self.load_advance = {}   # id(tt.load) -> elements moved per loop step (analysis/advance.py)
        self.dot_operands = {}   # id(tt.load) -> the tt.dot it alone feeds (analysis/dot_operands.py)
        self.staged = {}         # loaded TTIR value -> the stack buffer holding its tile (ops/dot.py)

    # -- values
    def bind(self, v: Value, lowered, affine: Optional[Affine] = None):
        if v in self.values:
            raise LoweringError(f"value {v.name} bound twice")
        self.values[v] = lowered
        if affine is not None:
            self.affine[v] = affine

    def get(self, v: Value):
        try:
            lowered = self.values[v]
        except KeyError:
            raise LoweringError(f"value {v.name} used before it was lowered") from None
        if self.lanes and isinstance(lowered, ir.Value) and not isinstance(lowered.type, ir.VectorType):
            # a scalar from outside a widened combine region: splat it to the lanes
            return self.splat(lowered, self.lanes)
        return lowered

    def affine_of(self, v: Value) -> Optional[Affine]:
        lowered = self.values.get(v)
        if isinstance(lowered, PtrValue):
            return lowered.affine
        return self.affine.get(v)

    @contextlib.contextmanager
    def at(self, op: Op):
        """Build IR for `op` under its kernel location."""
        loc = to_location(op.loc, op.name)
        prev = self.loc
        self.loc = op.loc
        with loc:
            yield
        self.loc = prev

    @contextlib.contextmanager
    def scoped(self):
        """Forget values bound inside (a region lowered more than once)."""
        before = set(self.values)
        try:
            yield
        finally:
            for k in [k for k in self.values if k not in before]:
                del self.values[k]
                self.affine.pop(k, None)

    @contextlib.contextmanager
    def widened(self, lanes: tuple):
        """Lower scalar-typed region ops on vectors of shape `lanes`."""
        prev = self.lanes
        self.lanes = tuple(lanes)
        try:
            yield
        finally:
            self.lanes = prev

    @contextlib.contextmanager
    def bf16_in_f32(self, on: bool = True):
        """Lower region ops typed bf16 in f32 (scans accumulate in f32 and round once)."""
        prev = self.promote_bf16
        self.promote_bf16 = on
        try:
            yield
        finally:
            self.promote_bf16 = prev

    def type_of(self, v: Value) -> ir.Type:
        t = v.type
        if self.promote_bf16 and isinstance(t, ScalarType) and t.name == "bf16":
            t = ScalarType("f32")
        if self.chunk is not None and isinstance(t, TensorType) and t.shape[-1] == self.chunk[2]:
            t = TensorType(tuple(t.shape[:-1]) + (self.chunk[1],), t.element)
        return T.value_type(t, self.lanes)

    # -- memory
    def memref(self, arg: int, pointee) -> ir.Value:
        """The `memref<?xT>` view of pointer argument `arg` as element type T."""
        elem = T.memory_scalar(pointee)
        key = (arg, str(elem))
        if key not in self.memrefs:
            from .abi import view_of_binding
            self.memrefs[key] = view_of_binding(self, arg, elem)
        return self.memrefs[key]

    # -- constants and casts
    def const(self, value, ty: ir.Type) -> ir.Value:
        el = T.element(ty)
        if T.is_float(el):
            attr = ir.FloatAttr.get(el, float(value))
        elif isinstance(el, ir.IndexType):
            attr = ir.IntegerAttr.get(el, int(value))
        else:
            width = T.bitwidth(el)
            v = int(value)
            if width > 1 and v >= (1 << (width - 1)):
                v -= 1 << width
            if width == 1:
                v = -1 if v else 0
            attr = ir.IntegerAttr.get(el, v)
        if isinstance(ty, ir.VectorType):
            return arith.constant(ty, ir.DenseElementsAttr.get_splat(ty, attr))
        return arith.constant(ty, attr)

    def index(self, v: ir.Value) -> ir.Value:
        """An integer scalar (or vector) as `index`."""
        if isinstance(T.element(v.type), ir.IndexType):
            return v
        return arith.index_cast(T.like(v.type, ir.IndexType.get()), v)

    def int_cast(self, v: ir.Value, width: int, signed: bool = True) -> ir.Value:
        """Extend or truncate an integer scalar/vector to `width` bits."""
        if isinstance(T.element(v.type), ir.IndexType):
            return arith.index_cast(T.like(v.type, ir.IntegerType.get_signless(width)), v)
        have = T.bitwidth(v.type)
        target = T.like(v.type, ir.IntegerType.get_signless(width))
        if have == width:
            return v
        if have < width:
            return arith.extsi(target, v) if signed else arith.extui(target, v)
        return arith.trunci(target, v)

    def i64(self, v: ir.Value) -> ir.Value:
        return self.int_cast(v, 64)

    def splat(self, v: ir.Value, shape: tuple) -> ir.Value:
        """Broadcast a scalar (or vector) to `shape`."""
        if not shape:
            return v
        vt = ir.VectorType.get(list(shape), T.element(v.type))
        if v.type == vt:
            return v
        return vector.broadcast(vt, v)


def to_location(loc: Loc, op_name: str = "") -> ir.Location:
    """The user's kernel line as an MLIR location, so IREE diagnostics point at it."""
    if loc is None or not loc.file:
        base = ir.Location.unknown()
    else:
        base = ir.Location.file(loc.file, loc.line, loc.col)
    return ir.Location.name(op_name, base) if op_name else base


def is_pointer(v: Value) -> bool:
    t = v.type
    return isinstance(t, PtrType) or isinstance(getattr(t, "element", None), PtrType)
