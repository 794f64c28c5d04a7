"""The dynamo backend `turbine_triton`: Inductor's Triton kernels, run on CPU through IREE.

    model = torch.compile(model, backend="turbine_triton")

It is Inductor with `cpu_backend="triton"` for this compile only: every
kernel Inductor fuses becomes a Triton kernel, which the Triton backend
`cpu` (this package) lowers and compiles through IREE.  The setting travels
as Inductor `config_patches`, which `compile_fx` applies to the forward
compile and to the lazily compiled backward; no global configuration is
edited.  Registered through the `torch_dynamo_backends` entry point.

A kernel that fails to lower raises `InductorLoweringError` naming the
Inductor kernel and the TTIR op.  Opt-in: `TURBINE_TRITON_INDUCTOR_FALLBACK=1`
or `options={"turbine_triton.fallback": True}` compiles such a graph with
Inductor's C++ backend instead, after a warning naming the kernel and op.

GEMMs: in default mode Inductor is also offered one Triton GEMM template per large
matmul next to ATen's kernel, times both once per shape and keeps the faster
(`plugin/gemm_templates.py`).  `TURBINE_TRITON_GEMM=aten` or
`options={"turbine_triton.gemm": "aten"}` keeps ATen's kernel without timing, as
Inductor's C++ backend does.  `mode="max-autotune"` searches all our blocks.

Convolutions stay on ATen in every mode (`conv_patches`): on CPU, torch 2.13's
conv lowering keeps the bias among the kernel's inputs, which its Triton conv
templates do not take, so timing them fails.
"""
from __future__ import annotations

import os
import re
import warnings
from typing import Any, Optional

FALLBACK_ENV = "TURBINE_TRITON_INDUCTOR_FALLBACK"
FALLBACK_OPTION = "turbine_triton.fallback"
GEMM_ENV = "TURBINE_TRITON_GEMM"
GEMM_OPTION = "turbine_triton.gemm"
GEMM_POLICIES = ("auto", "aten")
CONV_BACKENDS_ENV = "TORCHINDUCTOR_MAX_AUTOTUNE_CONV_BACKENDS"

# Inductor settings this backend always applies.
BASE_PATCHES = {
    "cpu_backend": "triton",
    # CUDA graphs mean nothing on CPU tensors; "max-autotune" asks for them.
    "triton.cudagraphs": False,
    # torch 2.13 cannot time a template's epilogue fusion on CPU: the benchmark module it
    # writes fails to import (IndentationError) and the CPU device interface has no
    # `device()`.  Off, max-autotune fuses epilogues without timing them.
    "benchmark_epilogue_fusion": False,
}


class InductorLoweringError(RuntimeError):
    """An Inductor kernel that turbine-triton could not lower or compile."""

    def __init__(self, kernel: str, op: str, detail: str):
        self.kernel = kernel
        self.op = op
        self.detail = detail
        super().__init__(f"turbine_triton: Inductor kernel `{kernel}` failed to lower at op "
                         f"`{op}`:\n{detail}")


class TurbineTritonFallbackWarning(UserWarning):
    """A graph was compiled with Inductor's C++ backend because a kernel failed to lower."""


def turbine_triton(gm, example_inputs, mode: Optional[str] = None, options: Optional[dict] = None):
    """Dynamo backend: `torch.compile(model, backend="turbine_triton", mode=..., options=...)`."""
    from torch._inductor import list_mode_options
    from torch._inductor.compile_fx import compile_fx, compile_fx_inner
    from . import gemm_templates
    gemm_templates.install()       # GEMM template blocks for IREE's CPU code

    options = dict(options or {})
    fallback = _truthy(options.pop(FALLBACK_OPTION, os.environ.get(FALLBACK_ENV, "")))
    gemm = gemm_policy(options.pop(GEMM_OPTION, None))
    patches = dict(list_mode_options(mode)) if mode else {}
    if gemm == "auto":
        patches.update(default_gemm_patches(patches, options))
    patches.update(conv_patches(options))
    patches.update(options)
    patches.update(BASE_PATCHES)
    inner = _guarded(compile_fx_inner, fallback)
    return compile_fx(gm, example_inputs, inner_compile=inner, config_patches=patches)


def gemm_policy(option: Optional[str]) -> str:
    """The GEMM policy: the option if given, else `TURBINE_TRITON_GEMM`, else "auto"."""
    value = option if option is not None else os.environ.get(GEMM_ENV, "")
    policy = str(value).strip().lower() or "auto"
    if policy not in GEMM_POLICIES:
        raise ValueError(f"turbine_triton: {GEMM_OPTION} / {GEMM_ENV} is {value!r}; "
                         f"expected one of {', '.join(GEMM_POLICIES)}")
    return policy


def default_gemm_patches(mode_patches: dict, options: dict) -> dict:
    """Inductor settings that offer a Triton template next to ATen for each large GEMM,
    unless the mode or the user's options say how GEMMs are searched, their global
    Inductor config already searches them, or its backends leave Triton out.
    (Inductor's CPP GEMM template is left out: it is C++ codegen, not ours.)"""
    from torch._inductor import config
    keys = ("max_autotune", "max_autotune_gemm", "max_autotune_gemm_backends")
    if any(k in mode_patches or k in options for k in keys):
        return {}
    backends = {b.strip().upper() for b in config.max_autotune_gemm_backends.split(",")}
    if config.max_autotune or config.max_autotune_gemm or "TRITON" not in backends:
        return {}
    return {"max_autotune_gemm": True, "max_autotune_gemm_backends": "ATEN,TRITON"}


