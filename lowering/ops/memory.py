"""Pointer arithmetic, loads and stores.

A pointer is (argument, i64 element offsets).  Loads and stores whose
offsets are affine with a unit last stride become one masked vector load or
store per row (a plain one when every lane is on); broadcast rows, small
strides and transposed tiles have their own loads (`load_patterns.py`); every
other pointer tensor becomes a masked gather or scatter.  Masked-off lanes are
never touched, as on a GPU.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, memref, scf, vector

from ..analysis import pointers as P
from ..context import Affine, PtrValue
from ..errors import UnsupportedOp
from ..registry import lowers
from . import load_patterns as LP, prefetch, row_loop, streaming
from .. import types as T
from ...triton_frontend.ttir import TensorType

# Rows above this count use gathers instead of one vector op per row.
MAX_UNROLLED_ROWS = 256
# Stores of more rows (and `row_loop.MIN_LANES` lanes or more) run as a row loop: each unrolled
# row store carries its streaming-store variants, and a 128x128 `tl.dot` result took 0.75 s more
# to compile unrolled (1.95 against 1.20 s cold) for the same run time.
MAX_UNROLLED_STORE_ROWS = 64


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


def bool_pointee(pointee) -> bool:
    """i1 tensors live in memory as bytes."""
    return getattr(pointee, "name", "") == "i1"


def _to_memory(ctx, v: ir.Value, pointee) -> ir.Value:
    if bool_pointee(pointee):
        return arith.extui(T.like(v.type, ir.IntegerType.get_signless(8)), v)
    return v


def _from_memory(ctx, v: ir.Value, pointee) -> ir.Value:
    if bool_pointee(pointee):
        return arith.cmpi(arith.CmpIPredicate.ne, v, ctx.const(0, v.type))
    return v


def all_on(m: ir.Value, on=None) -> ir.Value:
    """`on` (a scalar known to imply every lane of the whole tile is on), else a reduction of `m`."""
    if on is not None:
        return on
    return vector.reduction(ir.IntegerType.get_signless(1), vector.CombiningKind.AND, m)


# AVX2 masked moves are slow (a vmaskmovps store costs several plain stores on Zen 3: a
# 16M-element add ran at 0.5x torch), and most masks are all on but at a tensor's end.
def _masked_load(t, mem, at, m, p, on=None) -> ir.Value:
    """`vector.maskedload`, as a plain load when every lane of `m` is on."""
    if_op = scf.IfOp(all_on(m, on), [t], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        scf.YieldOp([vector.load(t, mem, [at])])
    with ir.InsertionPoint(if_op.else_block):
        scf.YieldOp([vector.maskedload(t, mem, [at], m, p)])
    return if_op.results[0]


def _masked_store(mem, at, m, v, on=None, full=None) -> None:
    """`vector.maskedstore`, as a plain store (`full(v, mem, at)`) when every lane of `m` is on."""
    if_op = scf.IfOp(all_on(m, on), [], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        (full or _plain_store)(v, mem, at)
        scf.YieldOp([])
    with ir.InsertionPoint(if_op.else_block):
        vector.maskedstore(mem, [at], m, v)
        scf.YieldOp([])


def _plain_store(v, mem, at) -> None:
    vector.store(v, mem, [at])


def flat(ctx, v: ir.Value, n: int) -> ir.Value:
    """`v` as a 1-D vector of its `n` elements."""
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
    if _stage_for_dot(ctx, op, ptr, shape, elem, rt):
        val = _staged_load(ctx, mem, op, ptr, shape, mask, pas, mt)
    elif LP.is_uniform_rows(ptr.affine, shape):
        val = LP.uniform_row_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
        loaded = LP.uniform_affine(ctx, ptr, shape, mask, val)
    elif _use_flat(ptr.affine, shape):
        val = _flat_load(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif P.is_rowwise_contiguous(ptr.affine, shape) and rows_of(shape) <= MAX_UNROLLED_ROWS:
        prefetch.rows_ahead(ctx, mem, op, ptr.affine, shape, T.bitwidth(elem) // 8)
        val = _row_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif LP.is_column_contiguous(ptr.affine, shape):
        val = LP.column_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif LP.strided_step(ptr.affine, shape):
        val = LP.strided_row_loads(ctx, mem, ptr.affine, shape, mask, pas, mt)
    elif row_loop.wanted(shape, P.is_rowwise_contiguous(ptr.affine, shape), MAX_UNROLLED_ROWS):
        val = row_loop.load(ctx, mem, ptr, shape, mask, pas, mt, P.is_rowwise_contiguous(ptr.affine, shape))
    else:
        val = _gather(ctx, mem, ptr, shape, mask, pas, mt)
    ctx.bind(op.result, _from_memory(ctx, val, ptr.pointee), loaded)


def _stage_for_dot(ctx, op, ptr, shape, elem, rt) -> bool:
    """Whether this load's tile goes to a stack buffer for the `tt.dot` it alone feeds."""
    return (id(op) in ctx.dot_operands and ctx.chunk is None
            and P.is_rowwise_contiguous(ptr.affine, shape)
            and not bool_pointee(ptr.pointee) and T.element(rt) == elem)


