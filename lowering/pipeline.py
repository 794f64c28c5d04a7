"""The lowering pipeline: captured kernel -> IREE module text and ABI."""
from __future__ import annotations

from ..triton_frontend.capture import CapturedKernel
from ..triton_frontend.parser import parse_ttir
from .dispatch import LoweredModule, build_module


def lower(kernel: CapturedKernel) -> LoweredModule:
    """Lower a captured kernel's TTIR to an IREE input module."""
    module = parse_ttir(kernel.ttir)
    fn = module.function()
    return build_module(fn, kernel.signature, kernel.options, {f.name: f for f in module.functions})
