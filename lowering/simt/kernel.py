"""Build a kernel's `stream.executable` with a SIMT body (see the package docstring).

Body shape, for a kernel whose tensors are all `tensor<BLOCKxT>`, with W threads
per workgroup (W = min(BLOCK, 128), a power of two dividing BLOCK):

    lane0 = gpu.thread_id x
    scf.for k in [0, BLOCK / W):          // each thread owns BLOCK / W elements
      lane = lane0 + k * W               // tt.make_range -> lane + start
      <the kernel's ops on scalars>      // tt.load/tt.store -> scf.if(mask) memref.load/store
"""
from __future__ import annotations

from dataclasses import dataclass

from iree.compiler import ir
from iree.compiler.dialects import arith, func, gpu, scf, stream
from iree.compiler.dialects import memref

from ...triton_frontend.signature import triton_type
from ...triton_frontend.ttir import Function, PtrType, TensorType
from ..abi import abi_from_signature, push_constant_type
from ..context import to_location
from ..dispatch import EXECUTABLE, EmittedKernel, executable_shell
from ..errors import LoweringError, UnsupportedOp
from .. import grid
from .. import types as T

# pipeline attribute per GPU target family
SIMT_TARGETS = {
    "vulkan-spirv": "#iree_gpu.spirv_pipeline<BaseLowering>",
    "rocm": "#iree_gpu.pipeline<BaseLowering>",
}
MAX_THREADS = 128


def _pipeline_for(target: str) -> str:
    family = target.split(":")[0]
    if family in ("vulkan", "vulkan-spirv"):
        return SIMT_TARGETS["vulkan-spirv"]
    if family in ("rocm", "hip"):
        return SIMT_TARGETS["rocm"]
    raise ValueError(f"no SIMT pipeline for target {target!r}")


@dataclass
class _Ptr:
    """A (scalar) pointer: argument index and element offset (index)."""
    arg: int
    offset: ir.Value
    pointee: object


class SimtContext:
    """Per-kernel state: TTIR value -> lowered scalar (or `_Ptr`)."""

    def __init__(self, fn: Function, block: int):
        self.fn = fn
        self.block = block
        self.values = {}
        self.memrefs = {}
        self.written_args = set()
        self.lane = None
        self.grid_args = ()   # the dispatch's grid operands (lowering/grid.py)

    def bind(self, v, lowered):
        self.values[v] = lowered

    def get(self, v):
        try:
            return self.values[v]
        except KeyError:
            raise LoweringError(f"value {v.name} used before it was lowered") from None


def block_size(fn: Function) -> int:
    """The one 1-D tensor length all tensors of `fn` share (1 if there are none)."""
    sizes = set()

    def visit(ops):
        for op in ops:
            for v in op.results:
                if isinstance(v.type, TensorType):
                    if len(v.type.shape) != 1:
                        raise UnsupportedOp(
                            f"the SIMT (GPU) lowering handles 1-D blocks only, not {v.type}; "
                            f"GPU targets support elementwise kernels", op.name, op.loc)
                    sizes.add(v.type.shape[0])
            for r in op.regions:
                for b in r.blocks:
                    visit(b.ops)
    visit(fn.body.ops)
    if len(sizes) > 1:
        raise UnsupportedOp(f"the SIMT (GPU) lowering needs one block size, found {sorted(sizes)}",
                            "tt.func", fn.loc)
    return sizes.pop() if sizes else 1


def emit_simt_executable(fn: Function, signature: dict, options=None, executable: str = EXECUTABLE,
                         target: str = "vulkan-spirv") -> EmittedKernel:
    """`stream.executable` with a SIMT body at the current insertion point (same interface as
    `lowering.dispatch.emit_executable`)."""
    block = block_size(fn)
    threads = min(block, MAX_THREADS)
    if block % threads:
        raise UnsupportedOp(f"block size {block} is not a multiple of {threads}", "tt.func", fn.loc)
    ctx = SimtContext(fn, block)
    inner = executable_shell(executable, fn.name)
    _build(ctx, fn, inner, threads, _pipeline_for(target))
    sig = signature or {a.value.name.lstrip("%"): triton_type(a.value.type) for a in fn.args}
    runtime = [n for n, t in sig.items() if t != "constexpr"]
    written = {runtime[i] for i in ctx.written_args}
    abi = abi_from_signature(fn.name, sig, written)
    return EmittedKernel(fn, abi, executable, fn.name, set(ctx.written_args))


