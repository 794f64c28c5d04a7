"""`tt.dot`: C += A @ B on one tile, through a pinned `linalg.matmul`.

An operand that a load alone feeds was filled into a stack buffer by that load
(`analysis/dot_operands.py`, `ops/memory.py`) and enters the matmul through
`iree_codegen.load_from_buffer`; any other operand vector is written into a
tensor.  A `linalg.matmul` whose `lowering_config` pins the register tiling (its
distribution level is all zeros: the dispatch is already distributed, one
Triton program per workgroup) multiplies them, and the result is read back as a
vector.  The kernel's function then carries the `DoubleTilingExpert`
translation_info (see `dispatch.py`).  Operands are widened to the accumulator
type first, so fp16/bf16 x fp16/bf16 -> fp32 and int8 x int8 -> int32 take the
same path.
"""
from __future__ import annotations

from typing import Optional

from iree.compiler import ir
from iree.compiler.dialects import arith, scf, tensor, vector

from ..errors import UnsupportedOp
from ..registry import lowers
from .. import host, types as T

# The matmul's register tile is two vector registers wide and as many rows as keep enough
# FMAs in flight without spilling: on AVX2 (16 ymm), 4 x 16 fp32 is 8 accumulators + 2 B
# rows + 1 broadcast (8 x 32 spilled every FMA); on AVX-512 (32 zmm), 8 x 32 is 16
# accumulators (4 x 16 there leaves 4 dependent chains: half the FMA rate).  K unrolled by 4.
K_STEP = 4
TRANSLATION_INFO = "#iree_codegen.translation_info<pipeline = #iree_cpu.pipeline<DoubleTilingExpert>>"


def register_tile(vector_bytes: Optional[int] = None) -> tuple:
    """(rows, cols) of the register tile for 32-bit accumulators on the host's vectors."""
    vb = vector_bytes or host.vector_bytes()
    lanes = max(vb // 4, 4)
    return (8 if vb >= 64 else 4), 2 * lanes


def widen(v: ir.Value, elem: ir.Type) -> ir.Value:
    """`v` (scalar or vector) with its elements widened to `elem` (integers as signed)."""
    if T.element(v.type) == elem:
        return v
    t = T.like(v.type, elem)
    if T.is_float(elem):
        return arith.extf(t, v) if T.is_float(v.type) else arith.sitofp(t, v)
    return arith.extsi(t, v)


def _dims(t: ir.Type) -> tuple:
    """Shape of a vector, tensor or buffer type."""
    return tuple(ir.ShapedType(t).shape)


def _elem(t: ir.Type) -> ir.Type:
    return ir.ShapedType(t).element_type


def _to_tensor(v: ir.Value) -> ir.Value:
    shape = list(T.shape(v.type))
    t = ir.RankedTensorType.get(shape, T.element(v.type))
    empty = tensor.EmptyOp(shape, T.element(v.type)).result
    c0 = arith.constant(ir.IndexType.get(), 0)
    ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(len(shape)))
    return vector.transfer_write(t, v, empty, [c0] * len(shape), ident, [True] * len(shape))


def lowering_config(m: int, n: int, k: int = K_STEP) -> ir.Attribute:
    """The pinned tiling: no distribution, a register tile, K in steps of K_STEP."""
    rows, cols = register_tile()
    tm, tn, tk = min(rows, m), min(cols, n), min(K_STEP, k)
    return ir.Attribute.parse(
        f"#iree_cpu.lowering_config<distribution = [0, 0, 0], vector_common_parallel = [{tm}, {tn}, 0], "
        f"vector_reduction = [0, 0, {tk}]>")


@lowers("tt.dot")
def lower_tt_dot(ctx, op):
    # an operand a load left in a stack buffer is multiplied from there (ops/memory.py)
    a, b = (ctx.staged[v] if v in ctx.staged else ctx.get(v) for v in op.operands[:2])
    ctx.bind(op.result, dot_product(ctx, a, b, ctx.get(op.operands[2])))


