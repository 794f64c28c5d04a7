"""The table of lowering rules, keyed by TTIR op name.

Each rule is `rule(ctx, op) -> None`: it reads lowered operands from `ctx`,
builds IREE IR at the current insertion point, and binds the op's results.
"""
from __future__ import annotations

from typing import Callable, Dict

from .errors import UnsupportedOp

LOWERINGS: Dict[str, Callable] = {}
FAMILY: Dict[str, str] = {}


def lowers(*names: str):
    """Register the decorated function as the rule for each TTIR op name."""
    def register(fn):
        for name in names:
            if name in LOWERINGS:
                raise ValueError(f"two lowering rules for {name}")
            LOWERINGS[name] = fn
            FAMILY[name] = fn.__module__.rsplit(".", 1)[-1]
        return fn
    return register


def lookup(op) -> Callable:
    """The rule for `op`, or `UnsupportedOp` naming the op and its kernel line."""
    _load_families()
    rule = LOWERINGS.get(op.name)
    if rule is None:
        raise UnsupportedOp("turbine-triton has no lowering for this op", op.name, op.loc)
    return rule


_loaded = False


def _load_families():
    global _loaded
    if not _loaded:
        from .ops import (atomics, bounds, control_flow, debug, dot, dot_scaled, elementwise,  # noqa: F401
                          map_elementwise, memory, program, reduce_scan, shape)
        _loaded = True
