"""Pointer arithmetic, loads and stores.

A pointer is (argument, i64 element offsets).  Loads and stores whose
offsets are affine with a unit last stride become one masked vector load or
store per row (a plain one when every lane is on); loads with a zero last
stride become one scalar load per row, broadcast, and loads with a small
constant last stride k one wider masked load per row that keeps every k-th
lane.  2-D tiles whose first dim is the unit-stride one load column by column
and transpose.  Every other pointer tensor becomes a masked gather or scatter.  Masked-off lanes are never
touched, as on a GPU.
"""
from __future__ import annotations

from typing import Optional

from iree.compiler import ir
from iree.compiler.dialects import arith, memref, scf, vector

from ..analysis import pointers as P
from ..context import Affine, PtrValue
from ..errors import UnsupportedOp
from ..registry import lowers
from . import row_loop, streaming
from .. import types as T
from ...triton_frontend.ttir import TensorType

# Rows above this count use gathers instead of one vector op per row.
MAX_UNROLLED_ROWS = 256


def _checked(ctx) -> bool:
    return ctx.options is not None and getattr(ctx.options, "bounds_check", False)


@lowers("tt.addptr")
def lower_tt_addptr(ctx, op):
    ptr_v, off_v = op.operands
    ptr = ctx.get(ptr_v)
    off = ctx.i64(ctx.get(off_v))
    new = arith.addi(ptr.offset, off)
    aff = None
    if isinstance(op.result.type, TensorType):
        aff = P.add(P.operand_affine(ctx, ptr_v), P.operand_affine(ctx, off_v))
    ctx.bind(op.result, PtrValue(ptr.arg, new, ptr.pointee, aff))


def _bool_pointee(pointee) -> bool:
    return getattr(pointee, "name", "") == "i1"


def _to_memory(ctx, v: ir.Value, pointee) -> ir.Value:
    if _bool_pointee(pointee):
        return arith.extui(T.like(v.type, ir.IntegerType.get_signless(8)), v)
    return v


def _from_memory(ctx, v: ir.Value, pointee) -> ir.Value:
    if _bool_pointee(pointee):
        return arith.cmpi(arith.CmpIPredicate.ne, v, ctx.const(0, v.type))
    return v


def _all_on(m: ir.Value, on=None) -> ir.Value:
    """`on` (a scalar known to imply every lane of the whole tile is on), else a reduction of `m`."""
    if on is not None:
        return on
    return vector.reduction(ir.IntegerType.get_signless(1), vector.CombiningKind.AND, m)