def dot_product(ctx, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
    """c + a @ b for 2-D tiles, or per batch entry for 3-D ones."""
    if len(_dims(a.type)) == 3:
        out = c
        for i in range(T.shape(a.type)[0]):
            tile = _tile_dot(ctx, vector.extract(a, [], [i]), vector.extract(b, [], [i]), vector.extract(c, [], [i]))
            out = vector.insert(tile, out, [], [i])
        return out
    if len(_dims(a.type)) != 2:
        raise UnsupportedOp(f"tt.dot of rank {len(_dims(a.type))}")
    return _tile_dot(ctx, a, b, c)


def multiply_type(acc_el: ir.Type) -> ir.Type:
    """The element type the matmul runs in for an accumulator of `acc_el`."""
    return ir.F32Type.get() if isinstance(acc_el, (ir.F16Type, ir.BF16Type)) else acc_el


def _tile_dot(ctx, a, b, c):
    sa, sb = _dims(a.type), _dims(b.type)
    acc_el = T.element(c.type)
    if multiply_type(acc_el) != acc_el:
        # 16-bit accumulators add in f32 and round once, like an MMA unit: rounding each of K
        # steps to f16 drifted past test_dot3d's 1% tolerance
        wide = _tile_dot(ctx, a, b, arith.extf(T.like(c.type, ir.F32Type.get()), c))
        return arith.truncf(c.type, wide)
    ta, tb, tc = _operand_tensor(a, acc_el), _operand_tensor(b, acc_el), _to_tensor(c)
    mm = _matmul(ta, tb, tc)
    mm.operation.attributes["lowering_config"] = lowering_config(sa[0], sb[1], sa[1])
    mm = mm.result
    ctx.uses_linalg = True
    c0 = arith.constant(ir.IndexType.get(), 0)
    ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(2))
    pad = ctx.const(0, acc_el)
    return vector.transfer_read(c.type, mm, [c0, c0], ident, pad, [True, True])


def _operand_tensor(v: ir.Value, acc_el: ir.Type) -> ir.Value:
    """A matmul operand: a staged tile's buffer as a tensor (widened when it was filled), or a
    vector widened to `acc_el` and written into a tensor."""
    if isinstance(v.type, ir.MemRefType):
        from iree.compiler.dialects import _iree_codegen_ops_gen as codegen
        t = ir.RankedTensorType.get(list(_dims(v.type)), _elem(v.type))
        return codegen.LoadFromBufferOp(t, v).result
    return _to_tensor(widen(v, acc_el))


def _matmul(ta: ir.Value, tb: ir.Value, tc: ir.Value):
    """`linalg.matmul ins(ta, tb) outs(tc)` with its body; narrower inputs are widened to the
    accumulator's type in the body, as the named op defines (signed for integers).

    Built from the generated op class: the `linalg` package's OpDSL fills the same body but
    takes 0.2 s to import, and so does anything that asks a matmul for its Python op class
    (`value.owner`), which loads the dialect's package."""
    from iree.compiler.dialects import _linalg_ops_gen as linalg_ops
    elem = _elem(tc.type)
    op = linalg_ops.MatmulOp([tc.type], [ta, tb], [tc])
    block = op.regions[0].blocks.append(_elem(ta.type), _elem(tb.type), elem)
    with ir.InsertionPoint(block):
        x, y, acc = (widen(arg, elem) for arg in block.arguments)
        if T.is_float(elem):
            total = arith.addf(acc, arith.mulf(x, y))
        else:
            total = arith.addi(acc, arith.muli(x, y))
        linalg_ops.YieldOp([total])
    return op


