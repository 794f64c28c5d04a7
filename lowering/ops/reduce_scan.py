"""`tt.reduce` with any combine region, as a tree over vector halves.

The combine region is scalar in TTIR; it is lowered on whole vector halves
at once (`ctx.widened`), so sums, max/min, argmax/argmin with their
tie-breaking, Welford and user combine functions all share one rule, and
each step is a few full-width vector ops.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import vector

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
    block = op.regions[0].block
    cur = [ctx.get(v) for v in op.operands]
    n = shape_of(op.operands[0].type)[axis]
    while n > 1:
        h = n // 2
        lo = [_slice(v, axis, 0, h) for v in cur]
        hi = [_slice(v, axis, h, h) for v in cur]
        comb = apply_combine(ctx, block, lo, hi)
        if n % 2:
            comb = [_concat(ctx, c, _slice(v, axis, 2 * h, 1), axis) for c, v in zip(comb, cur)]
        cur = comb
        n = h + n % 2
    for r, v in zip(op.results, cur):
        rt = ctx.type_of(r)
        if isinstance(rt, ir.VectorType):
            ctx.bind(r, vector.shape_cast(rt, v))
        else:
            ctx.bind(r, vector.extract(v, [], [0] * len(T.shape(v.type))))


@lowers("tt.scan")
def lower_tt_scan(ctx, op):
    """Inclusive scan (Hillis-Steele): log2(n) steps of combine on shifted slices.

    Step d combines element i with element i - d (i + d when reversed), so
    the combine region sees (earlier, later) in scan order as Triton does.
    """
    axis = int(op.attrs["axis"].split(":")[0])
    reverse = op.attrs.get("reverse", "false").startswith("true")
    block = op.regions[0].block
    cur = [ctx.get(v) for v in op.operands]
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
    for r, v in zip(op.results, cur):
        ctx.bind(r, v)
