"""Lower a TTIR block op by op through the rule table."""
from __future__ import annotations

from .errors import LoweringError
from .registry import lookup


def lower_block(ctx, block, stop_at_terminator: bool = False):
    """Lower every op of `block` at the current insertion point.

    With `stop_at_terminator`, the block's terminator (`scf.yield`,
    `tt.reduce.return`, ...) is returned unlowered for the caller to handle.
    """
    ops = block.ops
    term = None
    if stop_at_terminator and ops and ops[-1].name in _TERMINATORS:
        ops, term = ops[:-1], ops[-1]
    for op in ops:
        rule = lookup(op)
        with ctx.at(op):
            try:
                rule(ctx, op)
            except LoweringError as e:
                if e.loc is None or not getattr(e.loc, "file", ""):
                    raise type(e)(e.reason, e.op_name or op.name, op.loc) from e
                raise
    return term


_TERMINATORS = {"scf.yield", "scf.condition", "tt.reduce.return", "tt.scan.return", "tt.return",
                "tt.map_elementwise.return"}
