"""Capture TTIR from a `@triton.jit` function, an `ASTSource` or a `.ttir` file.

Specialization follows Triton's own binder (divisibility by 16, integers equal
to 1 become constants), so the TTIR we capture is the TTIR Triton would build
for the same launch on a GPU.  Nothing here needs a GPU or a registered driver.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from .parser import parse_ttir
from .target import CPUOptions, frontend_backend, parse_options, run_ttir_passes
from .ttir import Module


@dataclass(frozen=True)
class CapturedKernel:
    """A kernel's TTIR plus what the launch needs to bind its arguments.

    `signature` maps each parameter name to Triton's type string (`*fp32`,
    `i32`, `constexpr`); `constexprs` maps parameter names to values.
    """
    name: str
    ttir: str
    signature: dict
    constexprs: dict = field(default_factory=dict)
    options: CPUOptions = field(default_factory=CPUOptions)
    source_path: Optional[str] = None

    def module(self) -> Module:
        """The parsed TTIR."""
        return parse_ttir(self.ttir)


def _make_ttir(src, options: CPUOptions) -> str:
    from triton._C.libtriton import ir
    backend = frontend_backend()
    ctx = ir.context()
    ir.load_dialects(ctx)
    mod = src.make_ir(backend.target, options, backend.get_codegen_implementation(options),
                      backend.get_module_map(), ctx)
    run_ttir_passes(mod)
    return str(mod)


def capture_source(src, options: Optional[dict] = None) -> CapturedKernel:
    """TTIR from a `triton.compiler.ASTSource`."""
    opts = parse_options(options or {})
    ttir = _make_ttir(src, opts)
    names = list(src.fn.arg_names)
    constexprs = {names[k[0]]: v for k, v in src.constants.items() if len(k) == 1}
    signature = dict(src.signature)
    return CapturedKernel(src.name, ttir, signature, constexprs, opts,
                          getattr(src.fn, "__file__", None) or src.fn.fn.__code__.co_filename)


def capture_jit(fn, *args, options: Optional[dict] = None, **kwargs) -> CapturedKernel:
    """TTIR for `fn[grid](*args, **kwargs)` as Triton would specialize that launch."""
    from triton.compiler import ASTSource
    from triton.runtime.jit import create_function_from_signature
    backend = frontend_backend()
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound_args, specialization, opts = binder(*args, **kwargs)
    opts_dict = dict(options or {})
    opts_dict.update({k: v for k, v in kwargs.items() if k not in fn.arg_names})
    _, signature, constexprs, attrs = fn._pack_args(backend, opts_dict, bound_args, specialization, opts)
    src = ASTSource(fn, signature, constexprs, attrs)
    return capture_source(src, opts_dict)


def capture_file(path: str, options: Optional[dict] = None) -> CapturedKernel:
    """A kernel from a saved `.ttir` file; the signature comes from its `tt.func`."""
    from .signature import signature_of
    with open(path) as f:
        text = f.read()
    fn = parse_ttir(text).function()
    return CapturedKernel(fn.name, text, signature_of(fn), {}, parse_options(options or {}),
                          os.path.abspath(path))