def _build(ctx: SimtContext, fn: Function, inner, threads: int, pipeline: str):
    ptr_args = [i for i, a in enumerate(fn.args) if isinstance(a.value.type, PtrType)]
    scalar_args = [i for i, a in enumerate(fn.args) if not isinstance(a.value.type, PtrType)]
    binding_t = ir.Type.parse("!stream.binding")
    i64 = ir.IntegerType.get_signless(64)
    idx = ir.IndexType.get()
    arg_types = [binding_t] * len(ptr_args) + [i64, i64] * len(ptr_args)
    arg_types += [push_constant_type(triton_type(fn.args[i].value.type)) for i in scalar_args]
    arg_types += grid.operand_types()
    with ir.InsertionPoint(inner.body):
        f = func.FuncOp(fn.name, ir.FunctionType.get(arg_types, []))
        f.attributes["translation_info"] = ir.Attribute.parse(
            f"#iree_codegen.translation_info<pipeline = {pipeline} workgroup_size = [{threads}, 1, 1]>")
        entry = f.add_entry_block()
    with ir.InsertionPoint(entry):
        args = list(entry.arguments)
        ctx.grid_args = args[-grid.GRID_OPERANDS:]
        nptr = len(ptr_args)
        c0 = arith.constant(idx, 0)
        for j, i in enumerate(ptr_args):
            pointee = fn.args[i].value.type.pointee
            elem = T.memory_scalar(pointee)
            count = arith.index_cast(idx, args[nptr + 2 * j])
            base = arith.index_cast(idx, args[nptr + 2 * j + 1])
            mt = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], elem)
            ctx.memrefs[i] = stream.binding_subspan(mt, args[j], c0, [count])
            ctx.bind(fn.args[i].value, _Ptr(i, base, pointee))
        for j, i in enumerate(scalar_args):
            v = args[3 * nptr + j]
            want = T.scalar(fn.args[i].value.type)
            if v.type != want:
                v = arith.truncf(want, v) if T.is_float(want) else arith.trunci(want, v)
            ctx.bind(fn.args[i].value, v)
        tid = gpu.thread_id(gpu.Dimension.x)
        steps = ctx.block // threads
        loop = scf.ForOp(c0, arith.constant(idx, steps), arith.constant(idx, 1))
        with ir.InsertionPoint(loop.body):
            k = loop.induction_variable
            ctx.lane = arith.addi(tid, arith.muli(k, arith.constant(idx, threads)))
            _lower_ops(ctx, fn.body.ops)
            scf.YieldOp([])
        func.ReturnOp([])


def _lower_ops(ctx, ops):
    for op in ops:
        if op.name == "tt.return":
            if op.operands:
                raise UnsupportedOp("kernels return nothing", op.name, op.loc)
            continue
        rule = _RULES.get(op.name)
        if rule is None and op.name in _GENERIC:
            rule = _generic
        if rule is None:
            raise UnsupportedOp("no SIMT (GPU) lowering for this op; GPU targets support elementwise "
                                "kernels (1-D blocks, loads/stores, arith/math) only", op.name, op.loc)
        with to_location(op.loc, op.name):
            try:
                rule(ctx, op)
            except LoweringError as e:
                if e.loc is None:
                    raise type(e)(e.reason, e.op_name or op.name, op.loc) from e
                raise


def _scalar_type(t) -> ir.Type:
    """A TTIR value type on one lane: a tensor's element."""
    if isinstance(t, TensorType):
        t = t.element
    if isinstance(t, PtrType):
        raise UnsupportedOp("pointer value type")
    return T.scalar(t)


def _create(name, rt, operands, attrs=None):
    return ir.Operation.create(name, results=[rt], operands=operands, attributes=attrs or {}).result


def _generic(ctx, op):
    operands = [ctx.get(v) for v in op.operands]
    if any(isinstance(o, _Ptr) for o in operands):
        raise UnsupportedOp("arithmetic on pointers other than tt.addptr", op.name, op.loc)
    ctx.bind(op.result, _create(op.name, _scalar_type(op.result.type), operands))


def _constant(ctx, op):
    ty = _scalar_type(op.result.type)
    text = op.attrs["value"]
    value_text, _, _ = text.rpartition(" : ")
    value_text = value_text.strip() or text.strip()
    if value_text.startswith("dense<"):
        inner = value_text[len("dense<"):-1].strip()
        if inner.startswith("["):
            raise UnsupportedOp("non-splat tensor constants", op.name, op.loc)
        value_text = inner
    if value_text in ("true", "false"):
        value_text = "1" if value_text == "true" else "0"
    ctx.bind(op.result, arith.constant(ty, ir.Attribute.parse(f"{value_text} : {ty}")))


def _cmp(ctx, op):
    from ..ops.elementwise import _CMPF, _CMPI
    table = _CMPI if op.name == "arith.cmpi" else _CMPF
    pred = op.extra.get("keyword")
    if pred not in table:
        raise UnsupportedOp(f"unknown predicate {pred!r}", op.name, op.loc)
    a, b = (ctx.get(v) for v in op.operands)
    attrs = {"predicate": ir.IntegerAttr.get(ir.IntegerType.get_signless(64), table[pred])}
    ctx.bind(op.result, _create(op.name, _scalar_type(op.result.type), [a, b], attrs))


def _program_id(ctx, op):
    pid = grid.program_id(ctx.grid_args, grid.AXES[op.extra.get("keyword", "x")])
    ctx.bind(op.result, grid.cast(pid, _scalar_type(op.result.type)))


def _num_programs(ctx, op):
    n = grid.num_programs(ctx.grid_args, grid.AXES[op.extra.get("keyword", "x")])
    ctx.bind(op.result, grid.cast(n, _scalar_type(op.result.type)))