def carry_accumulators(func_op) -> None:
    """Loops whose vector accumulator only feeds a pinned matmul carry the tensor instead.

    `acc = tt.dot(a, b, acc)` in a loop lowers to write-acc-to-tensor, matmul,
    read-back, yield: the accumulator tile is copied twice per iteration (it
    lives in spill slots as a vector).  Carrying the matmul's tensor through
    the loop lets bufferization update one buffer in place.
    """
    loops = []

    def visit(op):
        if op.name == "scf.for":
            loops.append(op)
        return ir.WalkResult.ADVANCE

    func_op.operation.walk(visit, ir.WalkOrder.POST_ORDER)
    for loop in loops:
        _carry_in_loop(loop)


def _matmuls_by_init(loop) -> dict:
    """The `linalg.matmul`s directly in `loop`'s body, by their init (`outs`) value.

    Found with `walk`, which hands out plain `Operation`s: asking a value for its owner or a
    block for its operations builds each op's Python class, and for a matmul that imports the
    `linalg` package (0.2 s)."""
    body = loop.regions[0].blocks[0]
    found = {}

    def visit(op):
        if op.name == "linalg.matmul" and op.block == body:
            found[op.operands[2]] = op
        return ir.WalkResult.ADVANCE

    loop.walk(visit, ir.WalkOrder.PRE_ORDER)
    return found


def _accumulator_chain(body, arg, yielded, matmuls):
    """(transfer_write, matmul) when `arg` is only written into a matmul's init whose result is yielded."""
    uses = list(arg.uses)
    if len(uses) != 1 or uses[0].owner.name != "vector.transfer_write" or uses[0].operand_number != 0:
        return None
    tw = _op(uses[0].owner)
    tw_uses = list(tw.results[0].uses)
    mm = matmuls.get(tw.results[0])
    if len(tw_uses) != 1 or mm is None:
        return None
    read = _op(yielded.owner)
    if not isinstance(read, ir.Operation) or read.name != "vector.transfer_read" or read.operands[0] != mm.results[0]:
        return None
    if tw.block != body or read.block != body:
        return None
    return tw, mm


def _op(o):
    return o.operation if isinstance(o, ir.OpView) else o


def _carry_in_loop(loop) -> None:
    """Retype `loop`'s accumulator iter_args from vectors to the matmuls' tensors, in place."""
    body = loop.regions[0].blocks[0]
    iter_args = list(body.arguments)[1:]
    yield_op = _op(body.operations[-1])
    matmuls = _matmuls_by_init(loop)
    chains = {}
    for i, arg in enumerate(iter_args):
        if isinstance(arg.type, ir.VectorType) and len(T.shape(arg.type)) == 2:
            chain = _accumulator_chain(body, arg, yield_op.operands[i], matmuls)
            if chain is not None:
                chains[i] = chain
    if not chains:
        return
    with loop.location:
        last = c0 = None   # the read-backs go right after the loop, in order
        for i, (tw, mm) in chains.items():
            tensor_type = mm.results[0].type
            vec_type = iter_args[i].type
            with ir.InsertionPoint(loop):
                loop.operands[3 + i] = _to_tensor(loop.operands[3 + i])
            iter_args[i].set_type(tensor_type)
            tw.results[0].replace_all_uses_with(iter_args[i])
            read = _op(yield_op.operands[i].owner)
            yield_op.operands[i] = mm.results[0]
            empty = _op(tw.operands[1].owner)
            tw.erase()
            if not list(read.results[0].uses):
                read.erase()
            if isinstance(empty, ir.Operation) and empty.name == "tensor.empty" and not list(empty.results[0].uses):
                empty.erase()
            # the loop's result is the tensor now; its users read the vector back after the loop
            result = loop.results[i]
            users = [(_op(u.owner), u.operand_number) for u in result.uses]
            result.set_type(tensor_type)
            with ir.InsertionPoint.after(last or loop):
                if c0 is None:
                    c0 = arith.constant(ir.IndexType.get(), 0)
                ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(2))
                pad = arith.constant(ir.VectorType(vec_type).element_type, 0.0 if T.is_float(vec_type) else 0)
                back = vector.transfer_read(vec_type, result, [c0, c0], ident, pad, [True, True])
            last = back.owner
            for user, n in users:
                user.operands[n] = back
