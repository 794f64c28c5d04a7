"""`turbine_triton.export`: a torch model with Triton kernels as one deployable IREE module.

    exported = turbine_triton.export(model, (x,), dynamic_shapes=({0: Dim("batch")},))
    y = exported(x)                       # runs in-process through IREE
    exported.save_vmfb("model.vmfb")      # runs anywhere with `iree-run-module`, no Python

The graph goes `torch.export.export` -> `run_decompositions` (which also
decomposes `triton_op`s into `triton_kernel_wrapper_functional`) -> the FX
importer of `export_graph`, which embeds every Triton kernel as a
`stream.executable` of the same module; IREE compiles the whole module once
(`input_type="torch"`).  The module's entry is `main`: user inputs in order,
then results: one per mutated user input (in-place kernels on inputs), then
the user outputs.
"""
from __future__ import annotations

import os
import tempfile
from typing import Optional, Sequence

import torch
import torch.utils._pytree as pytree

from .export_graph import ExportError, KernelRecord, import_program
from .targets import Target, resolve_target

FUNCTION = "main"


def _emitter(target: Target):
    if target.body == "cpu":
        from ..lowering.dispatch import emit_executable

        def emit(fn, signature, options, name):
            return emit_executable(fn, signature, options, executable=name)
        return emit
    from ..lowering.simt import emit_simt_executable

    def emit_simt(fn, signature, options, name):
        return emit_simt_executable(fn, signature, options, executable=name, target=target.name)
    return emit_simt


class _FnModule(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def export_program(model_or_fn, args, dynamic_shapes=None, strict: Optional[bool] = None):
    """`torch.export` the model and functionalize it down to core ATen + Triton HOPs.

    Plain `kernel[grid](...)` launches need dynamo (strict export): non-strict
    export cannot trace into them, so `strict=None` tries non-strict first and
    falls back to strict.
    """
    args = tuple(args)
    if isinstance(model_or_fn, torch.nn.Module):
        mod = model_or_fn
    else:
        mod = _FnModule(model_or_fn)
        if isinstance(dynamic_shapes, dict):  # keyed by the function's parameter names
            import inspect
            names = list(inspect.signature(model_or_fn).parameters)
            dynamic_shapes = tuple(dynamic_shapes.get(n) for n in names[:len(args)])
        if dynamic_shapes is not None:
            dynamic_shapes = (tuple(dynamic_shapes),)  # forward(*args)
    attempts = [strict] if strict is not None else [False, True]
    err = None
    for s in attempts:
        try:
            ep = torch.export.export(mod, args, dynamic_shapes=dynamic_shapes, strict=s)
            break
        except Exception as e:  # torch.export raises many kinds
            err = e
    else:
        raise ExportError(f"torch.export failed: {err}") from err
    return ep.run_decompositions(decomposition_table(), decompose_custom_triton_ops=True)


def decomposition_table():
    """Core ATen decompositions, minus the ones torch-mlir has no lowering for."""
    aten = torch.ops.aten
    table = torch.export.default_decompositions()
    # empty_like decomposes to empty_permuted, which torch-mlir does not lower
    for op in (aten.empty_like.default, aten.empty_permuted.default):
        table.pop(op, None)
    table[aten.empty_permuted.default] = _empty_permuted
    return table


def _empty_permuted(size, physical_layout, **kw):
    # value semantics: the physical layout of a fresh tensor does not matter
    return torch.empty(size, **kw)


class ExportedModule:
    """The compiled module: `.mlir`, `.vmfb`, `save_mlir`, `save_vmfb`, and a callable."""

    def __init__(self, mlir: str, vmfb: bytes, target: Target, program, kernels: Sequence[KernelRecord]):
        self.mlir = mlir
        self.vmfb = vmfb
        self.target = target
        self.kernels = list(kernels)
        self.function = FUNCTION
        sig = program.graph_signature
        from torch.export.graph_signature import OutputKind
        self._user_inputs = list(sig.user_inputs)
        self._out_kinds = [(o.kind, o.target) for o in sig.output_specs]
        self._mutated_inputs = [self._user_inputs.index(t) if k == OutputKind.USER_INPUT_MUTATION else None
                                for k, t in self._out_kinds]
        self._user_out = [k == OutputKind.USER_OUTPUT for k, _ in self._out_kinds]
        self._in_spec = program.call_spec.in_spec
        self._out_spec = program.call_spec.out_spec
        self._loaded = None

    def __repr__(self):
        return (f"ExportedModule(target={self.target.name!r}, kernels={[k.name for k in self.kernels]}, "
                f"vmfb={len(self.vmfb)} bytes)")

    def save_mlir(self, path) -> str:
        with open(path, "w") as f:
            f.write(self.mlir)
        return str(path)

    def save_vmfb(self, path) -> str:
        with open(path, "wb") as f:
            f.write(self.vmfb)
        return str(path)

    # -- running in-process
    def _load(self):
        if self._loaded is None:
            if not self.target.runnable:
                raise ExportError(f"target {self.target.name} is compile-only on this machine; "
                                  f"save_vmfb() and run it where it belongs")
            from .export_runtime import load_module
            self._loaded = load_module(self.vmfb, self.target.driver, self.function)
        return self._loaded

    def __call__(self, *args, **kwargs):
        flat = pytree.tree_leaves((args, kwargs))
        tensors = [t for t in flat if isinstance(t, torch.Tensor)]
        if len(tensors) != len(self._user_inputs):
            raise TypeError(f"expected {len(self._user_inputs)} tensor inputs, got {len(tensors)}")
        results = self._load().call(tensors)
        outs = []
        for r, mi, user in zip(results, self._mutated_inputs, self._user_out):
            if mi is not None:
                tensors[mi].copy_(r)  # a kernel wrote this input in place
            elif user:
                outs.append(r)
        out = pytree.tree_unflatten(outs, self._out_spec) if self._out_spec is not None else outs
        return out


def export(model_or_fn, args, *, dynamic_shapes=None, target="llvm-cpu", strict: Optional[bool] = None,
           extra_flags: Sequence[str] = ()) -> ExportedModule:
    """Export `model_or_fn(*args)`, graph code and Triton kernels, as one IREE module for `target`."""
    tgt = resolve_target(target)
    program = export_program(model_or_fn, args, dynamic_shapes, strict)
    return export_exported_program(program, tgt, extra_flags)


def export_exported_program(program, target="llvm-cpu", extra_flags: Sequence[str] = ()) -> ExportedModule:
    """Compile an already functionalized `ExportedProgram` (see `export_program`)."""
    tgt = resolve_target(target)
    importer = import_program(program, _emitter(tgt), FUNCTION)
    with importer.module.context:
        text = importer.module.operation.get_asm(enable_debug_info=False)
    vmfb = compile_text(text, tgt, extra_flags)
    return ExportedModule(text, vmfb, tgt, program, importer.kernels)


def compile_text(text: str, target: Target, extra_flags: Sequence[str] = ()) -> bytes:
    """`iree-compile` a torch-input module for `target`; errors keep a reproducer file."""
    import iree.compiler as ic
    from ..runtime.errors import CompileError
    try:
        return ic.compile_str(text, input_type="torch", extra_args=list(target.flags) + list(extra_flags))
    except ic.CompilerToolError as e:
        fd, path = tempfile.mkstemp(prefix="turbine_triton_export_", suffix=".mlir")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        lines = [l for l in str(e).splitlines() if "error" in l or "note" in l] or str(e).splitlines()
        raise CompileError("export", "\n".join(lines[:40]), path) from None
