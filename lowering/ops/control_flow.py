"""Structured control flow: `scf.for`, `scf.if`, `scf.while` and `tt.return`.

Loop-carried and branch-yielded pointers carry their offsets; the argument
they point into must be the same on every path, as it is for any kernel
whose pointers derive from its arguments.
"""
from __future__ import annotations

import os

from iree.compiler import ir
from iree.compiler.dialects import cf, func, scf

from ..context import PtrValue
from ..errors import UnsupportedOp
from ..registry import lowers
from ..walk import lower_block
from .versioning import lower_versioned

# Loop bodies with masked accesses get an all-lanes-on version (ops/versioning.py);
# TURBINE_TRITON_VERSIONING=0 turns it off.
VERSIONING = os.environ.get("TURBINE_TRITON_VERSIONING", "1") != "0"


def _raw(v):
    return v.offset if isinstance(v, PtrValue) else v


def _rewrap(template, v):
    if isinstance(template, PtrValue):
        return PtrValue(template.arg, v, template.pointee)
    return v


def _yield_values(ctx, term, templates):
    vals = [ctx.get(v) for v in term.operands]
    out = []
    for t, v in zip(templates, vals):
        if isinstance(t, PtrValue) != isinstance(v, PtrValue) or (isinstance(t, PtrValue) and t.arg != v.arg):
            raise UnsupportedOp("a pointer that switches between kernel arguments across a loop or branch",
                                term.name, term.loc)
        out.append(_raw(v))
    return out


@lowers("scf.for")
def lower_scf_for(ctx, op):
    lb, ub, step, *inits = op.operands
    init_vals = [ctx.get(v) for v in inits]
    loop = scf.ForOp(ctx.get(lb), ctx.get(ub), ctx.get(step), [_raw(v) for v in init_vals])
    block = op.regions[0].block
    with ir.InsertionPoint(loop.body):
        ctx.bind(block.args[0], loop.induction_variable)
        for a, t, v in zip(block.args[1:], init_vals, loop.inner_iter_args):
            ctx.bind(a, _rewrap(t, v))
        if not (VERSIONING and lower_versioned(ctx, block, [_raw(v).type for v in init_vals],
                                               lambda term: _yield_values(ctx, term, init_vals))):
            term = lower_block(ctx, block, stop_at_terminator=True)
            scf.YieldOp(_yield_values(ctx, term, init_vals) if term is not None else [])
    for r, t, v in zip(op.results, init_vals, loop.results):
        ctx.bind(r, _rewrap(t, v))


@lowers("scf.if")
def lower_scf_if(ctx, op):
    cond = ctx.get(op.operands[0])
    types = [ctx.type_of(r) for r in op.results]
    has_else = len(op.regions) > 1 and bool(op.regions[1].block.ops)
    if_op = scf.IfOp(cond, types, has_else=has_else or bool(types))
    templates = None
    for region, block in zip(op.regions, [if_op.then_block, if_op.else_block if (has_else or types) else None]):
        if block is None:
            continue
        with ir.InsertionPoint(block):
            term = lower_block(ctx, region.block, stop_at_terminator=True)
            if term is not None and term.name == "tt.return":
                raise UnsupportedOp("an early `return` inside `if`", term.name, term.loc)
            vals = [ctx.get(v) for v in term.operands] if term is not None else []
            templates = templates or vals
            scf.YieldOp(_yield_values(ctx, term, templates) if term is not None else [])
    if not has_else and not types and len(if_op.regions[1].blocks) and not len(if_op.else_block.operations):
        pass
    for r, t, v in zip(op.results, templates or [], if_op.results):
        ctx.bind(r, _rewrap(t, v))


@lowers("scf.while")
def lower_scf_while(ctx, op):
    inits = [ctx.get(v) for v in op.operands]
    before, after = op.regions[0].block, op.regions[1].block
    result_types = [ctx.type_of(r) for r in op.results]
    w = scf.WhileOp(result_types, [_raw(v) for v in inits])
    b = w.before.blocks.append(*[_raw(v).type for v in inits])
    with ir.InsertionPoint(b):
        for a, t, v in zip(before.args, inits, b.arguments):
            ctx.bind(a, _rewrap(t, v))
        term = lower_block(ctx, before, stop_at_terminator=True)
        cond = ctx.get(term.operands[0])
        fwd = [ctx.get(v) for v in term.operands[1:]]
        scf.ConditionOp(cond, [_raw(v) for v in fwd])
    a_blk = w.after.blocks.append(*result_types)
    with ir.InsertionPoint(a_blk):
        for a, t, v in zip(after.args, fwd, a_blk.arguments):
            ctx.bind(a, _rewrap(t, v))
        term = lower_block(ctx, after, stop_at_terminator=True)
        scf.YieldOp(_yield_values(ctx, term, inits))
    for r, t, v in zip(op.results, fwd, w.results):
        ctx.bind(r, _rewrap(t, v))


@lowers("tt.return")
def lower_tt_return(ctx, op):
    if op.operands:
        raise UnsupportedOp("returning values from a kernel")
    func.ReturnOp([])


def _branch_operands(ctx, label: str, values) -> list:
    lowered = [ctx.get(v) for v in values]
    ctx.block_templates.setdefault(label, lowered)
    return [_raw(v) for v in lowered]


@lowers("cf.br")
def lower_cf_br(ctx, op):
    (label, values), = op.extra["successors"]
    cf.BranchOp(_branch_operands(ctx, label, values), ctx.blocks[label])


@lowers("cf.cond_br")
def lower_cf_cond_br(ctx, op):
    (tl_, tvals), (fl_, fvals) = op.extra["successors"]
    cf.CondBranchOp(ctx.get(op.operands[0]), _branch_operands(ctx, tl_, tvals), _branch_operands(ctx, fl_, fvals),
                    ctx.blocks[tl_], ctx.blocks[fl_])


def lower_extra_blocks(ctx, fn, func_region):
    """Lower the blocks after the entry (early `return` makes unstructured control flow)."""
    for b in fn.blocks[1:]:
        mb = ctx.blocks[b.label]
        with ir.InsertionPoint(mb):
            templates = ctx.block_templates.get(b.label, [None] * len(b.args))
            for a, t, v in zip(b.args, templates, mb.arguments):
                ctx.bind(a, _rewrap(t, v))
            lower_block(ctx, b)


def create_extra_blocks(ctx, fn, func_region):
    for b in fn.blocks[1:]:
        ctx.blocks[b.label] = func_region.blocks.append(*[ctx.type_of(a) for a in b.args])


@lowers("tt.call")
def lower_tt_call(ctx, op):
    """Calls (noinline functions too) are inlined: the body is lowered at the call site."""
    callee_name = op.extra["callee"]
    callee = ctx.functions.get(callee_name)
    if callee is None:
        raise UnsupportedOp(f"call to unknown function @{callee_name}")
    if len(callee.blocks) > 1:
        raise UnsupportedOp(f"call to @{callee_name}, which returns early")
    args = [ctx.get(v) for v in op.operands]
    with ctx.scoped():
        for a, v in zip(callee.args, args):
            ctx.bind(a.value, v)
        term = lower_block(ctx, callee.body, stop_at_terminator=True)
        results = [ctx.get(v) for v in term.operands] if term is not None else []
    for r, v in zip(op.results, results):
        ctx.bind(r, v)
