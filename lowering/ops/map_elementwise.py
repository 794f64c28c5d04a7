"""`tt.map_elementwise`: a scalar region applied to every lane (or `pack` lanes) of its operands.

A single-block region is lowered once on whole vectors (lane group j of a
pack holds lanes j, j+pack, ...).  A region with branches (an `if`/`return`
in the user's function) cannot run on vectors, so it runs per lane group in a
loop, as an `scf.execute_region` that keeps the region's blocks and branches.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, scf, vector

from ..registry import lowers
from .. import types as T
from ..walk import lower_block


def _pack(op) -> int:
    return int(op.attrs.get("pack", "1 : i32").split(":")[0])


def _groups(ctx, flat: ir.Value, n: int, pack: int) -> list:
    """Lane groups of a flat vector<n>: group j holds lanes j, j+pack, ..."""
    if pack == 1:
        return [flat]
    elem = T.element(flat.type)
    m = n // pack
    rows = vector.transpose(ir.VectorType.get([pack, m], elem),
                            vector.shape_cast(ir.VectorType.get([m, pack], elem), flat), [1, 0])
    return [vector.extract(rows, [], [j]) for j in range(pack)]


def _interleave(ctx, parts: list, n: int) -> ir.Value:
    """Inverse of `_groups`."""
    if len(parts) == 1:
        return parts[0]
    pack, m = len(parts), n // len(parts)
    elem = T.element(parts[0].type)
    rows = ctx.const(0, ir.VectorType.get([pack, m], elem))
    for j, p in enumerate(parts):
        rows = vector.insert(p, rows, [], [j])
    cols = vector.transpose(ir.VectorType.get([m, pack], elem), rows, [1, 0])
    return vector.shape_cast(ir.VectorType.get([n], elem), cols)


@lowers("tt.map_elementwise")
def lower_tt_map_elementwise(ctx, op):
    pack = _pack(op)
    region = op.regions[0]
    ins = [ctx.get(v) for v in op.operands]
    shape = T.shape(ins[0].type)
    n = 1
    for d in shape:
        n *= d
    flat = [vector.shape_cast(ir.VectorType.get([n], T.element(v.type)), v) for v in ins]
    if len(region.blocks) == 1:
        args = [g for v in flat for g in _groups(ctx, v, n, pack)]
        with ctx.scoped(), ctx.widened((n // pack,)):
            for a, v in zip(region.block.args, args):
                ctx.bind(a, v)
            term = lower_block(ctx, region.block, stop_at_terminator=True)
            outs = [ctx.get(v) for v in term.operands]
    else:
        outs = _per_lane(ctx, op, flat, n, pack)
    for k, r in enumerate(op.results):
        whole = _interleave(ctx, outs[k * pack:(k + 1) * pack], n)
        ctx.bind(r, vector.shape_cast(ctx.type_of(r), whole))


def _per_lane(ctx, op, flat: list, n: int, pack: int) -> list:
    region = op.regions[0]
    term_types = [ctx.type_of(v) for v in _return_operands(region)]
    m = n // pack
    idx = ir.IndexType.get()
    dyn = [ir.ShapedType.get_dynamic_size()]
    init = [ctx.const(0, ir.VectorType.get([m], t)) for t in term_types]
    loop = scf.ForOp(arith.constant(idx, 0), arith.constant(idx, m), arith.constant(idx, 1), init)
    with ir.InsertionPoint(loop.body):
        j = loop.induction_variable
        base = arith.muli(j, arith.constant(idx, pack))
        lanes = [arith.addi(base, arith.constant(idx, q)) if q else base for q in range(pack)]
        scalars = [vector.extract(v, [lane], dyn) for v in flat for lane in lanes]
        ex = scf.ExecuteRegionOp(term_types)
        saved = ctx.blocks
        ctx.blocks = dict(saved)    # region labels (^bb1, ...) are local to the region
        try:
            with ctx.scoped():
                mblocks = [ex.region.blocks.append()]
                for b in region.blocks[1:]:
                    mb = ex.region.blocks.append(*[ctx.type_of(a) for a in b.args])
                    ctx.blocks[b.label] = mb
                    mblocks.append(mb)
                for a, s in zip(region.block.args, scalars):
                    ctx.bind(a, s)
                for k, (b, mb) in enumerate(zip(region.blocks, mblocks)):
                    with ir.InsertionPoint(mb):
                        if k:
                            for a, v in zip(b.args, mb.arguments):
                                ctx.bind(a, v)
                        lower_block(ctx, b)
        finally:
            ctx.blocks = saved
        outs = [vector.insert(s, acc, [j], dyn) for s, acc in zip(ex.results, loop.inner_iter_args)]
        scf.YieldOp(outs)
    return list(loop.results)


def _return_operands(region):
    for b in region.blocks:
        if b.ops and b.ops[-1].name == "tt.map_elementwise.return":
            return b.ops[-1].operands
    raise ValueError("tt.map_elementwise region without a return")


@lowers("tt.map_elementwise.return")
def lower_map_elementwise_return(ctx, op):
    """Only reached in the per-lane form: the region's result leaves the execute_region."""
    scf.YieldOp([ctx.get(v) for v in op.operands])
