"""Running Triton's frontend from several Python threads at once.

Before 3.12, CPython keeps `ast.parse`'s recursion counter in module state shared
by all threads, so two threads compiling Triton kernels at once (two new
specializations, as concurrent launches on differently aligned views make) fail
with "AST constructor recursion depth mismatch".  Triton parses each `@jit`
function with `ast.parse` in `JITFunction.parse`; a lock there is enough.
"""
from __future__ import annotations

import sys
import threading

_parse_lock = threading.Lock()


def install() -> None:
    """Serialize `JITFunction.parse` on interpreters with the shared counter (idempotent)."""
    if sys.version_info >= (3, 12):
        return
    from triton.runtime.jit import JITFunction
    parse = JITFunction.parse
    if getattr(parse, "_turbine_locked", False):
        return

    def locked_parse(self):
        with _parse_lock:
            return parse(self)

    locked_parse._turbine_locked = True
    JITFunction.parse = locked_parse
