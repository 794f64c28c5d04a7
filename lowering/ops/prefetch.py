"""Software prefetch for row loads that move a page or more per loop step.

Inside an `scf.for`, a tile of rows whose addresses jump by at least `MIN_ADVANCE_BYTES` each
step, more than a row's length (Inductor's reductions over an outer dimension, after
`orientation.py` made their tiles rows), starts on new pages every step, and the hardware
prefetchers do not cross pages.  A row walked block by block is a stream they follow.  Each
such load first prefetches its own rows a few steps ahead (`analysis/advance.py` gives the
advance per step): about `AHEAD_BYTES` of rows, the first `MAX_LINES` cache lines of each.
Prefetches do not fault, so a step past the end of the buffer is harmless.
"""
from __future__ import annotations

from iree.compiler.dialects import memref

from ..analysis import pointers as P
from ...triton_frontend.ttir import shape_of

MIN_ADVANCE_BYTES = 4096
AHEAD_BYTES = 2048
MAX_LINES = 4
LINE = 64
ENABLED = True


def rows_ahead(ctx, mem, op, aff, shape, elem_bytes: int) -> None:
    """Prefetch the rows that load `op` (a row-wise tile of `shape`) reads some steps later."""
    advance = ctx.load_advance.get(id(op)) if ENABLED else None
    if not advance or abs(advance) * elem_bytes < MIN_ADVANCE_BYTES:
        return
    if abs(advance) <= shape_of(op.operands[0].type)[-1]:
        return      # each row continues where it ended: a stream the hardware follows
    starts = [s for _, s in P.row_starts(aff, shape)]
    row_bytes = shape[-1] * elem_bytes
    steps = min(8, max(1, -(-AHEAD_BYTES // (row_bytes * len(starts)))))
    lines = min(MAX_LINES, -(-row_bytes // LINE))
    for start in starts:
        for line in range(lines):
            at = P.s_add(start, steps * advance + line * (LINE // elem_bytes))
            memref.prefetch(mem, [ctx.index(at)], False, 3, True)
