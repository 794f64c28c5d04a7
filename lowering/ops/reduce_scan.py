"""`tt.reduce` with any combine region, as a tree over vector halves.

The combine region is scalar in TTIR; it is lowered on whole vector halves
at once (`ctx.widened`), so sums, max/min, argmax/argmin with their
tie-breaking, Welford and user combine functions all share one rule, and
each step is a few full-width vector ops.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from ..registry import lowers
from .. import types as T
from ..walk import lower_block
from ...triton_frontend.ttir import shape_of


def _slice(v: ir.Value, axis: int, start: int, size: int) -> ir.Value:
    shape = list(T.shape(v.type))
    offsets = [0] * axis + [start]
    sizes = shape[:axis] + [size]
    out_shape = shape[:]
    out_shape[axis] = size
    rt = ir.VectorType.get(out_shape, T.element(v.type))
    return vector.extract_strided_slice(rt, v, offsets, sizes, [1] * (axis + 1))


def _concat(ctx, a: ir.Value, b: ir.Value, axis: int) -> ir.Value:
    sa, sb = list(T.shape(a.type)), list(T.shape(b.type))
    out = sa[:]
    out[axis] = sa[axis] + sb[axis]
    rt = ir.VectorType.get(out, T.element(a.type))
    dest = ctx.const(0, rt)
    dest = vector.insert_strided_slice(a, dest, [0] * len(out), [1] * len(sa))
    off = [0] * len(out)
    off[axis] = sa[axis]
    return vector.insert_strided_slice(b, dest, off, [1] * len(sb))


def apply_combine(ctx, region_block, lhs: list, rhs: list) -> list:
    """Run a scalar combine region on vectors lhs/rhs (all of one shape)."""
    lanes = T.shape(lhs[0].type)
    with ctx.scoped(), ctx.widened(lanes):
        for a, v in zip(region_block.args, lhs + rhs):
            ctx.bind(a, v)
        term = lower_block(ctx, region_block, stop_at_terminator=True)
        return [ctx.get(v) for v in term.operands]


@lowers("tt.reduce")
def lower_tt_reduce(ctx, op):
    axis = int(op.attrs["axis"].split(":")[0])
    bind_reduced(ctx, op, reduce_tree(ctx, op.regions[0].block, [ctx.get(v) for v in op.operands], axis))


def reduce_tree(ctx, block, cur: list, axis: int) -> list:
    """Combine vectors `cur` along `axis` by halves down to extent 1."""
    n = T.shape(cur[0].type)[axis]
    while n > 1:
        h = n // 2
        lo = [_slice(v, axis, 0, h) for v in cur]
        hi = [_slice(v, axis, h, h) for v in cur]
        comb = apply_combine(ctx, block, lo, hi)
        if n % 2:
            comb = [_concat(ctx, c, _slice(v, axis, 2 * h, 1), axis) for c, v in zip(comb, cur)]
        cur = comb
        n = h + n % 2
    return cur


def bind_reduced(ctx, op, cur: list) -> None:
    """Bind `tt.reduce` results from vectors whose reduced axis has extent 1."""
    for r, v in zip(op.results, cur):
        rt = ctx.type_of(r)
        if isinstance(rt, ir.VectorType):
            ctx.bind(r, vector.shape_cast(rt, v))
        else:
            ctx.bind(r, vector.extract(v, [], [0] * len(T.shape(v.type))))


# Hillis-Steele unrolls one row of ops per leading index; past this many rows a loop is cheaper
# to compile (a (1024, 2) scan along axis 0 never finished compiling as slices).
MAX_UNROLLED_ROWS = 64


@lowers("tt.scan")
def lower_tt_scan(ctx, op):
    """Inclusive scan of any combine region, forward or reverse.

    Along the minor axis of a few rows: Hillis-Steele on whole rows.  Otherwise a loop over the
    scan axis through a stack copy of the tile, with the region run on vector<Q> slices.  Either
    way the combine region sees (earlier, later) in scan order as Triton does.
    """
    axis = int(op.attrs["axis"].split(":")[0])
    reverse = op.attrs.get("reverse", "false").startswith("true")
    block = op.regions[0].block
    cur = [ctx.get(v) for v in op.operands]
    shape = shape_of(op.operands[0].type)
    rows = 1
    for d in shape[:axis]:
        rows *= d
    # bf16 partial sums lose the answer (a 32-long cumsum is off by >1%): accumulate in f32, round once
    bf16 = [str(T.element(v.type)) == "bf16" for v in cur]
    f32 = ir.F32Type.get()
    cur = [arith.extf(T.like(v.type, f32), v) if b else v for v, b in zip(cur, bf16)]
    with ctx.bf16_in_f32(any(bf16)):
        if axis != len(shape) - 1 or rows > MAX_UNROLLED_ROWS:
            out = _sequential_scan(ctx, block, cur, axis, reverse)
        else:
            out = _hillis_steele(ctx, op, block, cur, axis, reverse)
    for r, v, b in zip(op.results, out, bf16):
        ctx.bind(r, arith.truncf(ctx.type_of(r), v) if b else v)


def _sequential_scan(ctx, block, cur, axis, reverse):
    """The tile as memref<P*L*Q> (L = scan axis); for each p, a loop over L carrying vector<Q>."""
    from iree.compiler.dialects import arith, memref, scf
    shape = list(T.shape(cur[0].type))
    p_, l_, q_ = 1, shape[axis], 1
    for d in shape[:axis]:
        p_ *= d
    for d in shape[axis + 1:]:
        q_ *= d
    n = p_ * l_ * q_
    idx = ir.IndexType.get()
    cst = lambda k: arith.constant(idx, k)
    bufs = []
    for v in cur:
        elem = T.element(v.type)
        with ctx.entry_ip, ir.Location.unknown():  # at the entry: never an alloca inside a loop
            buf = memref.alloca(ir.MemRefType.get([n], elem), [], [], alignment=64)
        vector.store(vector.shape_cast(ir.VectorType.get([n], elem), v), buf, [cst(0)])
        bufs.append(buf)
    row_t = [ir.VectorType.get([q_], T.element(v.type)) for v in cur]
    outer = scf.ForOp(cst(0), cst(p_), cst(1))
    with ir.InsertionPoint(outer.body):
        base = arith.muli(outer.induction_variable, cst(l_ * q_))
        first = arith.addi(base, cst((l_ - 1) * q_)) if reverse else base
        init = [vector.load(t, b, [first]) for t, b in zip(row_t, bufs)]
        inner = scf.ForOp(cst(1), cst(l_), cst(1), init)
        with ir.InsertionPoint(inner.body):
            i = inner.induction_variable
            row = arith.subi(cst(l_ - 1), i) if reverse else i
            off = arith.addi(base, arith.muli(row, cst(q_)))
            xs = [vector.load(t, b, [off]) for t, b in zip(row_t, bufs)]
            new = apply_combine(ctx, block, list(inner.inner_iter_args), xs)
            for b, v in zip(bufs, new):
                vector.store(v, b, [off])
            scf.YieldOp(new)
        scf.YieldOp([])
    return [vector.shape_cast(v.type, vector.load(ir.VectorType.get([n], T.element(v.type)), b, [cst(0)]))
            for v, b in zip(cur, bufs)]


def _hillis_steele(ctx, op, block, cur, axis, reverse):
    """log2(n) steps of combine on shifted slices: step d combines element i with i - d (i + d
    when reversed)."""
    n = shape_of(op.operands[0].type)[axis]
    d = 1
    while d < n:
        if not reverse:
            earlier = [_slice(v, axis, 0, n - d) for v in cur]
            later = [_slice(v, axis, d, n - d) for v in cur]
            comb = apply_combine(ctx, block, earlier, later)
            cur = [_concat(ctx, _slice(v, axis, 0, d), c, axis) for v, c in zip(cur, comb)]
        else:
            earlier = [_slice(v, axis, d, n - d) for v in cur]
            later = [_slice(v, axis, 0, n - d) for v in cur]
            comb = apply_combine(ctx, block, earlier, later)
            cur = [_concat(ctx, c, _slice(v, axis, n - d, d), axis) for v, c in zip(cur, comb)]
        d *= 2
    return cur
