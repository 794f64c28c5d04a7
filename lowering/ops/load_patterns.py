"""Loads whose rows are not one unit-stride run each, without a gather.

- Broadcast rows (a zero last stride: Inductor's per-channel parameters at
  `(x // HW) % C`): one scalar load per row.  An unmasked integer load of this
  kind is itself a uniform affine form, so an index read from memory keeps its
  row contiguous (Inductor's embedding `w[idx[x // D] * D + x % D]`).
- Small constant strides (2-4: pooling windows): one masked load of k*n lanes
  that reads only every k-th lane, then a shuffle.
- Transposed tiles (a 2-D tile whose first dim has unit stride: outer
  reductions): one load per column, then a transpose.

`memory.lower_tt_load` picks these before falling back to a gather.
"""
from __future__ import annotations

from typing import Optional

from iree.compiler import ir
from iree.compiler.dialects import arith, memref, scf, vector

from ..analysis import pointers as P
from ..context import Affine, PtrValue
from .. import host, types as T
from . import memory


def uniform_affine(ctx, ptr: PtrValue, shape, mask, val) -> Optional[Affine]:
    """An unmasked load of one integer for every lane is itself uniform: an index read from
    memory (Inductor's embedding `w[idx[x // D] * D + x % D]`) then keeps rows contiguous."""
    elem = T.memory_scalar(ptr.pointee)
    if (mask is not None or memory.rows_of(shape) != 1 or memory.bool_pointee(ptr.pointee)
            or not isinstance(elem, ir.IntegerType)):
        return None
    lane0 = vector.extract(memory.flat(ctx, val, shape[-1]), [], [0])
    return Affine(P.scalar_base(lane0), (0,) * len(shape))


def is_uniform_rows(aff, shape) -> bool:
    """Every lane of a row reads one address (a zero last stride), as Inductor's per-channel
    parameter loads do (`w[(x // HW) % C]` over a chunk inside one channel)."""
    return (aff is not None and shape[-1] > 1 and P.const_int(aff.strides[-1]) == 0
            and memory.rows_of(shape) <= memory.MAX_UNROLLED_ROWS)


def uniform_row_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    """One scalar load per row, broadcast to its lanes, where a gather would load every lane.
    With a mask, the scalar is read only when some lane of the row is on."""
    elem = T.element(mt)
    row_t = ir.VectorType.get([shape[-1]], elem)

    def row(at, m, p):
        if m is None:
            return vector.broadcast(row_t, memref.load(mem, [at]))
        any_on = vector.reduction(ir.IntegerType.get_signless(1), vector.CombiningKind.OR, m)
        if_op = scf.IfOp(any_on, [elem], has_else=True)
        with ir.InsertionPoint(if_op.then_block):
            scf.YieldOp([memref.load(mem, [at])])
        with ir.InsertionPoint(if_op.else_block):
            scf.YieldOp([ctx.const(0, elem)])
        return arith.select(m, vector.broadcast(row_t, if_op.results[0]), p)
    return memory.by_rows(ctx, aff, shape, mask, pas, row)


def is_column_contiguous(aff, shape) -> bool:
    """A 2-D tile whose first dim is the unit-stride one (Inductor's outer reductions: x
    contiguous, r strided), with few enough columns to load one by one."""
    return (aff is not None and len(shape) == 2 and shape[0] >= 8 and P.const_int(aff.strides[0]) == 1
            and P.const_int(aff.strides[1]) != 1 and shape[1] <= memory.MAX_UNROLLED_ROWS)


