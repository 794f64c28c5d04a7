"""The `vmfb` compile stage Triton runs after `ttir`."""
from __future__ import annotations

from ..runtime.compile import compile_kernel
from ..triton_frontend.capture import CapturedKernel
from ..triton_frontend.parser import parse_ttir
from ..triton_frontend.signature import signature_of


def make_vmfb(ttir: str, metadata: dict, options) -> bytes:
    """Lower and compile TTIR; fills the metadata Triton's launch path reads."""
    fn = parse_ttir(ttir).function()
    kernel = CapturedKernel(fn.name, ttir, signature_of(fn), {}, options)
    compiled = compile_kernel(kernel)
    metadata["name"] = fn.name
    metadata["shared"] = 0
    metadata["global_scratch_size"] = 0
    metadata["global_scratch_align"] = 1
    metadata["profile_scratch_size"] = 0
    metadata["profile_scratch_align"] = 1
    metadata["turbine_abi"] = compiled.abi.to_json()
    return compiled.vmfb
