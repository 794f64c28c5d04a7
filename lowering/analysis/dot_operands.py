"""Which `tt.load` tiles are used by one `tt.dot` and nothing else.

Such a tile need not become a vector: `ops/dot.py` multiplies straight out of a stack
buffer that the load fills row by row (`ops/row_loop.py`).  Assembled as one block
vector instead, the tile outlives the registers, and LLVM spills it and copies it again
into the matmul's operand buffer: on AVX-512 those copies took 40% of a 1024^3 matmul.
"""
from __future__ import annotations

from collections import Counter

from ...triton_frontend.ttir import Function, shape_of, walk_ops


def dot_operand_loads(fn: Function) -> dict:
    """id(tt.load) -> the one 2-D `tt.dot` that uses it (as A or B)."""
    uses, defs, dots = Counter(), {}, []
    for block in (fn.blocks or [fn.body]):
        for op in walk_ops(block):
            for v in op.operands:
                uses[v] += 1
            for r in op.results:
                defs[r] = op
            if op.name == "tt.dot":
                dots.append(op)
    found = {}
    for dot in dots:
        for i in (0, 1):
            v = dot.operands[i]
            load = defs.get(v)
            if load is not None and load.name == "tt.load" and uses[v] == 1 and len(shape_of(v.type)) == 2:
                found[id(load)] = dot
    return found