def column_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    """One vector load per column, interleaved into the (X, R) tile, where a gather would load
    each lane.  A mask is tested once for the whole tile; only a partial tile picks out its
    columns and loads masked ones."""
    if mask is None:
        return _columns(ctx, mem, aff, shape, None, None, mt)
    if_op = scf.IfOp(memory.all_on(mask, ctx.mask_hints.get(mask)), [mt], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        scf.YieldOp([_columns(ctx, mem, aff, shape, None, None, mt)])
    with ir.InsertionPoint(if_op.else_block):
        masks, passes = _column_list(ctx, mask, shape), _column_list(ctx, pas, shape)
        scf.YieldOp([_columns(ctx, mem, aff, shape, masks, passes, mt)])
    return if_op.results[0]


def _column_list(ctx, v: ir.Value, shape) -> list:
    """The columns of an (X, R) tile, each picked from the flat tile by one shuffle."""
    x, r = shape
    f = memory.flat(ctx, v, x * r)
    return [vector.shuffle(f, f, [j + r * i for i in range(x)]) for j in range(r)]


def _columns(ctx, mem, aff: Affine, shape, masks, passes, mt) -> ir.Value:
    x, r = shape
    w = _register_lanes(T.element(mt))
    if masks is None and r & (r - 1) == 0 and x % w == 0 and r > 1:
        return vector.shape_cast(mt, _interleave_registers(ctx, mem, aff, x, r, w, T.element(mt)))
    col_t = ir.VectorType.get([x], T.element(mt))
    cols = []
    for j in range(r):
        at = _column_at(ctx, aff, j, 0)
        if masks is None:
            cols.append(vector.load(col_t, mem, [at]))
        else:
            cols.append(vector.maskedload(col_t, mem, [at], masks[j], passes[j]))
    if r & (r - 1) == 0:
        return vector.shape_cast(mt, _interleave(cols))
    out = ctx.const(0, ir.VectorType.get([r, x], T.element(mt)))
    for j, col in enumerate(cols):
        out = vector.insert(col, out, [], [j])
    return vector.transpose(mt, out, [1, 0])


def _column_at(ctx, aff: Affine, j: int, lane: int) -> ir.Value:
    """The index of lane `lane` of column `j` of a column-contiguous tile."""
    return ctx.index(P.materialize_base(Affine(P.s_add(aff.base, P.s_add(P.s_mul(aff.strides[1], j), lane)), ())))


def _register_lanes(elem) -> int:
    """Lanes of `elem` in one vector register of the host (16 f32 with AVX-512)."""
    return max(host.vector_bytes() * 8 // max(T.bitwidth(elem), 8), 1)


def _interleave_registers(ctx, mem, aff: Affine, x: int, r: int, w: int, elem) -> ir.Value:
    """The flat row-major (X, R) tile of R = 2^k full columns, built register by register.

    Each column is loaded as X / w register-sized pieces, and each level of the interleaving
    tree zips two sequences piece by piece: piece i of both gives pieces 2i and 2i + 1 of the
    result, each one two-source shuffle of two registers (one `vpermt2ps`).  The same tree
    on whole vectors left LLVM to split shuffles of up to 1024 lanes across registers: 1036
    shuffles and 1329 stack accesses for a 32 x 32 f32 tile."""
    piece_t = ir.VectorType.get([w], elem)
    cols = []
    for j in range(r):
        col = []
        for i in range(x // w):
            at = _column_at(ctx, aff, j, i * w)
            col.append(vector.load(piece_t, mem, [at]))
        cols.append(col)
    half = w // 2
    lo = [i for k in range(half) for i in (k, w + k)]
    hi = [i for k in range(half, w) for i in (k, w + k)]

    def zip_pieces(a: list, b: list) -> list:
        out = []
        for pa, pb in zip(a, b):
            out += [vector.shuffle(pa, pb, lo), vector.shuffle(pa, pb, hi)]
        return out

    def tree(seqs: list) -> list:
        if len(seqs) == 1:
            return seqs[0]
        return zip_pieces(tree(seqs[0::2]), tree(seqs[1::2]))

    pieces = tree(cols)
    while len(pieces) > 1:   # concatenate: whole registers, no data movement
        joined = [vector.shuffle(a, b, list(range(T.shape(a.type)[0] + T.shape(b.type)[0])))
                  for a, b in zip(pieces[0::2], pieces[1::2])]
        pieces = joined + pieces[len(joined) * 2:]
    return pieces[0]


def _interleave(cols: list) -> ir.Value:
    """The row-major (X, R) tile of R = 2^k columns, flat: lane x * R + j is cols[j][x].  A tree
    of pairwise zips (even columns with odd ones), each a two-source shuffle that AVX-512 does
    16 lanes per `vpermt2ps`: (X * R / 16) * log2(R) permutes, where LLVM's generic lowering of
    `vector.transpose` took about 1500 for a 32x32 tile."""
    if len(cols) == 1:
        return cols[0]
    a, b = _interleave(cols[0::2]), _interleave(cols[1::2])
    n = T.shape(a.type)[0]
    return vector.shuffle(a, b, [i for k in range(n) for i in (k, n + k)])


# Rows with a small constant lane stride load as one wider run and keep every k-th lane.
MAX_LOAD_STEP = 4
MAX_STRIDED_LANES = 256


def strided_step(aff, shape) -> int:
    """k when each row reads every k-th element (2 <= k <= MAX_LOAD_STEP; Inductor's pooling
    windows `2 * x0 + ...`), else 0."""
    if aff is None or memory.rows_of(shape) > memory.MAX_UNROLLED_ROWS:
        return 0
    k = P.const_int(aff.strides[-1])
    return k if k is not None and 2 <= k <= MAX_LOAD_STEP and k * shape[-1] <= MAX_STRIDED_LANES else 0


def strided_row_loads(ctx, mem, aff: Affine, shape, mask, pas, mt) -> ir.Value:
    """Per row, a masked load of k * n lanes that reads only lanes 0, k, 2k, .. (a lane past the
    row's last element is never touched), then a shuffle that keeps those: one or two vector
    loads and permutes where a gather would load each lane."""
    k, n = strided_step(aff, shape), shape[-1]
    elem = T.element(mt)
    i1 = ir.IntegerType.get_signless(1)
    wide_t = ir.VectorType.get([k * n], elem)
    pick = [k * i for i in range(n)]
    lane_mask_t = ir.VectorType.get([n], i1)
    on, off = ctx.const(1, lane_mask_t), ctx.const(0, lane_mask_t)
    zero = ctx.const(0, wide_t)

    def row(at, m, p):
        # position j of the wide run reads lane j // k of the row when j % k == 0
        wide_m = vector.shuffle(on if m is None else m, off,
                                [j // k if j % k == 0 else n for j in range(k * n)])
        wide = vector.maskedload(wide_t, mem, [at], wide_m, zero)
        kept = vector.shuffle(wide, wide, pick)
        return kept if m is None else arith.select(m, kept, p)
    return memory.by_rows(ctx, aff, shape, mask, pas, row)
