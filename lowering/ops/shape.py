"""Shape ops: make_range, splat, broadcast, expand_dims, reshape, trans.

Tensors are vectors, so these are vector shape ops.  Pointer tensors keep
their argument and reshape their offset vector; affine forms follow along.
"""
from __future__ import annotations

import math

import numpy as np
from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from ..analysis import masks as M
from ..analysis import pointers as P
from ..context import PtrValue
from ..registry import lowers
from . import row_loop
from .. import types as T
from ...triton_frontend.ttir import shape_of


def _int_attr(text: str) -> int:
    return int(text.split(":")[0].strip())


@lowers("tt.make_range")
def lower_tt_make_range(ctx, op):
    start, end = _int_attr(op.attrs["start"]), _int_attr(op.attrs["end"])
    ty = ctx.type_of(op.result)
    n = T.shape(ty)[0]
    attr = ir.DenseElementsAttr.get(__import__("numpy").arange(start, start + n, dtype="int32"), type=ty)
    iota = arith.constant(ty, attr)
    if ctx.chunk is None or end - start != ctx.chunk[2]:
        ctx.bind(op.result, iota, P.make_range(start, end - start))
        return
    lane0 = ctx.chunk[0]  # this chunk's first lane (i32)
    align, nonneg = P.int_facts(start)   # chunks start at multiples of the chunk size
    ctx.bind(op.result, arith.addi(iota, vector.broadcast(ty, lane0)),
             P.Affine(P.s_add(start, P.scalar_base(lane0)), (1,), math.gcd(align, ctx.chunk[1]), nonneg))


def _offset_type(ctx, v) -> ir.Type:
    return T.like(ctx.type_of(v), ir.IntegerType.get_signless(64))


def _map(ctx, op, fn, affine):
    """Bind op's result to fn(lowered source, result type), pointer-aware."""
    src = ctx.get(op.operands[0])
    if isinstance(src, PtrValue):
        off = fn(src.offset, _offset_type(ctx, op.result))
        ctx.bind(op.result, PtrValue(src.arg, off, src.pointee, affine))
    else:
        out = fn(src, ctx.type_of(op.result))
        ctx.bind(op.result, out, affine)
        if M.is_bool(out):
            if isinstance(src.type, ir.VectorType):
                M.forward(ctx, src, out)     # same lanes, rearranged or repeated
            else:
                M.record(ctx, out, src)      # a splat of one flag


@lowers("tt.splat")
def lower_tt_splat(ctx, op):
    shape = T.shape(ctx.type_of(op.result))
    src = ctx.get(op.operands[0])
    base = src.offset if isinstance(src, PtrValue) else src
    aff = P.splat(base, len(shape), P.scalar_facts(ctx, base)) if T.is_float(base.type) is False else None
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
    _map(ctx, op, lambda v, t: _permute(ctx, v, t, order), aff)


# Past rank 2, LLVM unrolls vector.transpose into per-element shuffles whose compile time
# explodes (a 2x2x8x64 permute never finished); those go through a stack copy and gathers.
def _permute(ctx, v: ir.Value, rt: ir.Type, order) -> ir.Value:
    import numpy as np
    from iree.compiler.dialects import memref
    shape = T.shape(v.type)
    if len(shape) <= 2 or all(shape[d] == 1 for d in range(len(shape)) if order[d] != d):
        return vector.transpose(rt, v, order)
    n = int(np.prod(shape))
    if n >= row_loop.MIN_LANES:
        return _permute_loop(ctx, v, rt, order)
    from .memory import _slice1d, _slices
    elem = T.element(v.type)
    with ctx.entry_ip, ir.Location.unknown():
        buf = memref.alloca(ir.MemRefType.get([n], elem), [], [], alignment=64)
    c0 = arith.constant(ir.IndexType.get(), 0)
    vector.store(vector.shape_cast(ir.VectorType.get([n], elem), v), buf, [c0])
    # output position -> source flat index
    src_index = np.arange(n, dtype="int64").reshape(shape).transpose(order).reshape(-1)
    mask = ctx.const(1, ir.VectorType.get([n], ir.IntegerType.get_signless(1)))
    zero = ctx.const(0, ir.VectorType.get([n], elem))
    out = zero
    for start, size in _slices(n):
        it = ir.VectorType.get([size], ir.IndexType.get())
        idx = arith.constant(it, ir.DenseElementsAttr.get(src_index[start:start + size], type=it))
        g = vector.gather(ir.VectorType.get([size], elem), buf, [c0], idx, _slice1d(mask, start, size),
                          _slice1d(zero, start, size))
        out = g if size == n else vector.insert_strided_slice(g, out, [start], [1])
    return vector.shape_cast(rt, out)


def _concat_axis(ctx, a: ir.Value, b: ir.Value, axis: int) -> ir.Value:
    from .reduce_scan import _concat
    return _concat(ctx, a, b, axis)


@lowers("tt.join")
def lower_tt_join(ctx, op):
    """join(a, b): a new minor dimension of size 2."""
    a, b = (ctx.get(v) for v in op.operands)
    t1 = ir.VectorType.get(list(T.shape(a.type)) + [1], T.element(a.type))
    ctx.bind(op.result, _concat_axis(ctx, vector.shape_cast(t1, a), vector.shape_cast(t1, b), len(T.shape(a.type))))


@lowers("tt.split")
def lower_tt_split(ctx, op):
    """split(x): the two halves of x's minor dimension (of size 2)."""
    from .reduce_scan import _slice
    x = ctx.get(op.operands[0])
    axis = len(T.shape(x.type)) - 1
    for k, r in enumerate(op.results):
        part = _slice(x, axis, k, 1)
        rt = ctx.type_of(r)
        ctx.bind(r, vector.shape_cast(rt, part) if isinstance(rt, ir.VectorType) else
                 vector.extract(part, [], [0] * len(T.shape(part.type))))


