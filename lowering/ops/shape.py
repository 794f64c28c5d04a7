"""Shape ops: make_range, splat, broadcast, expand_dims, reshape, trans.

Tensors are vectors, so these are vector shape ops.  Pointer tensors keep
their argument and reshape their offset vector; affine forms follow along.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from ..analysis import pointers as P
from ..context import PtrValue
from ..registry import lowers
from .. import types as T
from ...triton_frontend.ttir import shape_of


def _int_attr(text: str) -> int:
    return int(text.split(":")[0].strip())


@lowers("tt.make_range")
def lower_tt_make_range(ctx, op):
    start, end = _int_attr(op.attrs["start"]), _int_attr(op.attrs["end"])
    ty = ctx.type_of(op.result)
    attr = ir.DenseElementsAttr.get(__import__("numpy").arange(start, end, dtype="int32"), type=ty)
    ctx.bind(op.result, arith.constant(ty, attr), P.make_range(start, end - start))


def _offset_type(ctx, v) -> ir.Type:
    return ir.VectorType.get(list(shape_of(v.type)), ir.IntegerType.get_signless(64))


def _map(ctx, op, fn, affine):
    """Bind op's result to fn(lowered source, result type), pointer-aware."""
    src = ctx.get(op.operands[0])
    if isinstance(src, PtrValue):
        off = fn(src.offset, _offset_type(ctx, op.result))
        ctx.bind(op.result, PtrValue(src.arg, off, src.pointee, affine))
    else:
        ctx.bind(op.result, fn(src, ctx.type_of(op.result)), affine)


@lowers("tt.splat")
def lower_tt_splat(ctx, op):
    shape = shape_of(op.result.type)
    src = ctx.get(op.operands[0])
    base = src.offset if isinstance(src, PtrValue) else src
    aff = P.splat(base, len(shape)) if T.is_float(base.type) is False else None
    _map(ctx, op, lambda v, t: vector.broadcast(t, v), aff)


@lowers("tt.broadcast")
def lower_tt_broadcast(ctx, op):
    aff = P.broadcast(ctx.affine_of(op.operands[0]), shape_of(op.operands[0].type), shape_of(op.result.type))
    _map(ctx, op, lambda v, t: v if v.type == t else vector.broadcast(t, v), aff)


@lowers("tt.expand_dims")
def lower_tt_expand_dims(ctx, op):
    axis = _int_attr(op.attrs["axis"])
    aff = P.expand_dims(ctx.affine_of(op.operands[0]), axis)
    _map(ctx, op, _shape_cast, aff)


@lowers("tt.reshape")
def lower_tt_reshape(ctx, op):
    aff = P.reshape(ctx.affine_of(op.operands[0]), shape_of(op.operands[0].type), shape_of(op.result.type))
    _map(ctx, op, _shape_cast, aff)


def _shape_cast(v: ir.Value, t: ir.Type) -> ir.Value:
    if v.type == t:
        return v
    if not isinstance(v.type, ir.VectorType):
        return vector.broadcast(t, v)
    if not isinstance(t, ir.VectorType):
        return vector.extract(v, [], [0] * len(T.shape(v.type)))
    return vector.shape_cast(t, v)


@lowers("tt.trans")
def lower_tt_trans(ctx, op):
    order = [int(x) for x in op.attrs["order"].split(":")[-1].strip(" >]").replace("[", "").split(",")]
    aff = P.transpose(ctx.affine_of(op.operands[0]), order)
    _map(ctx, op, lambda v, t: vector.transpose(t, v, order), aff)
