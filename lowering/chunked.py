"""Lower a kernel stage by stage as loops over register-sized chunks of its block.

See `analysis/chunking.py` for which kernels qualify.  Each stage lowers its
scalar ops once, then one `scf.for` over the block's chunks (`ctx.chunk` makes
every block-wide dimension C lanes wide and `tt.make_range` start at the chunk;
tiles keep their rows: (X, B) becomes (X, C)).  A
reduction keeps C-lane accumulators as loop-carried values, combined lane-wise
with its own combine region; after the loop the accumulators are reduced to a
scalar with the same tree as a whole-block `tt.reduce`.  Values kept for later
stages live in stack buffers allocated at the function entry.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, func, memref, scf, vector

from .analysis.chunking import ChunkPlan, kept_rows
from .ops.reduce_scan import apply_combine, bind_reduced, reduce_tree
from .walk import lower_block
from ..triton_frontend.ttir import Block, TensorType
from . import types as T


def lower_chunked(ctx, plan: ChunkPlan) -> None:
    """Lower every stage of `plan`, then return from the dispatch function."""
    i32 = ir.IntegerType.get_signless(32)
    buffers = {}
    lanes = plan.lanes
    with ctx.entry_ip:
        for v in plan.kept:
            size = kept_rows(v.type) * plan.block
            buffers[v] = memref.alloca(ir.MemRefType.get([size], T.value_type(v.type.element)), [], [], alignment=64)
    for stage in plan.stages:
        lower_block(ctx, Block(ops=stage.scalars))
        if not stage.ops and not stage.reductions:
            continue
        operands = [v for r in stage.reductions for v in r.operands]
        inits = [ctx.const(0, T.value_type(chunk_type(v.type, plan.block, lanes))) for v in operands]
        zero = arith.constant(i32, 0)
        loop = scf.ForOp(zero, arith.constant(i32, plan.block), arith.constant(i32, lanes), inits)
        with ir.InsertionPoint(loop.body), ctx.scoped():
            ctx.chunk = (loop.induction_variable, lanes, plan.block)
            try:
                at = arith.index_cast(ir.IndexType.get(), loop.induction_variable)
                for v in stage.reload:
                    ctx.bind(v, _reload(ctx, ctx.type_of(v), buffers[v], at, plan.block))
                lower_block(ctx, Block(ops=stage.ops))
                for v in stage.keep:
                    _keep(ctx.get(v), buffers[v], at, plan.block)
                scf.YieldOp(_accumulate(ctx, stage.reductions, list(loop.inner_iter_args),
                                        arith.cmpi(arith.CmpIPredicate.eq, loop.induction_variable, zero)))
            finally:
                ctx.chunk = None
        accs = list(loop.results)
        for r in stage.reductions:
            n = len(r.operands)
            with ctx.at(r):
                axis = int(r.attrs["axis"].split(":")[0])
                bind_reduced(ctx, r, reduce_tree(ctx, r.regions[0].block, accs[:n], axis))
            accs = accs[n:]
    func.ReturnOp([])


def _row_at(buffer_row: int, block: int, at: ir.Value) -> ir.Value:
    if buffer_row == 0:
        return at
    return arith.addi(at, arith.constant(ir.IndexType.get(), buffer_row * block))


def _keep(v: ir.Value, buffer: ir.Value, at: ir.Value, block: int) -> None:
    """Store a chunk of a kept value: row r of it at buffer[r * block + at]."""
    shape = T.shape(v.type)
    row_t = ir.VectorType.get([shape[-1]], T.element(v.type))
    for r in range(shape[0] if len(shape) == 2 else 1):
        row = vector.extract(v, [], [r]) if len(shape) == 2 else vector.shape_cast(row_t, v)
        vector.store(row, buffer, [_row_at(r, block, at)])


def _reload(ctx, t: ir.Type, buffer: ir.Value, at: ir.Value, block: int) -> ir.Value:
    """The chunk of type `t` that `_keep` stored."""
    shape = T.shape(t)
    row_t = ir.VectorType.get([shape[-1]], T.element(t))
    if len(shape) != 2:
        return vector.shape_cast(t, vector.load(row_t, buffer, [at]))
    out = ctx.const(0, t)
    for r in range(shape[0]):
        out = vector.insert(vector.load(row_t, buffer, [_row_at(r, block, at)]), out, [], [r])
    return out


def chunk_type(t: TensorType, block: int, lanes: int) -> TensorType:
    """`t` with its block-wide last dimension cut to one chunk of `lanes`."""
    if t.shape[-1] != block:
        return t
    return TensorType(tuple(t.shape[:-1]) + (lanes,), t.element)


def _accumulate(ctx, reductions, accs: list, first: ir.Value) -> list:
    """Each reduction's accumulators after this chunk (the chunk itself on the first)."""
    out = []
    for r in reductions:
        n = len(r.operands)
        vals = [ctx.get(v) for v in r.operands]
        with ctx.at(r):
            comb = apply_combine(ctx, r.regions[0].block, accs[:n], vals)
            out += [arith.select(first, v, c) for v, c in zip(vals, comb)]
        accs = accs[n:]
    return out
