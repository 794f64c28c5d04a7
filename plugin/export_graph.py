"""A `torch.export` program plus its Triton kernels as ONE IREE input module.

The graph is imported by torch-mlir's FX importer (shipped in
iree-base-compiler).  Each `triton_kernel_wrapper_functional` node (what
`torch.export` makes of a `torch.library.triton_op` + `wrap_triton`, or of a
plain `kernel[grid](...)` launch traced by dynamo) is imported by a
`GraphNodeImporter` hook that

* captures the kernel's TTIR (Triton's own frontend and specialization),
* builds its `stream.executable` inside the same module (`emit_executable`
  for CPU targets, the SIMT lowering of `lowering/simt` for GPU targets),
* and calls it with `flow.dispatch` from the graph function: torch values
  become builtin tensors (`torch_c.to_builtin_tensor`), are flattened to 1-D
  (`tensor.collapse_shape`), written ones are tied to dispatch results (the
  kernel's in-place writes, no copy) and come back through
  `tensor.expand_shape` + `torch_c.from_builtin_tensor`.

The grid is the one the Python grid lambda computed while tracing: under
dynamic shapes it arrives as SymInt nodes (`sym_size`, `mul`, `floordiv`)
that the importer turns into `torch.aten.*.int` ops on the input shapes, so a
new batch size needs no recompile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
import torch.fx as torch_fx

from iree.compiler import ir
from iree.compiler.dialects import arith, flow, tensor
from iree.compiler.extras.fx_importer import FxImporter, GraphNodeImporter

from ..lowering import grid as kernel_grid
from ..lowering.abi import push_constant_type
from ..lowering.context import to_location
from ..runtime.errors import TurbineTritonError
from ..triton_frontend.capture import capture_jit
from ..triton_frontend.parser import parse_ttir
from ..triton_frontend.ttir import PtrType

_TORCH_TO_MLIR = {
    torch.float32: ir.F32Type.get, torch.float16: ir.F16Type.get, torch.bfloat16: ir.BF16Type.get,
    torch.float64: ir.F64Type.get,
    torch.int8: lambda: ir.IntegerType.get_signless(8), torch.uint8: lambda: ir.IntegerType.get_signless(8),
    torch.int16: lambda: ir.IntegerType.get_signless(16), torch.int32: lambda: ir.IntegerType.get_signless(32),
    torch.int64: lambda: ir.IntegerType.get_signless(64),
}


class ExportError(TurbineTritonError, RuntimeError):
    """A graph or kernel that `turbine_triton.export` cannot put into one module."""


@dataclass
class KernelRecord:
    """One Triton kernel embedded in the module (for reports and tests)."""
    name: str
    executable: str
    ttir: str
    signature: dict
    written: List[str] = field(default_factory=list)


# `emitter(fn, signature, options, executable) -> EmittedKernel`
Emitter = Callable


class TritonFxImporter(FxImporter):
    """An `FxImporter` whose graphs may call Triton kernels."""

    def __init__(self, emitter: Emitter, **kw):
        super().__init__(graph_node_importer_cls=TritonGraphNodeImporter, **kw)
        self.emitter = emitter
        self.kernels: List[KernelRecord] = []
        self._emitted: Dict[tuple, object] = {}

    def emit_kernel(self, jit_fn, example_args: list, constexprs: dict):
        """Capture `jit_fn` for these (example) args and build its executable once."""
        key = (id(jit_fn), tuple(_spec_key(a) for a in example_args), tuple(sorted(constexprs.items())))
        if key in self._emitted:
            return self._emitted[key]
        try:
            options = {"debug": True} if getattr(jit_fn, "debug", False) else None
            captured = capture_jit(jit_fn, *example_args, options=options, **constexprs)
        except Exception as e:  # Triton's frontend errors are plain exceptions
            raise ExportError(f"could not capture Triton kernel `{jit_fn.__name__}`: {e}") from e
        fn = parse_ttir(captured.ttir).function()
        name = f"triton_{len(self.kernels)}_{fn.name}"
        with ir.InsertionPoint(self.module.body), to_location(fn.loc):
            emitted = self.emitter(fn, captured.signature, captured.options, name)
        runtime = [n for n, t in captured.signature.items() if t != "constexpr"]
        self.kernels.append(KernelRecord(fn.name, name, captured.ttir, captured.signature,
                                         sorted(runtime[i] for i in emitted.written_args if i < len(runtime))))
        self._emitted[key] = (captured, fn, emitted)
        return self._emitted[key]


def _spec_key(a):
    if isinstance(a, torch.Tensor):
        return ("T", a.dtype)
    return ("V", type(a).__name__, a if isinstance(a, (int, float, bool, type(None))) else repr(a))


def _example_value(v):
    """A stand-in argument for capture: same dtype/type, no specialization on sizes."""
    if isinstance(v, torch_fx.Node):
        val = v.meta.get("val")
        if isinstance(val, torch.Tensor):
            return torch.empty(16, dtype=val.dtype)
        if isinstance(val, torch.SymInt):
            # Not 1 and not a multiple of 16: Triton must not specialize a size.
            return 17
        if isinstance(val, torch.SymFloat):
            return 0.5
        if isinstance(val, (int, float, bool)):
            return val
        raise ExportError(f"kernel argument {v.name} has unsupported value {val!r}")
    if isinstance(v, torch.Tensor):
        return torch.empty(16, dtype=v.dtype)
    return v


class TritonGraphNodeImporter(GraphNodeImporter):
    """Imports `triton_kernel_wrapper_functional` as a `flow.dispatch` to an embedded executable."""

    def _import_hop_triton_kernel_wrapper_mutation(self, loc, node, hop):
        raise ExportError("triton_kernel_wrapper_mutation reached the importer; the program must be "
                          "functionalized first (ExportedProgram.run_decompositions)")

    def _import_hop_triton_kernel_wrapper_functional(self, loc, node, hop):
        from torch._higher_order_ops.triton_kernel_wrap import kernel_side_table
        kw = node.kwargs
        kernel = kernel_side_table.get_kernel(kw["kernel_idx"])
        values = dict(kernel_side_table.get_constant_args(kw["constant_args_idx"]))
        values.update(kw["kwargs"])
        jit_fn, config_kwargs = _unwrap_kernel(kernel)
        values.update(config_kwargs)
        if kw.get("tma_descriptor_metadata"):
            raise ExportError("kernels with host TMA descriptors cannot be exported")
        grids = kw["grid"]
        if len(grids) != 1:
            raise ExportError(f"kernel `{jit_fn.__name__}`: expected one grid, got {len(grids)} "
                              f"(autotuning with several configs is not exportable; pin one config)")
        grid = list(grids[0]) + [1] * (3 - len(grids[0]))

        names = list(jit_fn.arg_names)
        constexpr_names = {p.name for p in jit_fn.params if p.is_constexpr}
        args, constexprs = [], {}
        for p in jit_fn.params:
            if p.name in values:
                v = values[p.name]
            elif p.has_default:
                v = p.default
            else:
                raise ExportError(f"kernel `{jit_fn.__name__}`: no value for argument `{p.name}`")
            if p.name in constexpr_names:
                constexprs[p.name] = v
            else:
                args.append(v)
        runtime_names = [n for n in names if n not in constexpr_names]
        examples = [_example_value(v) for v in args]
        captured, fn, emitted = self.fx_importer.emit_kernel(jit_fn, examples, constexprs)
        by_name = dict(zip(runtime_names, args))

        sig_runtime = [n for n, t in captured.signature.items() if t != "constexpr"]
        # the CPU lowering may append a hidden status buffer (device asserts/prints)
        fn = emitted.fn
        status = None
        if getattr(emitted.abi, "has_status", False) and len(fn.args) == len(sig_runtime) + 1:
            from ..lowering.abi import PRINT_RECORD_WORDS, STATUS_HEADER_WORDS, STATUS_PARAM
            sig_runtime.append(STATUS_PARAM)
            status = STATUS_HEADER_WORDS + PRINT_RECORD_WORDS * getattr(emitted.abi, "print_records", 0)
        if len(sig_runtime) != len(fn.args):
            raise ExportError(f"kernel `{fn.name}`: {len(fn.args)} TTIR arguments but "
                              f"{len(sig_runtime)} runtime parameters")
        ptr_idx = [i for i, a in enumerate(fn.args) if isinstance(a.value.type, PtrType)]
        scalar_idx = [i for i, a in enumerate(fn.args) if not isinstance(a.value.type, PtrType)]
        idx_t = ir.IndexType.get()
        i64 = ir.IntegerType.get_signless(64)
        with loc, ir.InsertionPoint(self._b):
            flats, dims, shapes = [], [], []
            for i in ptr_idx:
                if status is not None and i == len(fn.args) - 1:
                    # a fresh zeroed status buffer; the exported module does not report it
                    flat, n = self._zeros_i64(status)
                    flats.append(flat)
                    dims.append(n)
                    shapes.append(None)
                    continue
                arg_node = by_name[sig_runtime[i]]
                if not isinstance(arg_node, (torch_fx.Node, torch.Tensor)):
                    raise ExportError(f"kernel `{fn.name}`: pointer argument `{sig_runtime[i]}` is not a tensor")
                flat, n, shape = self._flatten(loc, arg_node, fn.name, sig_runtime[i])
                flats.append(flat)
                dims.append(n)
                shapes.append(shape)
            operands = list(flats)
            c0 = arith.constant(i64, 0)
            for n in dims:
                operands += [arith.index_cast(i64, n), c0]
            for i in scalar_idx:
                want = push_constant_type(captured.signature[sig_runtime[i]])
                operands.append(self._scalar(loc, by_name[sig_runtime[i]], want))
            workload = [self._index(loc, g) for g in grid]
            operands += kernel_grid.whole_grid(workload)

            written = sorted(j for j, i in enumerate(ptr_idx) if i in emitted.written_args)
            result_types = [flats[j].type for j in written]
            entry = ir.ArrayAttr.get([ir.SymbolRefAttr.get([emitted.executable, emitted.export])])
            tied = ir.ArrayAttr.get([ir.IntegerAttr.get(idx_t, j) for j in written])
            d = flow.DispatchOp(result_types, workload, entry, operands, dims, [dims[j] for j in written],
                                tied_operands=tied)
            results = {sig_runtime[ptr_idx[j]]: r for j, r in zip(written, d.results)}
            shape_of = {sig_runtime[i]: (flats[j], shapes[j]) for j, i in enumerate(ptr_idx)}

            self._multi_result_nodes.add(node)
            for name in kw["tensors_to_clone"]:
                flat, shape = shape_of[name]
                value = results.get(name, flat)
                self.bind_node_value(node, self._unflatten(value, shape, node.meta["val"][name]), name)

    # -- helpers
    def _zeros_i64(self, n: int):
        i64 = ir.IntegerType.get_signless(64)
        t = ir.RankedTensorType.get([n], i64)
        z = arith.constant(t, ir.DenseElementsAttr.get_splat(t, ir.IntegerAttr.get(i64, 0)))
        dyn = tensor.cast(ir.RankedTensorType.get([ir.ShapedType.get_dynamic_size()], i64), z)
        return dyn, arith.constant(ir.IndexType.get(), n)

    def _flatten(self, loc, arg_node, kname, pname):
        """torch vtensor -> 1-D builtin tensor<?xT>, its size, and the original shape values."""
        # frozen parameters arrive as the tensors themselves
        val = arg_node if isinstance(arg_node, torch.Tensor) else arg_node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            raise ExportError(f"kernel `{kname}`: argument `{pname}` is not a tensor")
        if not val.is_contiguous():
            raise ExportError(f"kernel `{kname}`: argument `{pname}` is a non-contiguous view "
                              f"(strides {tuple(val.stride())}); pass `.contiguous()` to the kernel")
        elem = _TORCH_TO_MLIR.get(val.dtype)
        if elem is None:
            raise ExportError(f"kernel `{kname}`: argument `{pname}` has dtype {val.dtype}, "
                              f"which export does not pass to kernels yet")
        elem = elem()
        v = self._import_argument(loc, arg_node)
        static = [d if isinstance(d, int) else ir.ShapedType.get_dynamic_size() for d in val.shape]
        bt = ir.RankedTensorType.get(static, elem)
        b = ir.Operation.create("torch_c.to_builtin_tensor", results=[bt], operands=[v]).result
        idx_t = ir.IndexType.get()
        shape = [arith.constant(idx_t, d) if d >= 0 else tensor.dim(b, arith.constant(idx_t, k))
                 for k, d in enumerate(static)]
        dyn1 = ir.RankedTensorType.get([ir.ShapedType.get_dynamic_size()], elem)
        rank = len(static)
        if rank == 0:
            one = ir.RankedTensorType.get([1], elem)
            flat = tensor.expand_shape(one, b, ir.ArrayAttr.get([]), [], [1])
        elif rank == 1:
            flat = b
        else:
            total = math.prod(static) if all(d >= 0 for d in static) else ir.ShapedType.get_dynamic_size()
            ct = ir.RankedTensorType.get([total], elem)
            flat = tensor.collapse_shape(ct, b, _reassoc(rank))
        if flat.type != dyn1:
            flat = tensor.cast(dyn1, flat)
        n = tensor.dim(flat, arith.constant(idx_t, 0))
        return flat, n, (static, shape, elem)

    def _unflatten(self, value, shape, val):
        static, dims, elem = shape
        rank = len(static)
        idx_t = ir.IndexType.get()
        if rank == 0:
            one = ir.RankedTensorType.get([1], elem)
            value = tensor.cast(one, value)
            out = tensor.collapse_shape(ir.RankedTensorType.get([], elem), value, ir.ArrayAttr.get([]))
        elif rank == 1:
            out = value
            want = ir.RankedTensorType.get(static, elem)
            if out.type != want:
                out = tensor.cast(want, out)
        else:
            want = ir.RankedTensorType.get(static, elem)
            dyn = [d for d, s in zip(dims, static) if s < 0]
            if not dyn:  # fully static: the flat size is static too
                value = tensor.cast(ir.RankedTensorType.get([math.prod(static)], elem), value)
            out = tensor.expand_shape(want, value, _reassoc(rank), dyn, static)
        vt = self._cc.tensor_metadata_to_type(val)
        return ir.Operation.create("torch_c.from_builtin_tensor", results=[vt], operands=[out]).result

    def _to_i64(self, loc, v):
        """A graph scalar (SymInt node) as a builtin i64."""
        tv = self._import_argument(loc, v)
        i64 = ir.IntegerType.get_signless(64)
        if str(tv.type) == "!torch.int":
            return ir.Operation.create("torch_c.to_i64", results=[i64], operands=[tv]).result
        raise ExportError(f"unsupported scalar {v} of type {tv.type}")

    def _index(self, loc, g):
        idx_t = ir.IndexType.get()
        if isinstance(g, torch_fx.Node):
            return arith.index_cast(idx_t, self._to_i64(loc, g))
        return arith.constant(idx_t, int(g))

    def _scalar(self, loc, v, want: ir.Type):
        if isinstance(v, torch_fx.Node):
            val = v.meta.get("val")
            if isinstance(val, torch.SymFloat):
                tv = self._import_argument(loc, v)
                f64 = ir.F64Type.get()
                f = ir.Operation.create("torch_c.to_f64", results=[f64], operands=[tv]).result
                return f if want == f64 else arith.truncf(want, f)
            x = self._to_i64(loc, v)
            if isinstance(want, ir.IntegerType) and ir.IntegerType(want).width < 64:
                return arith.trunci(want, x)
            if isinstance(want, ir.IntegerType):
                return x
            return arith.sitofp(want, x)
        if isinstance(want, ir.IntegerType):
            return arith.constant(want, int(v))
        return arith.constant(want, float(v))


def _reassoc(rank: int):
    i64 = ir.IntegerType.get_signless(64)
    return ir.ArrayAttr.get([ir.ArrayAttr.get([ir.IntegerAttr.get(i64, k) for k in range(rank)])])


def _unwrap_kernel(kernel):
    """(JITFunction, config kwargs) of a kernel from the side table."""
    from triton.runtime.autotuner import Autotuner, Heuristics
    cfg = {}
    while not hasattr(kernel, "arg_names") or isinstance(kernel, (Autotuner, Heuristics)):
        if isinstance(kernel, Autotuner):
            if len(kernel.configs) != 1:
                raise ExportError(f"autotuned kernel `{kernel.fn.__name__}` has {len(kernel.configs)} "
                                  f"configs; export needs exactly one")
            cfg.update(kernel.configs[0].kwargs)
            kernel = kernel.fn
        elif isinstance(kernel, Heuristics):
            raise ExportError("@triton.heuristics kernels cannot be exported yet")
        else:
            kernel = kernel.fn
    return kernel, cfg


def import_program(prog: torch.export.ExportedProgram, emitter: Emitter, func_name: str = "main"):
    """Import `prog` (functionalized) into a new module; returns (importer, module)."""
    context = ir.Context()
    imp = TritonFxImporter(emitter, context=context)
    imp.import_frozen_program(prog, func_name=func_name)
    return imp
