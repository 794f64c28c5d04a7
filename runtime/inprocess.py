"""Compile MLIR with IREE's compiler library inside this process.

`iree.compiler.compile_str` starts an `iree-compile` process per kernel, and
loading the compiler library costs ~0.3 s of the ~0.9 s a small kernel takes.
Here one library load serves every compile.  Flags that IREE registers only as
global LLVM options (not session flags) are set once per process; if another
user of the library already did that, or anything else goes wrong before the
compile itself, callers fall back to the subprocess and lose nothing.
"""
from __future__ import annotations

import os
import threading
from typing import Optional, Sequence, Tuple

_lock = threading.Lock()
_state: dict = {}

# Options IREE's C API accepts only through ireeCompilerSetupGlobalCL.
GLOBAL_FLAGS = ("--iree-llvmcpu-fail-on-large-vector",)


def enabled() -> bool:
    """In-process compiles are on unless `TURBINE_TRITON_COMPILE=subprocess`."""
    return os.environ.get("TURBINE_TRITON_COMPILE", "inprocess") != "subprocess"


def split_flags(flags: Sequence[str]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(global, session) halves of an `iree-compile` flag list."""
    glob = tuple(f for f in flags if f.split("=")[0] in GLOBAL_FLAGS)
    return glob, tuple(f for f in flags if f not in glob)


def _api(global_flags: Tuple[str, ...]):
    with _lock:
        if "api" not in _state:
            from iree.compiler.api import ctypes_dl as api
            # Global options can be set once per process; remember which.
            api._initializeGlobalCL("turbine-triton", *global_flags)
            _state["api"] = api
            _state["global"] = global_flags
        if _state["global"] != global_flags:
            return None
        return _state["api"]


def compile_text(text: str, flags: Sequence[str]) -> Optional[bytes]:
    """The `.vmfb` for `text`, or None when it did not compile here (the caller
    then runs `iree-compile`, which also produces the diagnostic)."""
    if not enabled():
        return None
    glob, session_flags = split_flags(flags)
    try:
        api = _api(glob)
        if api is None:
            return None
        session = api.Session()
        session.set_flags(*session_flags)
        inv = session.invocation()
        source = api.Source.wrap_buffer(session, text.encode())
        if not inv.parse_source(source) or not inv.execute():
            return None
        out = api.Output.open_membuffer()
        inv.output_vm_bytecode(out)
        return bytes(out.map_memory())
    except Exception:
        return None
