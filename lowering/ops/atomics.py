"""`tt.atomic_rmw` and `tt.atomic_cas` as real atomic instructions.

Programs run in parallel on the cores, so each lane is one
`memref.atomic_rmw` (or a compare-and-swap `memref.generic_atomic_rmw`),
issued in lane order under its mask; the op's result holds the old values.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, memref, scf, vector

from ..context import PtrValue
from ..errors import UnsupportedOp
from ..registry import lowers
from .. import types as T

_INT_KINDS = {"add": "addi", "max": "maxs", "min": "mins", "umax": "maxu", "umin": "minu",
              "and": "andi", "or": "ori", "xor": "xori", "xchg": "assign", "exch": "assign"}
_FLOAT_KINDS = {"fadd": "addf", "add": "addf", "max": "maximumf", "min": "minimumf", "xchg": "assign",
                "exch": "assign"}


def _kind(op, elem: ir.Type):
    word = op.extra.get("keyword", "")
    table = _FLOAT_KINDS if T.is_float(elem) else _INT_KINDS
    if word not in table:
        raise UnsupportedOp(f"atomic kind {word!r} on {elem}")
    return getattr(arith.AtomicRMWKind, table[word])


def _lanes(v: ir.Value, n: int):
    return vector.shape_cast(ir.VectorType.get([n], T.element(v.type)), v) if n else v


def _for_each_lane(ctx, op, ptr: PtrValue, mask, body):
    """Run `body(mem, index, lane) -> old value` per lane under its mask; bind the old values."""
    mem = ctx.memref(ptr.arg, ptr.pointee)
    ctx.written_args.add(ptr.arg)
    rt = ctx.type_of(op.result) if op.results else None
    shape = T.shape(ptr.offset.type)
    if not shape:
        def scalar(lane):
            return body(mem, ctx.index(ptr.offset), lane)
        old = _masked(ctx, mask, rt, lambda: scalar(None))
        if op.results:
            ctx.bind(op.result, old)
        return
    n = 1
    for d in shape:
        n *= d
    offs = _lanes(ptr.offset, n)
    masks = _lanes(mask, n) if mask is not None else None
    elem = T.element(rt) if rt is not None else None
    idx = ir.IndexType.get()
    dyn = [ir.ShapedType.get_dynamic_size()]
    init = [ctx.const(0, ir.VectorType.get([n], elem))] if rt is not None else []
    loop = scf.ForOp(arith.constant(idx, 0), arith.constant(idx, n), arith.constant(idx, 1), init)
    with ir.InsertionPoint(loop.body):
        i = loop.induction_variable
        where = ctx.index(vector.extract(offs, [i], dyn))
        m = vector.extract(masks, [i], dyn) if masks is not None else None
        old = _masked(ctx, m, elem, lambda: body(mem, where, i))
        if rt is not None:
            scf.YieldOp([vector.insert(old, loop.inner_iter_args[0], [i], dyn)])
        else:
            scf.YieldOp([])
    if rt is not None:
        ctx.bind(op.result, vector.shape_cast(rt, loop.results[0]))


def _masked(ctx, mask, rt, emit):
    if mask is None:
        return emit()
    if_op = scf.IfOp(mask, [rt] if rt is not None else [], has_else=rt is not None)
    with ir.InsertionPoint(if_op.then_block):
        v = emit()
        scf.YieldOp([v] if rt is not None else [])
    if rt is not None:
        with ir.InsertionPoint(if_op.else_block):
            scf.YieldOp([ctx.const(0, rt)])
        return if_op.results[0]
    return None


@lowers("tt.atomic_rmw")
def lower_tt_atomic_rmw(ctx, op):
    ptr = ctx.get(op.operands[0])
    val = ctx.get(op.operands[1])
    mask = ctx.get(op.operands[2]) if len(op.operands) > 2 else None
    elem = T.element(val.type)
    kind = _kind(op, elem)
    n = 1
    for d in T.shape(val.type):
        n *= d
    vals = _lanes(val, n) if T.shape(val.type) else None
    dyn = [ir.ShapedType.get_dynamic_size()]

    def body(mem, where, lane):
        v = vector.extract(vals, [lane], dyn) if vals is not None else val
        if str(elem) == "bf16" and kind != arith.AtomicRMWKind.assign:
            return _bf16_rmw(kind, v, mem, where)
        return memref.atomic_rmw(kind, v, mem, [where])

    _for_each_lane(ctx, op, ptr, mask, body)


_F32_COMBINE = {arith.AtomicRMWKind.addf: arith.addf, arith.AtomicRMWKind.maximumf: arith.maximumf,
                arith.AtomicRMWKind.minimumf: arith.minimumf}


def _bf16_rmw(kind, v, mem, where):
    """bf16 buffers become i16 inside IREE, where `atomic_rmw addf` is refused: a
    compare-and-swap loop that combines in f32 and rounds back."""
    bf16, f32 = v.type, ir.F32Type.get()
    rmw = memref.GenericAtomicRMWOp(bf16, mem, [where])
    block = rmw.atomic_body.blocks.append(bf16)
    with ir.InsertionPoint(block):
        cur = block.arguments[0]
        new = _F32_COMBINE[kind](arith.extf(f32, cur), arith.extf(f32, v))
        memref.AtomicYieldOp(arith.truncf(bf16, new))
    return rmw.result


@lowers("tt.atomic_cas")
def lower_tt_atomic_cas(ctx, op):
    ptr, cmp, val = (ctx.get(v) for v in op.operands[:3])
    elem = T.element(val.type)
    n = 1
    for d in T.shape(val.type):
        n *= d
    cmps = _lanes(cmp, n) if T.shape(cmp.type) else None
    vals = _lanes(val, n) if T.shape(val.type) else None
    dyn = [ir.ShapedType.get_dynamic_size()]

    def body(mem, where, lane):
        c = vector.extract(cmps, [lane], dyn) if cmps is not None else cmp
        v = vector.extract(vals, [lane], dyn) if vals is not None else val
        rmw = memref.GenericAtomicRMWOp(elem, mem, [where])
        block = rmw.atomic_body.blocks.append(elem)
        with ir.InsertionPoint(block):
            cur = block.arguments[0]
            if T.is_float(elem):
                w = T.bitwidth(elem)
                it = ir.IntegerType.get_signless(w)
                same = arith.cmpi(arith.CmpIPredicate.eq, arith.bitcast(it, cur), arith.bitcast(it, c))
            else:
                same = arith.cmpi(arith.CmpIPredicate.eq, cur, c)
            memref.AtomicYieldOp(arith.select(same, v, cur))
        return rmw.result

    _for_each_lane(ctx, op, ptr, None, body)


@lowers("tt.atomic_poll")
def lower_tt_atomic_poll(ctx, op):
    """Spin until *ptr == expected, as atomic reads; with a timeout, give up after
    `timeout_ns` polls (each poll takes at least a nanosecond, and CPU executables
    have no clock) and return whether the value matched."""
    ptr = ctx.get(op.operands[0])
    if not isinstance(ptr, PtrValue) or T.shape(ptr.offset.type):
        raise UnsupportedOp("tt.atomic_poll on a tensor of pointers")
    expected = ctx.get(op.operands[1])
    timeout = ctx.get(op.operands[2]) if len(op.operands) > 2 else None
    mem = ctx.memref(ptr.arg, ptr.pointee)
    ctx.written_args.add(ptr.arg)
    where = ctx.index(ptr.offset)
    elem = expected.type
    i1, i64 = ir.IntegerType.get_signless(1), ir.IntegerType.get_signless(64)
    w = scf.WhileOp([i64, i1], [ctx.const(0, i64), ctx.const(0, i1)])
    before = w.before.blocks.append(i64, i1)
    with ir.InsertionPoint(before):
        polls = before.arguments[0]
        # memref has no atomic load: an atomic `or` of zero reads without changing the value
        cur = memref.atomic_rmw(arith.AtomicRMWKind.ori, ctx.const(0, elem), mem, [where])
        matched = arith.cmpi(arith.CmpIPredicate.eq, cur, expected)
        again = arith.xori(matched, ctx.const(1, i1))
        if timeout is not None:
            again = arith.andi(again, arith.cmpi(arith.CmpIPredicate.slt, polls, ctx.int_cast(timeout, 64)))
        scf.ConditionOp(again, [arith.addi(polls, ctx.const(1, i64)), matched])
    after = w.after.blocks.append(i64, i1)
    with ir.InsertionPoint(after):
        scf.YieldOp(list(after.arguments))
    if op.results:
        ctx.bind(op.result, w.results[1])