def _make_range(ctx, op):
    start = int(op.attrs["start"].split(":")[0])
    idx = ir.IndexType.get()
    lane = ctx.lane if start == 0 else arith.addi(ctx.lane, arith.constant(idx, start))
    ctx.bind(op.result, arith.index_cast(_scalar_type(op.result.type), lane))


def _splat(ctx, op):
    ctx.bind(op.result, ctx.get(op.operands[0]))


def _addptr(ctx, op):
    p = ctx.get(op.operands[0])
    off = ctx.get(op.operands[1])
    if not isinstance(p, _Ptr):
        raise UnsupportedOp("tt.addptr on a non-argument pointer", op.name, op.loc)
    idx = ir.IndexType.get()
    off_i = arith.index_cast(idx, off)
    ctx.bind(op.result, _Ptr(p.arg, arith.addi(p.offset, off_i), p.pointee))


def _ptr_of(ctx, op, v) -> _Ptr:
    p = ctx.get(v)
    if not isinstance(p, _Ptr):
        raise UnsupportedOp("only pointers derived from kernel arguments by tt.addptr", op.name, op.loc)
    return p


def _load(ctx, op):
    p = _ptr_of(ctx, op, op.operands[0])
    mask = ctx.get(op.operands[1]) if len(op.operands) > 1 else None
    other = ctx.get(op.operands[2]) if len(op.operands) > 2 else None
    rt = _scalar_type(op.result.type)
    mem = ctx.memrefs[p.arg]
    elem = T.memory_scalar(p.pointee)

    def do_load():
        v = memref.load(mem, [p.offset])
        if v.type != rt:  # i1 stored as i8
            v = arith.trunci(rt, v)
        return v

    if mask is None:
        ctx.bind(op.result, do_load())
        return
    if other is None:
        other = arith.constant(rt, ir.FloatAttr.get(rt, 0.0) if T.is_float(rt) else ir.IntegerAttr.get(rt, 0))
    if_op = scf.IfOp(mask, [rt], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        scf.YieldOp([do_load()])
    with ir.InsertionPoint(if_op.else_block):
        scf.YieldOp([other])
    del elem
    ctx.bind(op.result, if_op.results[0])


def _store(ctx, op):
    p = _ptr_of(ctx, op, op.operands[0])
    val = ctx.get(op.operands[1])
    mask = ctx.get(op.operands[2]) if len(op.operands) > 2 else None
    mem = ctx.memrefs[p.arg]
    elem = T.memory_scalar(p.pointee)
    if val.type != elem:
        val = arith.extui(elem, val)
    ctx.written_args.add(p.arg)
    if mask is None:
        memref.store(val, mem, [p.offset])
        return
    if_op = scf.IfOp(mask, [], has_else=False)
    with ir.InsertionPoint(if_op.then_block):
        memref.store(val, mem, [p.offset])
        scf.YieldOp([])


def _extern(ctx, op):
    from ..ops.elementwise import _libdevice_name
    symbol = op.attrs.get("symbol", "").strip('"')
    target = _libdevice_name(symbol)
    if target is None or not ("." in target):
        raise UnsupportedOp(f"libdevice function {symbol} has no SIMT lowering", op.name, op.loc)
    args = [ctx.get(v) for v in op.operands]
    ctx.bind(op.result, _create(target, _scalar_type(op.result.type), args))


def _precise(name):
    def rule(ctx, op):
        ctx.bind(op.result, _create(name, _scalar_type(op.result.type), [ctx.get(v) for v in op.operands]))
    return rule


def _fp_to_fp(ctx, op):
    x = ctx.get(op.operands[0])
    rt = _scalar_type(op.result.type)
    ctx.bind(op.result, arith.extf(rt, x) if T.bitwidth(rt) > T.bitwidth(x.type) else arith.truncf(rt, x))


def _cmp_rules():
    return {"arith.cmpi": _cmp, "arith.cmpf": _cmp}


def _generic_names():
    from ..ops.elementwise import GENERIC_ARITH, GENERIC_MATH
    return set(GENERIC_ARITH) | set(GENERIC_MATH) | {
        "arith.addi", "arith.subi", "arith.muli", "arith.extsi", "arith.extui", "arith.trunci",
        "arith.index_cast", "arith.index_castui", "arith.divsi", "arith.divui", "arith.remsi",
        "arith.remui", "arith.ceildivsi", "arith.ceildivui", "arith.floordivsi"}


_GENERIC = _generic_names()
_RULES = {
    "arith.constant": _constant,
    **_cmp_rules(),
    "tt.get_program_id": _program_id,
    "tt.get_num_programs": _num_programs,
    "tt.make_range": _make_range,
    "tt.splat": _splat,
    "tt.addptr": _addptr,
    "tt.load": _load,
    "tt.store": _store,
    "tt.extern_elementwise": _extern,
    "tt.precise_sqrt": _precise("math.sqrt"),
    "tt.precise_divf": _precise("arith.divf"),
    "tt.fp_to_fp": _fp_to_fp,
}