def _staged_load(ctx, mem, op, ptr, shape, mask, pas, mt) -> ir.Value:
    """Fill the tile's own buffer row by row, widened to the type the matmul multiplies in
    (`ctx.staged`, read by `ops/dot.py`): converting each element once here is cheaper than
    in the matmul's inner loop, once per use.  The vector returned reads the buffer back for
    any other use; with none, it folds away."""
    from .dot import multiply_type
    buf = row_loop.buffer(ctx, shape, T.element(mt), f"dot operand {id(op)}")
    row_loop.fill(ctx, mem, ptr, shape, mask, pas, buf, rowwise=True)
    loaded = row_loop.read_all(mt, buf, ctx)
    wide = multiply_type(T.element(ctx.type_of(ctx.dot_operands[id(op)].result)))
    if wide != T.element(mt):
        buf = row_loop.convert(ctx, buf, wide, f"dot operand {id(op)}")
    ctx.staged[op.result] = buf
    return loaded


def _use_flat(aff, shape) -> bool:
    """Dense tiles with many or short rows load as one run: per-row loads would unroll one op per
    row (a (1024, 2) tile was 1024 two-lane loads)."""
    return (len(shape) > 1 and P.is_dense(aff, shape)
            and (rows_of(shape) > MAX_UNROLLED_ROWS or shape[-1] < FLAT_PIECE // 8))


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
    m = flat(ctx, mask, n) if mask is not None else None
    p = flat(ctx, pas, n)
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


def rows_of(shape) -> int:
    """Rows of a tile: the product of all dims but the last."""
    n = 1
    for d in shape[:-1]:
        n *= d
    return n


def _row_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    row_t = ir.VectorType.get([shape[-1]], T.element(mt))

    def row(at, m, p):
        if m is None:
            return vector.load(row_t, mem, [at])
        return _masked_load(row_t, mem, at, m, p, ctx.mask_hints.get(mask))
    return by_rows(ctx, aff, shape, mask, pas, row)


def by_rows(ctx, aff: Affine, shape, mask, pas, row) -> ir.Value:
    """A tile loaded one row at a time: `row(start index, row mask, row passthrough)` for each
    row of the affine pointer (mask and passthrough None when the load has no mask)."""
    result = None
    for idx, start in P.row_starts(aff, shape):
        m = p = None
        if mask is not None:
            m = vector.extract(mask, [], list(idx)) if idx else mask
            p = vector.extract(pas, [], list(idx)) if idx else pas
        r = row(ctx.index(start), m, p)
        if not idx:
            return r
        result = vector.insert(r, result if result is not None else pas, [], list(idx))
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
    idx = ctx.index(flat(ctx, ptr.offset, n))
    m = flat(ctx, mask, n) if mask is not None else ctx.const(1, ir.VectorType.get([n], ir.IntegerType.get_signless(1)))
    p = flat(ctx, pas, n)
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
        v = flat(ctx, val, n)
        m = flat(ctx, mask, n) if mask is not None else None
        for start, size, at in _flat_pieces(ctx, ptr.affine, n):
            if m is None:
                full(_slice1d(v, start, size), mem, at)
            else:
                _masked_store(mem, at, _slice1d(m, start, size), _slice1d(v, start, size),
                              ctx.mask_hints.get(mask), full)
        return
    rowwise = P.is_rowwise_contiguous(ptr.affine, shape)
    if row_loop.wanted(shape, rowwise, MAX_UNROLLED_STORE_ROWS):
        row_loop.store(ctx, mem, ptr, shape, mask, val, rowwise)
        return
    if rowwise and rows_of(shape) <= MAX_UNROLLED_ROWS:
        for idx, start in P.row_starts(ptr.affine, shape):
            start = ctx.index(start)
            row = vector.extract(val, [], list(idx)) if idx else val
            if mask is None:
                full(row, mem, start)
            else:
                m = vector.extract(mask, [], list(idx)) if idx else mask
                _masked_store(mem, start, m, row, ctx.mask_hints.get(mask), full)
        return
    n = 1
    for d in shape:
        n *= d
    idx = ctx.index(flat(ctx, ptr.offset, n))
    m = flat(ctx, mask, n) if mask is not None else ctx.const(1, ir.VectorType.get([n], ir.IntegerType.get_signless(1)))
    v = flat(ctx, val, n)
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
