"""Typed errors raised while lowering TTIR, each pointing at the kernel line."""
from __future__ import annotations

import linecache


class LoweringError(Exception):
    """Lowering failed at a TTIR op; carries the op name and the kernel location."""

    def __init__(self, message: str, op_name: str = "", loc=None):
        self.op_name = op_name
        self.loc = loc
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        excerpt = ""
        if self.loc is not None and getattr(self.loc, "file", ""):
            where = f" at {self.loc}"
            line = linecache.getline(self.loc.file, self.loc.line).rstrip()
            if line:
                caret = " " * max(self.loc.col - 1, 0) + "^"
                excerpt = f"\n    {line}\n    {caret}"
        op = f"`{self.op_name}`" if self.op_name else "kernel"
        return f"{op}{where}: {self.reason}{excerpt}"


class UnsupportedOp(LoweringError):
    """A TTIR op (or a form of it) that turbine-triton does not lower."""