def conv_patches(options: dict) -> dict:
    """Keep convolutions on ATen unless the user's options or environment name conv backends.

    torch 2.13 peels a conv's bias into a separate add only off CPU
    (`torch/_inductor/kernel/conv.py`); on CPU the bias stays in the choice's inputs,
    which the Triton conv templates (x, weight) do not take, so autotuning them
    fails with a launcher argument-count error.  1x1 convs that Inductor turns
    into matmuls still get the GEMM templates.
    """
    if "max_autotune_conv_backends" in options or CONV_BACKENDS_ENV in os.environ:
        return {}
    return {"max_autotune_conv_backends": "ATEN"}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def _guarded(inner_compile, fallback: bool):
    """`inner_compile` whose lowering failures name the Inductor kernel and the TTIR op;
    with `fallback`, such a graph is recompiled with Inductor's C++ backend, loudly."""
    def compile_graph(gm, example_inputs, **kwargs):
        try:
            return inner_compile(gm, example_inputs, **kwargs)
        except Exception as e:
            named = lowering_failure(e)
            if named is None:
                raise
            if not fallback:
                raise named from e
            from torch._inductor import config
            warnings.warn(
                f"{named}\nturbine_triton: {FALLBACK_ENV} is set, so this graph is compiled with "
                f"Inductor's C++ backend instead of through IREE.",
                TurbineTritonFallbackWarning, stacklevel=2)
            with config.patch(cpu_backend="cpp"):
                return inner_compile(gm, example_inputs, **kwargs)
    return compile_graph


def lowering_failure(exc: BaseException) -> Optional[InductorLoweringError]:
    """An `InductorLoweringError` for `exc` if one of its causes is ours, else None.

    Inductor compiles kernels in worker processes, whose exceptions come back
    as text (`SubprocException`), so the formatted message is read as well.
    """
    from ..lowering.errors import LoweringError
    from ..runtime.errors import CompileError
    from ..triton_frontend.parser import TTIRParseError

    seen = set()
    e: Optional[BaseException] = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, InductorLoweringError):
            return e
        kernel = getattr(e, "kernel", None)
        if isinstance(e, LoweringError):
            return InductorLoweringError(kernel or _kernel_of(e) or "?", e.op_name or "?", str(e))
        if isinstance(e, CompileError):
            return InductorLoweringError(e.kernel, _op_of(e.diagnostic), str(e))
        if isinstance(e, TTIRParseError):
            return InductorLoweringError(kernel or "?", _parse_error_op(str(e)), f"TTIRParseError: {e}")
        found = _from_text(str(e))
        if found is not None:
            return found
        e = e.__cause__ or e.__context__
    return None


_KERNEL_RES = (re.compile(r"in Triton kernel `([^`]+)`"), re.compile(r"^Name=(\w+)", re.M),
               re.compile(r"Triton compilation failed: (\w+)"))


def _from_text(text: str) -> Optional[InductorLoweringError]:
    """Our error, recognised in a traceback that crossed a process boundary as text."""
    m = re.search(r"turbine_triton\.lowering\.errors\.(?:UnsupportedOp|LoweringError): `([^`]+)`(.*)", text)
    if m:
        op, detail = m.group(1), text[m.start():]
    else:
        m = re.search(r"TTIRParseError: (.*)", text)
        if m:
            op, detail = _parse_error_op(m.group(1)), text[m.start():]
        else:
            m = re.search(r"CompileError: IREE failed to compile kernel `([^`]+)`", text)
            if not m:
                return None
            op, detail = _op_of(text[m.start():]), text[m.start():]
    kernel = next((k.group(1) for r in _KERNEL_RES for k in [r.search(text)] if k), "?")
    return InductorLoweringError(kernel, op, detail.strip()[:3000])


def _parse_error_op(message: str) -> str:
    m = re.search(r"\b((?:tt|arith|math|scf|cf|llvm|gpu)\.[\w.]+)", message)
    return m.group(1) if m else "TTIR parse"


def _kernel_of(e) -> Optional[str]:
    """The kernel's name from the error's location: the `@triton.jit` def in Inductor's file."""
    loc = getattr(e, "loc", None)
    path = getattr(loc, "file", "") if loc is not None else ""
    if path and os.path.exists(path):
        with open(path) as f:
            names = re.findall(r"^def (triton_\w+)\(", f.read(), re.M)
        if names:
            return names[-1]
    return None


def _op_of(diagnostic: str) -> str:
    """The op IREE's diagnostic points at (`'vector.foo' op ...`), else the first error line."""
    m = re.search(r"'([a-z_]+\.[a-z_0-9.]+)' op", diagnostic)
    if m:
        return m.group(1)
    lines = [l for l in diagnostic.splitlines() if "error" in l]
    return lines[0].strip() if lines else "?"
