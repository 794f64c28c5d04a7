"""Loop bodies in two versions: one for iterations whose masks are all on, one general.

A column loop (`for start in range(0, n, BLOCK)` with `mask = cols < n`) has every
lane on in all but its last iteration, yet each masked load pays a scalar test and
a branch, each store another, and each `tl.where(mask, ...)` a blend.  When every
mask of the loop's loads and stores is built from index math alone and has a scalar
"all lanes on" test (`analysis/masks.py`), the index math is lowered first, then
`scf.if (all tests) {body, masks := true} else {body}`: the first copy folds to plain
vector loads and stores.  Bodies with regions or `tt.dot` are left whole (the copy
would double their code and compile time).
"""
from __future__ import annotations

from typing import List, Optional

from iree.compiler import ir
from iree.compiler.dialects import arith, scf

from ..walk import lower_block
from ...triton_frontend.ttir import Block

# Pure ops a mask may be computed from (no memory, no regions).
_INDEX_OPS = {"tt.make_range", "tt.splat", "tt.broadcast", "tt.expand_dims", "tt.reshape",
              "arith.constant", "arith.addi", "arith.subi", "arith.muli", "arith.cmpi", "arith.andi",
              "arith.ori", "arith.extsi", "arith.extui", "arith.trunci", "arith.index_cast",
              "arith.divsi", "arith.remsi", "arith.divui", "arith.remui", "tt.get_program_id",
              "tt.get_num_programs"}
_TOO_BIG = {"tt.dot", "tt.dot_scaled"}


def access_masks(ops) -> Optional[list]:
    """The mask operands of the loads and stores among `ops`, or None when versioning does
    not apply (no masks, a region, a dot)."""
    masks = []
    for op in ops:
        if op.regions or op.name in _TOO_BIG:
            return None
        if op.name == "tt.load" and len(op.operands) > 1:
            masks.append(op.operands[1])
        elif op.name == "tt.store" and len(op.operands) > 2:
            masks.append(op.operands[2])
    return list(dict.fromkeys(masks)) or None


def index_prefix(ops, masks) -> Optional[List]:
    """The ops of `ops` that `masks` are computed from, in order, when all are index math."""
    made = {r: op for op in ops for r in op.results}
    prefix = set()

    def need(v) -> bool:
        op = made.get(v)
        if op is None or id(op) in prefix:
            return True   # from outside the body, or already in
        if op.name not in _INDEX_OPS:
            return False
        prefix.add(id(op))
        return all(need(o) for o in op.operands)
    if not all(need(m) for m in masks):
        return None
    return [op for op in ops if id(op) in prefix]


def lower_versioned(ctx, block, result_types, yield_values) -> bool:
    """Lower `block` (a loop body; its `scf.yield` last) as two versions when its masks allow,
    ending it with `scf.yield`; False, with nothing lowered, when they do not.
    `yield_values(term)` gives the lowered values the body yields."""
    if ctx.options is not None and getattr(ctx.options, "bounds_check", False):
        return False   # checked accesses build their own masks
    ops = list(block.ops)
    term = ops.pop() if ops and ops[-1].name == "scf.yield" else None
    masks = access_masks(ops)
    prefix = index_prefix(ops, masks) if masks else None
    if prefix is None:
        return False
    lower_block(ctx, Block(ops=prefix))
    hoisted = {id(op) for op in prefix}
    rest = [op for op in ops if id(op) not in hoisted]
    lowered = [ctx.get(m) for m in masks]
    hints = [ctx.mask_hints.get(m) if isinstance(m, ir.Value) else None for m in lowered]
    if any(h is None for h in hints):
        lower_block(ctx, Block(ops=rest))
        scf.YieldOp(yield_values(term) if term is not None else [])
        return True
    on = hints[0]
    for h in hints[1:]:
        on = arith.andi(on, h)
    if_op = scf.IfOp(on, result_types, has_else=True)
    with ir.InsertionPoint(if_op.then_block), ctx.scoped():
        saved = {m: ctx.values[m] for m in masks}
        true = ir.IntegerAttr.get(ir.IntegerType.get_signless(1), 1)
        try:
            for m, v in zip(masks, lowered):
                ctx.values[m] = on_mask = arith.constant(v.type, ir.DenseElementsAttr.get_splat(v.type, true))
                ctx.mask_hints[on_mask] = arith.constant(ir.IntegerType.get_signless(1), 1)
            lower_block(ctx, Block(ops=rest))
            scf.YieldOp(yield_values(term) if term is not None else [])
        finally:
            ctx.values.update(saved)
    with ir.InsertionPoint(if_op.else_block), ctx.scoped():
        lower_block(ctx, Block(ops=rest))
        scf.YieldOp(yield_values(term) if term is not None else [])
    scf.YieldOp(list(if_op.results))
    return True
