"""How far each load inside an `scf.for` moves per loop step, from the TTIR index math.

A load whose addresses depend on the loop's induction variable through `splat`, `expand_dims`,
`broadcast`, `addptr`, integer add/sub and multiplication by a constant moves by a fixed number
of elements every step: `load_advances` returns that number for each such load.  Inductor's
reductions over an outer dimension step through rows a page or more apart, where the hardware
prefetchers stop; `ops/prefetch.py` uses the advance to fetch the rows of a later step.
"""
from __future__ import annotations

import re
from typing import Optional

from ...triton_frontend.ttir import Function, Op, walk_ops


def int_constant(op: Op) -> Optional[int]:
    """The value of an integer `arith.constant` (scalar or splat), else None."""
    if op.name != "arith.constant":
        return None
    m = re.match(r"\s*(?:dense<)?\s*(-?\d+)\s*>?\s*:", op.attrs.get("value", ""))
    return int(m.group(1)) if m else None


_SAME = ("tt.splat", "tt.expand_dims", "tt.broadcast", "arith.extsi", "arith.extui", "arith.trunci",
         "arith.index_cast")


def int_constants(fn: Function) -> dict:
    """Value -> int for every integer constant of `fn` and every splat of one."""
    consts = {}
    for block in (fn.blocks or [fn.body]):
        for op in walk_ops(block):
            c = int_constant(op)
            if c is not None:
                consts[op.result] = c
            elif op.name == "tt.splat" and op.operands[0] in consts:
                consts[op.result] = consts[op.operands[0]]
    return consts


def load_advances(fn: Function) -> dict:
    """`id(tt.load op)` -> elements its addresses move per step of its innermost enclosing `scf.for`
    (nonzero, constant step only)."""
    consts = int_constants(fn)
    out = {}
    for block in (fn.blocks or [fn.body]):
        for op in walk_ops(block):
            if op.name == "scf.for" and op.regions and op.operands[2] in consts:
                _loop(op, consts[op.operands[2]], consts, out)
    return out


def _loop(loop: Op, step: int, consts: dict, out: dict) -> None:
    body = loop.regions[0].blocks[0]
    inside = set(body.args)
    for op in walk_ops(body):
        inside.update(op.results)
        for r in op.regions:
            for b in r.blocks:
                inside.update(b.args)
    d = {body.args[0]: 1}

    def of(v):
        if v in d:
            return d[v]
        return None if v in inside else 0

    for op in body.ops:      # a nested loop's body is that loop's business
        ds = [of(v) for v in op.operands]
        name = op.name
        r = None
        if name in _SAME:
            r = ds[0]
        elif name in ("arith.addi", "tt.addptr", "arith.subi") and None not in ds[:2]:
            r = ds[0] - ds[1] if name == "arith.subi" else ds[0] + ds[1]
        elif name == "arith.muli" and None not in ds[:2]:
            a, b = op.operands[:2]
            if ds[1] == 0 and b in consts:
                r = ds[0] * consts[b]
            elif ds[0] == 0 and a in consts:
                r = ds[1] * consts[a]
            elif ds[0] == 0 and ds[1] == 0:
                r = 0
        elif all(x == 0 for x in ds) and not op.regions:
            r = 0            # loop-invariant (make_range and constants included)
        for res in op.results:
            if r is not None:
                d[res] = r
        if name == "tt.load" and ds and ds[0]:
            out[id(op)] = ds[0] * step
