"""Build the IREE module of one kernel: a `stream.executable` plus a host function.

Each Triton program is one workgroup; the export's count region returns the
workgroup count unchanged.  The host function `launch` imports every argument's
storage (written ones with `consume`), dispatches once, aliases the written
results back onto the caller's buffers and waits on a fence, so nothing is
copied.  `launch_async` does the same but signals the caller's fence instead of
waiting, so the caller can run other programs of the grid meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from iree.compiler import ir
from iree.compiler.dialects import arith, builtin, flow, func, hal, stream, util

from ..triton_frontend.ttir import Argument, Function, PtrType, ScalarType, Value, walk_ops
from . import grid
from . import types as T
from .abi import (ASYNC_SUFFIX, HOST_GRID_WORDS, STATUS_PARAM, KernelAbi, abi_from_signature,
                  push_constant_type)

# device_print records kept per launch; later ones are dropped (and counted)
PRINT_RECORDS = 4096
from .context import LoweringContext, PtrValue, to_location
from .half import legalize_f16
from .ops.control_flow import create_extra_blocks, lower_extra_blocks
from .analysis.advance import load_advances
from .analysis.dot_operands import dot_operand_loads
from .analysis.chunking import chunk_plan
from .ops.streaming import loaded_args
from .chunked import lower_chunked
from .orientation import reversed_axes, should_reverse
from .walk import lower_block

EXECUTABLE = "triton_exe"


@dataclass(frozen=True)
class LoweredModule:
    """The IREE input module of one kernel and its ABI."""
    mlir: str
    abi: KernelAbi
    entry: str


def _pointer_args(fn: Function):
    return [i for i, a in enumerate(fn.args) if isinstance(a.value.type, PtrType)]


def build_module(fn: Function, signature: dict, options=None, functions: dict = None) -> LoweredModule:
    """Lower a parsed `tt.func` to a standalone IREE module (text) plus its ABI."""
    ctx_ir = ir.Context()
    with ctx_ir, to_location(fn.loc):
        module = ir.Module.create()
        module.operation.attributes["sym_name"] = ir.StringAttr.get(f"tt_{fn.name}")
        with ir.InsertionPoint(module.body):
            kernel = emit_executable(fn, signature, options, functions=functions)
            emit_host_function(kernel)
        # iree-compile verifies (with kernel locations); verifying here as well
        # would only repeat that work on every cold compile.
        text = module.operation.get_asm(enable_debug_info=True, assume_verified=True)
    return LoweredModule(text, kernel.abi, kernel.abi.host_function)


@dataclass
class EmittedKernel:
    """A kernel's `stream.executable` in some module, and what a caller needs to dispatch it.

    `executable` and `export` name the symbol `@executable::@export`; pointer
    arguments in `written_args` (indices into the `tt.func` arguments) must be
    tied to dispatch results.  See `emit_host_function` for the operand order.
    """
    fn: Function
    abi: KernelAbi
    executable: str
    export: str
    written_args: set


def emit_executable(fn: Function, signature: dict, options=None, executable: str = EXECUTABLE,
                    functions: dict = None) -> EmittedKernel:
    """Build the kernel's `stream.executable` at the current insertion point.

    Works inside any module of the current context, so graph code (for
    example torch-mlir's) can dispatch the kernel next to its own ops.
    Dispatch operands: one tensor per pointer argument (its whole storage),
    then (i64 element count, i64 element offset) per pointer argument, then
    each scalar argument as its push-constant type (`abi.push_constant_type`).
    """
    lctx = LoweringContext(fn.name, options)
    lctx.functions = dict(functions or {})
    signature = dict(_full_signature(fn, signature))
    if should_reverse(fn):
        fn = reversed_axes(fn)
    if _needs_status(fn, options):
        fn, signature = _with_status_param(fn, signature)
        lctx.status_arg = len(fn.args) - 1
    inner = executable_shell(executable, fn.name)
    _build_kernel(lctx, fn, inner)
    abi = abi_from_signature(fn.name, signature, _written_names(lctx, fn, signature), lctx.sites,
                             PRINT_RECORDS if lctx.has_prints else 0)
    return EmittedKernel(fn, abi, executable, fn.name, set(lctx.written_args))


def executable_shell(executable: str, kernel: str):
    """`stream.executable @executable` exporting `@kernel` with the grid as its workgroup count.

    Returns the inner `builtin.module` where the kernel function goes.
    """
    exe = stream.ExecutableOp(executable, sym_visibility="private")
    exe_block = exe.body.blocks.append()
    with ir.InsertionPoint(exe_block):
        export = stream.ExecutableExportOp(kernel, ir.FlatSymbolRefAttr.get(kernel), sym_visibility="public")
        idx = ir.IndexType.get()
        wg = export.workgroup_count.blocks.append(idx, idx, idx)
        with ir.InsertionPoint(wg):
            stream.ReturnOp(list(wg.arguments))
        inner = builtin.ModuleOp()
        stream.ExecutableEndOp()
    return inner


def _needs_status(fn: Function, options) -> bool:
    if options is not None and getattr(options, "bounds_check", False):
        return True
    return any(op.name in ("tt.assert", "tt.print") for op in walk_ops(fn.body))


def _with_status_param(fn: Function, signature: dict):
    """The function with the hidden status buffer appended as a pointer argument."""
    status = Argument(Value("%" + STATUS_PARAM, PtrType(ScalarType("i64"))))
    sig = dict(signature)
    sig[STATUS_PARAM] = "*i64"
    return replace(fn, args=list(fn.args) + [status]), sig


def emit_host_function(kernel: EmittedKernel):
    """The host functions at the current insertion point:

    * `@launch(buffer views..., element offsets..., scalars..., workgroups x y z, program
      offsets x y z, grid x y z)` dispatches the workgroups (the programs from the offsets on of a
      grid of the given size; see `lowering/grid.py`) and waits for them;
    * `@launch_async(the same..., signal fence)` dispatches and returns; the fence is signalled
      once the dispatch is done.  A caller runs other programs of the same grid meanwhile.
    """
    name = kernel.abi.host_function
    _build_host(kernel.fn, kernel.abi, kernel.written_args, kernel.executable, name, signal=False)
    _build_host(kernel.fn, kernel.abi, kernel.written_args, kernel.executable, name + ASYNC_SUFFIX,
                signal=True)


def _full_signature(fn: Function, signature: dict) -> dict:
    if signature:
        return signature
    from ..triton_frontend.signature import signature_of
    return signature_of(fn)


def _runtime_params(signature: dict) -> list:
    return [name for name, ty in signature.items() if ty != "constexpr"]


def _written_names(lctx, fn: Function, signature: dict) -> set:
    names = _runtime_params(_full_signature(fn, signature))
    return {names[i] for i in lctx.written_args}


def _build_kernel(lctx: LoweringContext, fn: Function, inner):
    """The dispatch function: bindings, push constants, then the kernel body."""
    ptr_args = _pointer_args(fn)
    binding_t = ir.Type.parse("!stream.binding")
    i64 = ir.IntegerType.get_signless(64)
    idx = ir.IndexType.get()
    arg_types = [binding_t] * len(ptr_args)
    arg_types += [i64, i64] * len(ptr_args)  # element count, element offset
    scalar_args = [i for i, a in enumerate(fn.args) if not isinstance(a.value.type, PtrType)]
    from ..triton_frontend.signature import triton_type
    arg_types += [push_constant_type(triton_type(fn.args[i].value.type)) for i in scalar_args]
    arg_types += grid.operand_types()
    with ir.InsertionPoint(inner.body):
        f = func.FuncOp(fn.name, ir.FunctionType.get(arg_types, []))
        entry = f.add_entry_block()
    with ir.InsertionPoint(entry):
        args = list(entry.arguments)
        lctx.grid_args = args[-grid.GRID_OPERANDS:]
        nptr = len(ptr_args)
        sizes = [arith.index_cast(idx, args[nptr + 2 * j]) for j in range(nptr)]
        # memref views are created lazily, but always here at the entry
        marker = arith.constant(idx, 0)
        lctx.entry_ip = ir.InsertionPoint(marker.owner)
        for j, i in enumerate(ptr_args):
            pointee = fn.args[i].value.type.pointee
            size = sizes[j]
            lctx.bindings[i] = (args[j], size, T.memory_scalar(pointee))
            lctx.bind(fn.args[i].value, PtrValue(i, args[nptr + 2 * j + 1], pointee))
        for j, i in enumerate(scalar_args):
            v = args[3 * nptr + j]
            want = T.scalar(fn.args[i].value.type)
            if v.type != want:
                v = arith.truncf(want, v) if T.is_float(want) else arith.trunci(want, v)
            lctx.bind(fn.args[i].value, v)
            if fn.args[i].divisibility > 1:     # Triton's specialization: the value is a multiple
                lctx.int_facts[v] = (fn.args[i].divisibility, False)
        lctx.ptr_arg_order = ptr_args
        lctx.loaded_args = loaded_args(fn)
        lctx.load_advance = load_advances(fn)
        lctx.dot_operands = dot_operand_loads(fn)
        lctx.arg_names = [a.value.name.lstrip("%") for a in fn.args]
        create_extra_blocks(lctx, fn, f.body)
        plan = chunk_plan(fn) if _chunking_enabled() else None
        if plan is not None:
            lower_chunked(lctx, plan)
        else:
            lower_block(lctx, fn.body)
    lower_extra_blocks(lctx, fn, f.body)
    legalize_f16(f)
    if lctx.uses_linalg:
        # linalg tiles inside a pre-distributed body need the pinned pipeline
        from .ops.dot import TRANSLATION_INFO, carry_accumulators
        f.attributes["translation_info"] = ir.Attribute.parse(TRANSLATION_INFO)
        carry_accumulators(f)


def _chunking_enabled() -> bool:
    import os
    return os.environ.get("TURBINE_TRITON_CHUNKING", "1") != "0"


def _build_host(fn: Function, abi: KernelAbi, written_args: set, executable: str, name: str,
                signal: bool):
    """`util.func @name`: import, dispatch, alias back; then wait (or, with `signal`, signal the
    caller's fence, its last argument, and return at once)."""
    ptr_args = _pointer_args(fn)
    scalar_args = [i for i, a in enumerate(fn.args) if not isinstance(a.value.type, PtrType)]
    bv_t = ir.Type.parse("!hal.buffer_view")
    fence_t = ir.Type.parse("!hal.fence")
    i64 = ir.IntegerType.get_signless(64)
    idx = ir.IndexType.get()
    n_in = len(ptr_args) * 2 + len(scalar_args) + HOST_GRID_WORDS
    inputs = [bv_t] * len(ptr_args) + [i64] * (n_in - len(ptr_args)) + ([fence_t] if signal else [])
    ftype = ir.FunctionType.get(inputs, [])
    host = util.FuncOp(name, ir.TypeAttr.get(ftype))
    host.attributes["iree.abi.stub"] = ir.UnitAttr.get()
    block = host.body.blocks.append(*ftype.inputs)
    with ir.InsertionPoint(block):
        a = list(block.arguments)
        signal_fence = a.pop() if signal else None
        nptr = len(ptr_args)
        views, offsets = a[:nptr], a[nptr:2 * nptr]
        scalars = a[2 * nptr:2 * nptr + len(scalar_args)]
        words = a[-HOST_GRID_WORDS:]
        workgroups = [arith.index_cast(idx, g) for g in words[:3]]
        tensors, dims, written = [], [], []
        for j, i in enumerate(ptr_args):
            elem = T.memory_scalar(fn.args[i].value.type.pointee)
            tt = ir.RankedTensorType.get([ir.ShapedType.get_dynamic_size()], elem)
            n = hal.BufferViewDimOp(views[j], 0, results=[idx]).result
            consume = i in written_args
            t = hal.TensorImportOp(tt, views[j], ir.TypeAttr.get(tt), [n], consume=consume or None,
                                   name=fn.args[i].value.name.lstrip("%")).result
            tensors.append(t)
            dims.append(n)
            if consume:
                written.append(j)
        operands = list(tensors)
        for j in range(nptr):
            operands += [arith.index_cast(i64, dims[j]), offsets[j]]
        for j, i in enumerate(scalar_args):
            want = push_constant_type(_ttype(fn.args[i].value.type))
            operands.append(_from_i64(scalars[j], want))
        operands += grid.operands(words[3:6], words[6:9])
        if not written:
            if signal:
                hal.FenceSignalOp(signal_fence)
            util.ReturnOp([])
            return
        result_types = [tensors[j].type for j in written]
        entry = ir.ArrayAttr.get([ir.SymbolRefAttr.get([executable, fn.name])])
        tied = ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IndexType.get(), j) for j in written])
        d = flow.DispatchOp(result_types, workgroups, entry, operands, dims, [dims[j] for j in written],
                            tied_operands=tied)
        aliased = []
        for r, j in zip(d.results, written):
            aliased.append(hal.TensorAliasOp(r, [dims[j]], views[j], results=[r.type]).result)
        if signal:
            hal.TensorBarrierOp([x.type for x in aliased], aliased, signal_fence)
            util.ReturnOp([])
            return
        c0 = arith.constant(idx, 0)
        dev = hal.DevicesGetOp(c0, results=[ir.Type.parse("!hal.device")]).result
        fence = hal.FenceCreateOp(dev, hal.FenceFlagBitfield.None_, results=[fence_t]).result
        hal.TensorBarrierOp([x.type for x in aliased], aliased, fence)
        tmo = arith.constant(ir.IntegerType.get_signless(32), -1)
        hal.FenceAwaitOp(tmo, hal.WaitFlagBitfield.None_, [fence],
                         results=[ir.IntegerType.get_signless(32)])
        util.ReturnOp([])


def _ttype(t) -> str:
    from ..triton_frontend.signature import triton_type
    return triton_type(t)


def _from_i64(v: ir.Value, want: ir.Type) -> ir.Value:
    """Host scalars arrive as i64 words: narrow ints, reinterpret float bits."""
    if T.is_float(want):
        w = T.bitwidth(want)
        bits = arith.trunci(ir.IntegerType.get_signless(w), v) if w < 64 else v
        return arith.bitcast(want, bits)
    if T.bitwidth(want) < 64:
        return arith.trunci(want, v)
    return v