# AVX2 masked moves are slow (a vmaskmovps store costs several plain stores on Zen 3: a
# 16M-element add ran at 0.5x torch), and most masks are all on but at a tensor's end.
def _masked_load(t, mem, at, m, p, on=None) -> ir.Value:
    """`vector.maskedload`, as a plain load when every lane of `m` is on."""
    if_op = scf.IfOp(_all_on(m, on), [t], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        scf.YieldOp([vector.load(t, mem, [at])])
    with ir.InsertionPoint(if_op.else_block):
        scf.YieldOp([vector.maskedload(t, mem, [at], m, p)])
    return if_op.results[0]


def _masked_store(mem, at, m, v, on=None, full=None) -> None:
    """`vector.maskedstore`, as a plain store (`full(v, mem, at)`) when every lane of `m` is on."""
    if_op = scf.IfOp(_all_on(m, on), [], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        (full or _plain_store)(v, mem, at)
        scf.YieldOp([])
    with ir.InsertionPoint(if_op.else_block):
        vector.maskedstore(mem, [at], m, v)
        scf.YieldOp([])


def _plain_store(v, mem, at) -> None:
    vector.store(v, mem, [at])


def _flat(ctx, v: ir.Value, n: int) -> ir.Value:
    t = ir.VectorType.get([n], T.element(v.type))
    return v if v.type == t else vector.shape_cast(t, v)


@lowers("tt.load")
def lower_tt_load(ctx, op):
    ptr_v = op.operands[0]
    ptr = ctx.get(ptr_v)
    mask = ctx.get(op.operands[1]) if len(op.operands) > 1 else None
    other = ctx.get(op.operands[2]) if len(op.operands) > 2 else None
    if not isinstance(ptr, PtrValue):
        raise UnsupportedOp("loads through pointers that are not kernel arguments")
    mem = ctx.memref(ptr.arg, ptr.pointee)
    elem = T.memory_scalar(ptr.pointee)
    rt = ctx.type_of(op.result)
    if not isinstance(ptr_v.type, TensorType):
        if _checked(ctx):
            from .bounds import check_access
            mask = check_access(ctx, op, ptr, mask, ())
        ctx.bind(op.result, _scalar_load(ctx, mem, ptr, mask, other, rt))
        return
    shape = T.shape(ptr.offset.type)
    mt = ir.VectorType.get(list(shape), elem)
    pas = _to_memory(ctx, other, ptr.pointee) if other is not None else ctx.const(0, mt)
    if _checked(ctx):
        from .bounds import check_access
        mask = check_access(ctx, op, ptr, mask, shape)
    loaded = None
    if _is_uniform_rows(ptr.affine, shape):
        val = _uniform_row_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
        loaded = _uniform_affine(ctx, ptr, shape, mask, val)
    elif _use_flat(ptr.affine, shape):
        val = _flat_load(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif P.is_rowwise_contiguous(ptr.affine, shape) and _rows(shape) <= MAX_UNROLLED_ROWS:
        val = _row_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif _is_column_contiguous(ptr.affine, shape):
        val = _column_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif _strided_step(ptr.affine, shape):
        val = _strided_row_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif row_loop.wanted(shape, P.is_rowwise_contiguous(ptr.affine, shape), MAX_UNROLLED_ROWS):
        val = row_loop.load(ctx, mem, ptr, shape, mask, pas, mt, P.is_rowwise_contiguous(ptr.affine, shape))
    else:
        val = _gather(ctx, mem, ptr, shape, mask, pas, mt)
    ctx.bind(op.result, _from_memory(ctx, val, ptr.pointee), loaded)


def _uniform_affine(ctx, ptr: PtrValue, shape, mask, val) -> Optional[Affine]:
    """An unmasked load of one integer for every lane is itself uniform: an index read from
    memory (Inductor's embedding `w[idx[x // D] * D + x % D]`) then keeps rows contiguous."""
    elem = T.memory_scalar(ptr.pointee)
    if mask is not None or _rows(shape) != 1 or _bool_pointee(ptr.pointee) or not isinstance(elem, ir.IntegerType):
        return None
    lane0 = vector.extract(_flat(ctx, val, shape[-1]), [], [0])
    return Affine(P.scalar_base(lane0), (0,) * len(shape))


def _is_uniform_rows(aff, shape) -> bool:
    """Every lane of a row reads one address (a zero last stride), as Inductor's per-channel
    parameter loads do (`w[(x // HW) % C]` over a chunk inside one channel)."""
    return (aff is not None and shape[-1] > 1 and P.const_int(aff.strides[-1]) == 0
            and _rows(shape) <= MAX_UNROLLED_ROWS)


def _uniform_row_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    """One scalar load per row, broadcast to its lanes, where a gather would load every lane.
    With a mask, the scalar is read only when some lane of the row is on."""
    elem = T.element(mt)
    row_t = ir.VectorType.get([shape[-1]], elem)
    result = None
    for idx, start in P.row_starts(aff, shape):
        at = ctx.index(start)
        if mask is None:
            row = vector.broadcast(row_t, memref.load(mem, [at]))
        else:
            m = vector.extract(mask, [], list(idx)) if idx else mask
            p = vector.extract(pas, [], list(idx)) if idx else pas
            any_on = vector.reduction(ir.IntegerType.get_signless(1), vector.CombiningKind.OR, m)
            if_op = scf.IfOp(any_on, [elem], has_else=True)
            with ir.InsertionPoint(if_op.then_block):
                scf.YieldOp([memref.load(mem, [at])])
            with ir.InsertionPoint(if_op.else_block):
                scf.YieldOp([arith.constant(elem, ir.FloatAttr.get(elem, 0.0) if T.is_float(elem)
                                            else ir.IntegerAttr.get(elem, 0))])
            row = arith.select(m, vector.broadcast(row_t, if_op.results[0]), p)
        if not idx:
            return row
        result = vector.insert(row, result if result is not None else pas, [], list(idx))
    return result


def _is_column_contiguous(aff, shape) -> bool:
    """A 2-D tile whose first dim is the unit-stride one (Inductor's outer reductions: x
    contiguous, r strided), with few enough columns to load one by one."""
    return (aff is not None and len(shape) == 2 and shape[0] >= 8 and P.const_int(aff.strides[0]) == 1
            and P.const_int(aff.strides[1]) != 1 and shape[1] <= MAX_UNROLLED_ROWS)


def _column_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    """One vector load per column, then a transpose into the (X, R) tile: a gather would load
    each lane, and LLVM transposes a few registers with shuffles.  A mask is tested once for
    the whole tile; only a partial tile transposes it and loads masked columns."""
    if mask is None:
        return _columns(ctx, mem, aff, shape, None, None, mt)
    if_op = scf.IfOp(_all_on(mask, ctx.mask_hints.get(mask)), [mt], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        scf.YieldOp([_columns(ctx, mem, aff, shape, None, None, mt)])
    with ir.InsertionPoint(if_op.else_block):
        x, r = shape
        tmask = vector.transpose(ir.VectorType.get([r, x], T.element(mask.type)), mask, [1, 0])
        tpas = vector.transpose(ir.VectorType.get([r, x], T.element(mt)), pas, [1, 0])
        scf.YieldOp([_columns(ctx, mem, aff, shape, tmask, tpas, mt)])
    return if_op.results[0]


def _columns(ctx, mem, aff: Affine, shape, tmask, tpas, mt) -> ir.Value:
    x, r = shape
    col_t = ir.VectorType.get([x], T.element(mt))
    cols_t = ir.VectorType.get([r, x], T.element(mt))
    out = tpas if tpas is not None else ctx.const(0, cols_t)
    for j in range(r):
        at = ctx.index(P.materialize_base(Affine(P.s_add(aff.base, P.s_mul(aff.strides[1], j)), ())))
        if tmask is None:
            col = vector.load(col_t, mem, [at])
        else:
            col = vector.maskedload(col_t, mem, [at], vector.extract(tmask, [], [j]), vector.extract(tpas, [], [j]))
        out = vector.insert(col, out, [], [j])
    return vector.transpose(mt, out, [1, 0])


# Rows with a small constant lane stride load as one wider run and keep every k-th lane.
MAX_LOAD_STEP = 4
MAX_STRIDED_LANES = 256


def _strided_step(aff, shape) -> int:
    """k when each row reads every k-th element (2 <= k <= MAX_LOAD_STEP; Inductor's pooling
    windows `2 * x0 + ...`), else 0."""
    if aff is None or _rows(shape) > MAX_UNROLLED_ROWS:
        return 0
    k = P.const_int(aff.strides[-1])
    return k if k is not None and 2 <= k <= MAX_LOAD_STEP and k * shape[-1] <= MAX_STRIDED_LANES else 0


def _strided_row_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    """Per row, a masked load of k * n lanes that reads only lanes 0, k, 2k, .. (a lane past the
    row's last element is never touched), then a shuffle that keeps those: one or two vector
    loads and permutes where a gather would load each lane."""
    k, n = _strided_step(aff, shape), shape[-1]
    elem = T.element(mt)
    i1 = ir.IntegerType.get_signless(1)
    wide_t = ir.VectorType.get([k * n], elem)
    pick = [k * i for i in range(n)]
    lane_mask_t = ir.VectorType.get([n], i1)
    on, off = (arith.constant(lane_mask_t, ir.DenseElementsAttr.get_splat(lane_mask_t, ir.BoolAttr.get(b)))
               for b in (True, False))
    result = None
    for idx, start in P.row_starts(aff, shape):
        at = ctx.index(start)
        m = on if mask is None else (vector.extract(mask, [], list(idx)) if idx else mask)
        p = vector.extract(pas, [], list(idx)) if idx else pas
        # position j of the wide run reads lane j // k of the row when j % k == 0
        wide_m = vector.shuffle(m, off, [j // k if j % k == 0 else n for j in range(k * n)])
        zero = arith.constant(wide_t, ir.DenseElementsAttr.get_splat(
            wide_t, ir.FloatAttr.get(elem, 0.0) if T.is_float(elem) else ir.IntegerAttr.get(elem, 0)))
        wide = vector.maskedload(wide_t, mem, [at], wide_m, zero)
        row = arith.select(m, vector.shuffle(wide, wide, pick), p)
        if not idx:
            return row
        result = vector.insert(row, result if result is not None else pas, [], list(idx))
    return result


def _use_flat(aff, shape) -> bool:
    """Dense tiles with many or short rows load as one run: per-row loads would unroll one op per
    row (a (1024, 2) tile was 1024 two-lane loads)."""
    return (len(shape) > 1 and P.is_dense(aff, shape)
            and (_rows(shape) > MAX_UNROLLED_ROWS or shape[-1] < FLAT_PIECE // 8))


# Dense runs are moved in pieces of this many lanes.
FLAT_PIECE = 256


def _flat_pieces(ctx, aff, n):
    base = P.materialize_base(aff)
    for start, size in [(i, min(FLAT_PIECE, n - i)) for i in range(0, n, FLAT_PIECE)]:
        off = base if start == 0 else arith.addi(base, arith.constant(base.type, start))
        yield start, size, ctx.index(off)


def _flat_load(ctx, mem, aff, shape, mask, pas, mt) -> ir.Value:
    n = 1
    for d in shape:
        n *= d
    m = _flat(ctx, mask, n) if mask is not None else None
    p = _flat(ctx, pas, n)
    out = p
    for start, size, at in _flat_pieces(ctx, aff, n):
        part_t = ir.VectorType.get([size], T.element(mt))
        if m is None:
            part = vector.load(part_t, mem, [at])
        else:
            part = _masked_load(part_t, mem, at, _slice1d(m, start, size), _slice1d(p, start, size),
                                ctx.mask_hints.get(mask))
        out = part if size == n else vector.insert_strided_slice(part, out, [start], [1])
    return vector.shape_cast(mt, out)


def _rows(shape) -> int:
    n = 1
    for d in shape[:-1]:
        n *= d
    return n


def _row_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    row_t = ir.VectorType.get([shape[-1]], T.element(mt))
    result = None
    for idx, start in P.row_starts(aff, shape):
        start = ctx.index(start)
        if mask is None:
            row = vector.load(row_t, mem, [start])
        else:
            m = vector.extract(mask, [], list(idx)) if idx else mask
            p = vector.extract(pas, [], list(idx)) if idx else pas
            row = _masked_load(row_t, mem, start, m, p, ctx.mask_hints.get(mask))
        if not idx:
            return row
        result = vector.insert(row, result if result is not None else pas, [], list(idx))
    return result


# Gathers and scatters are issued in slices of this many lanes: iree-compile
# time grows steeply with one very wide vector.gather (minutes at 2048 lanes).
GATHER_SLICE = 64


def _slices(n: int):
    return [(i, min(GATHER_SLICE, n - i)) for i in range(0, n, GATHER_SLICE)]


def _slice1d(v: ir.Value, start: int, size: int) -> ir.Value:
    if T.shape(v.type)[0] == size:
        return v
    rt = ir.VectorType.get([size], T.element(v.type))
    return vector.extract_strided_slice(rt, v, [start], [size], [1])


def _gather(ctx, mem, ptr: PtrValue, shape, mask, pas, mt) -> ir.Value:
    n = 1
    for d in shape:
        n *= d
    idx = ctx.index(_flat(ctx, ptr.offset, n))
    m = _flat(ctx, mask, n) if mask is not None else ctx.const(1, ir.VectorType.get([n], ir.IntegerType.get_signless(1)))
    p = _flat(ctx, pas, n)
    c0 = arith.constant(ir.IndexType.get(), 0)
    out = p
    for start, size in _slices(n):
        part_t = ir.VectorType.get([size], T.element(mt))
        g = vector.gather(part_t, mem, [c0], _slice1d(idx, start, size), _slice1d(m, start, size),
                          _slice1d(p, start, size))
        out = g if size == n else vector.insert_strided_slice(g, out, [start], [1])
    return out if out.type == mt else vector.shape_cast(mt, out)


def _scalar_load(ctx, mem, ptr: PtrValue, mask, other, rt) -> ir.Value:
    i = ctx.index(ptr.offset)
    if mask is None:
        return _from_memory(ctx, memref.load(mem, [i]), ptr.pointee)
    if_op = scf.IfOp(mask, [rt], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        scf.YieldOp([_from_memory(ctx, memref.load(mem, [i]), ptr.pointee)])
    with ir.InsertionPoint(if_op.else_block):
        scf.YieldOp([other if other is not None else ctx.const(0, rt)])
    return if_op.results[0]


@lowers("tt.store")
def lower_tt_store(ctx, op):
    ptr_v, val_v = op.operands[0], op.operands[1]
    ptr = ctx.get(ptr_v)
    val = _to_memory(ctx, ctx.get(val_v), ptr.pointee)
    mask = ctx.get(op.operands[2]) if len(op.operands) > 2 else None
    if not isinstance(ptr, PtrValue):
        raise UnsupportedOp("stores through pointers that are not kernel arguments")
    ctx.written_args.add(ptr.arg)
    mem = ctx.memref(ptr.arg, ptr.pointee)
    if not isinstance(ptr_v.type, TensorType):
        if _checked(ctx):
            from .bounds import check_access
            mask = check_access(ctx, op, ptr, mask, ())
        i = ctx.index(ptr.offset)
        if mask is None:
            memref.store(val, mem, [i])
        else:
            if_op = scf.IfOp(mask)
            with ir.InsertionPoint(if_op.then_block):
                memref.store(val, mem, [i])
                scf.YieldOp([])
        return
    shape = T.shape(ptr.offset.type)
    if _checked(ctx):
        from .bounds import check_access
        mask = check_access(ctx, op, ptr, mask, shape)
    policy = streaming.policy_of(op)

    def full(v, mem, at):
        streaming.full_store(ctx, v, mem, at, ptr.arg, policy)
    if _use_flat(ptr.affine, shape):
        n = 1
        for d in shape:
            n *= d
        v = _flat(ctx, val, n)
        m = _flat(ctx, mask, n) if mask is not None else None
        for start, size, at in _flat_pieces(ctx, ptr.affine, n):
            if m is None:
                full(_slice1d(v, start, size), mem, at)
            else:
                _masked_store(mem, at, _slice1d(m, start, size), _slice1d(v, start, size),
                              ctx.mask_hints.get(mask), full)
        return
    if P.is_rowwise_contiguous(ptr.affine, shape) and _rows(shape) <= MAX_UNROLLED_ROWS:
        for idx, start in P.row_starts(ptr.affine, shape):
            start = ctx.index(start)
            row = vector.extract(val, [], list(idx)) if idx else val
            if mask is None:
                full(row, mem, start)
            else:
                m = vector.extract(mask, [], list(idx)) if idx else mask
                _masked_store(mem, start, m, row, ctx.mask_hints.get(mask), full)
        return
    rowwise = P.is_rowwise_contiguous(ptr.affine, shape)
    if row_loop.wanted(shape, rowwise, MAX_UNROLLED_ROWS):
        row_loop.store(ctx, mem, ptr, shape, mask, val, rowwise)
        return
    n = 1
    for d in shape:
        n *= d
    idx = ctx.index(_flat(ctx, ptr.offset, n))
    m = _flat(ctx, mask, n) if mask is not None else ctx.const(1, ir.VectorType.get([n], ir.IntegerType.get_signless(1)))
    v = _flat(ctx, val, n)
    c0 = arith.constant(ir.IndexType.get(), 0)
    for start, size in _slices(n):
        vector.scatter(None, mem, [c0], _slice1d(idx, start, size), _slice1d(m, start, size), _slice1d(v, start, size))


@lowers("tt.bitcast")
def lower_tt_bitcast(ctx, op):
    src = ctx.get(op.operands[0])
    if not isinstance(src, PtrValue):
        ctx.bind(op.result, arith.bitcast(ctx.type_of(op.result), src))
        return
    rt = op.result.type
    pointee = (rt.element if isinstance(rt, TensorType) else rt).pointee
    have, want = T.bitwidth(T.memory_scalar(src.pointee)), T.bitwidth(T.memory_scalar(pointee))
    off, aff = src.offset, src.affine
    if have != want:
        # element offsets are in units of the pointee; rescale them
        num, den = (have // want, 1) if have > want else (1, want // have)
        off = arith.divsi(arith.muli(off, ctx.const(num, off.type)), ctx.const(den, off.type))
        aff = None
    ctx.bind(op.result, PtrValue(src.arg, off, pointee, aff))
