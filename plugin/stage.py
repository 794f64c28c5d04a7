"""The `vmfb` compile stage Triton runs after `ttir`."""
from __future__ import annotations

import re

from ..lowering.errors import LoweringError
from ..runtime.compile import compile_kernel
from ..runtime.errors import CompileError
from ..triton_frontend.capture import CapturedKernel
from ..triton_frontend.parser import TTIRParseError, parse_ttir
from ..triton_frontend.signature import signature_of


def make_vmfb(ttir: str, metadata: dict, options) -> bytes:
    """Lower and compile TTIR; fills the metadata Triton's launch path reads.

    A failure keeps its type and gains the kernel's name (attribute `kernel`
    and a note), so callers that only see the formatted traceback, such as
    Inductor's compile workers, can still name the kernel and the op.
    """
    try:
        fn = parse_ttir(ttir).function()
        kernel = CapturedKernel(fn.name, ttir, signature_of(fn), {}, options)
        compiled = compile_kernel(kernel)
    except (LoweringError, CompileError, TTIRParseError) as e:
        name = _kernel_name(ttir)
        if getattr(e, "kernel", None) is None:
            e.kernel = name
        if hasattr(e, "add_note"):  # Python 3.11+
            e.add_note(f"turbine-triton: in Triton kernel `{name}`")
        raise
    metadata["name"] = fn.name
    metadata["shared"] = 0
    metadata["global_scratch_size"] = 0
    metadata["global_scratch_align"] = 1
    metadata["profile_scratch_size"] = 0
    metadata["profile_scratch_align"] = 1
    metadata["turbine_abi"] = compiled.abi.to_json()
    return compiled.vmfb


def _kernel_name(ttir: str) -> str:
    """The public `tt.func`'s name, read from the text (it may not parse)."""
    m = re.search(r"tt\.func\s+public\s+@([\w$.]+)", ttir) or re.search(r"tt\.func\s+\w*\s*@([\w$.]+)", ttir)
    return m.group(1) if m else "?"