@lowers("tt.cat")
def lower_tt_cat(ctx, op):
    a, b = (ctx.get(v) for v in op.operands)
    ctx.bind(op.result, _concat_axis(ctx, a, b, 0))


@lowers("tt.gather")
def lower_tt_gather(ctx, op):
    """out[.., i, ..] = src[.., idx[.., i, ..], ..] along `axis`, through a stack copy of src."""
    from iree.compiler.dialects import memref
    import numpy as np
    src, idx = (ctx.get(v) for v in op.operands)
    axis = _int_attr(op.attrs["axis"])
    sshape, ishape = T.shape(src.type), T.shape(idx.type)
    elem = T.element(src.type)
    nsrc = int(np.prod(sshape))
    nout = int(np.prod(ishape))
    buf = memref.alloca(ir.MemRefType.get([nsrc], elem), [], [], alignment=64)
    c0 = arith.constant(ir.IndexType.get(), 0)
    vector.store(vector.shape_cast(ir.VectorType.get([nsrc], elem), src), buf, [c0])
    # flat source index: coordinates of the output, with idx replacing the axis coordinate
    strides = [int(np.prod(sshape[d + 1:])) for d in range(len(sshape))]
    coords = np.indices(ishape).reshape(len(ishape), -1)
    base = np.zeros(nout, dtype="int64")  # 1-D gathers have no other coordinate
    for d in range(len(ishape)):
        if d != axis:
            base += coords[d] * strides[d]
    i64 = ir.IntegerType.get_signless(64)
    vt = ir.VectorType.get([nout], i64)
    flat_idx = ctx.i64(vector.shape_cast(ir.VectorType.get([nout], T.element(idx.type)), idx))
    lin = arith.addi(arith.muli(flat_idx, ctx.const(strides[axis], vt)),
                     arith.constant(vt, ir.DenseElementsAttr.get(base, type=vt)))
    mask = ctx.const(1, ir.VectorType.get([nout], ir.IntegerType.get_signless(1)))
    g = vector.gather(ir.VectorType.get([nout], elem), buf, [c0], ctx.index(lin), mask,
                      ctx.const(0, ir.VectorType.get([nout], elem)))
    ctx.bind(op.result, vector.shape_cast(ctx.type_of(op.result), g))


@lowers("tt.histogram")
def lower_tt_histogram(ctx, op):
    """bins[b] = number of (masked-in) elements equal to b."""
    x = ctx.get(op.operands[0])
    mask = ctx.get(op.operands[1]) if len(op.operands) > 1 else None
    rt = ctx.type_of(op.result)
    nbins = T.shape(rt)[0]
    out_el = T.element(rt)
    n = 1
    for d in T.shape(x.type):
        n *= d
    flat = vector.shape_cast(ir.VectorType.get([n], T.element(x.type)), x)
    fm = vector.shape_cast(ir.VectorType.get([n], T.element(mask.type)), mask) if mask is not None else None
    acc = ctx.const(0, rt)
    ones = ctx.const(1, ir.VectorType.get([n], out_el))
    zeros = ctx.const(0, ir.VectorType.get([n], out_el))
    for b in range(nbins):
        hit = arith.cmpi(arith.CmpIPredicate.eq, flat, ctx.const(b, flat.type))
        if fm is not None:
            hit = arith.andi(hit, fm)
        count = vector.reduction(out_el, vector.CombiningKind.ADD, arith.select(hit, ones, zeros))
        acc = vector.insert(count, acc, [], [b])
    ctx.bind(op.result, acc)


@lowers("tt.unsplat")
def lower_tt_unsplat(ctx, op):
    """The one element of a single-element tensor, as a scalar."""
    x = ctx.get(op.operands[0])
    ctx.bind(op.result, vector.extract(x, [], [0] * len(T.shape(x.type))))


def _permute_loop(ctx, v: ir.Value, rt: ir.Type, order) -> ir.Value:
    """Big permutes: the source goes to the stack, and a loop gathers each 64-lane piece of each output row."""
    from iree.compiler.dialects import memref
    shape, out_shape = list(T.shape(v.type)), list(T.shape(rt))
    elem = T.element(v.type)
    n = 1
    for d in shape:
        n *= d
    src = row_loop.buffer(ctx, shape, elem, "permute-in")
    row_loop.write_all(v, src)
    flat = memref.collapse_shape(ir.MemRefType.get([n], elem), src, [list(range(len(shape)))])
    out = row_loop.buffer(ctx, out_shape, elem, "permute-out")
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    src_stride = [strides[order[d]] for d in range(len(shape))]   # per output dim
    idx_t = ir.IndexType.get()

    def body(idx, piece, width):
        base = arith.muli(piece, arith.constant(idx_t, src_stride[-1]))
        for i, st in zip(idx, src_stride[:-1]):
            base = arith.addi(base, arith.muli(i, arith.constant(idx_t, st)))
        vt = ir.VectorType.get([width], idx_t)
        lanes = arith.constant(vt, ir.DenseElementsAttr.get(
            np.arange(width, dtype="int64") * src_stride[-1], type=vt))
        offs = arith.addi(vector.broadcast(vt, base), lanes)
        on = ctx.const(1, ir.VectorType.get([width], ir.IntegerType.get_signless(1)))
        pt = ir.VectorType.get([width], elem)
        c0 = arith.constant(idx_t, 0)
        vector.store(vector.gather(pt, flat, [c0], offs, on, ctx.const(0, pt)), out, idx + [piece])
    row_loop.for_each_piece(out_shape, body)
    return row_loop.read_all(rt, out, ctx)
