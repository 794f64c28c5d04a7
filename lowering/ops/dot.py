"""`tt.dot`: C += A @ B on one tile, through a pinned `linalg.matmul`.

The operand vectors are written into tensors, multiplied by a
`linalg.matmul` whose `lowering_config` pins the register tiling (its
distribution level is all zeros: the dispatch is already distributed, one
Triton program per workgroup), and read back as a vector.  The kernel's
function then carries the `DoubleTilingExpert` translation_info (see
`dispatch.py`).  Operands are widened to the accumulator type first, so
fp16/bf16 x fp16/bf16 -> fp32 and int8 x int8 -> int32 take the same path.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, scf, tensor, vector

from ..errors import UnsupportedOp
from ..registry import lowers
from .. import types as T

# Register tile (rows, cols) for the matmul's vector level and its K step:
# 4 x 16 fp32 is 8 ymm accumulators + 2 B rows + 1 broadcast, within AVX2's
# 16 registers (8 x 32 needed 32 and spilled every FMA); K unrolled by 4.
VECTOR_TILE = (4, 16)
K_STEP = 4
TRANSLATION_INFO = "#iree_codegen.translation_info<pipeline = #iree_cpu.pipeline<DoubleTilingExpert>>"


def _widen(v: ir.Value, elem: ir.Type) -> ir.Value:
    if T.element(v.type) == elem:
        return v
    t = T.like(v.type, elem)
    if T.is_float(elem):
        return arith.extf(t, v) if T.is_float(v.type) else arith.sitofp(t, v)
    return arith.extsi(t, v)


def _to_tensor(v: ir.Value) -> ir.Value:
    shape = list(T.shape(v.type))
    t = ir.RankedTensorType.get(shape, T.element(v.type))
    empty = tensor.EmptyOp(shape, T.element(v.type)).result
    c0 = arith.constant(ir.IndexType.get(), 0)
    ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(len(shape)))
    return vector.transfer_write(t, v, empty, [c0] * len(shape), ident, [True] * len(shape))


def lowering_config(m: int, n: int, k: int = K_STEP) -> ir.Attribute:
    """The pinned tiling: no distribution, a register tile, K in steps of K_STEP."""
    tm, tn, tk = min(VECTOR_TILE[0], m), min(VECTOR_TILE[1], n), min(K_STEP, k)
    return ir.Attribute.parse(
        f"#iree_cpu.lowering_config<distribution = [0, 0, 0], vector_common_parallel = [{tm}, {tn}, 0], "
        f"vector_reduction = [0, 0, {tk}]>")


@lowers("tt.dot")
def lower_tt_dot(ctx, op):
    a, b, c = (ctx.get(v) for v in op.operands[:3])
    ctx.bind(op.result, dot_product(ctx, a, b, c))


def dot_product(ctx, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
    """c + a @ b for 2-D tiles, or per batch entry for 3-D ones."""
    if len(T.shape(a.type)) == 3:
        out = c
        for i in range(T.shape(a.type)[0]):
            tile = _tile_dot(ctx, vector.extract(a, [], [i]), vector.extract(b, [], [i]), vector.extract(c, [], [i]))
            out = vector.insert(tile, out, [], [i])
        return out
    if len(T.shape(a.type)) != 2:
        raise UnsupportedOp(f"tt.dot of rank {len(T.shape(a.type))}")
    return _tile_dot(ctx, a, b, c)


def _tile_dot(ctx, a, b, c):
    sa, sb = T.shape(a.type), T.shape(b.type)
    acc_el = T.element(c.type)
    if isinstance(acc_el, (ir.F16Type, ir.BF16Type)):
        # 16-bit accumulators add in f32 and round once, like an MMA unit: rounding each of K
        # steps to f16 drifted past test_dot3d's 1% tolerance
        wide = _tile_dot(ctx, a, b, arith.extf(T.like(c.type, ir.F32Type.get()), c))
        return arith.truncf(c.type, wide)
    # imported here: the linalg bindings take ~0.2 s to import, a kernel without a dot never needs them
    from iree.compiler.dialects import linalg
    ta, tb, tc = _to_tensor(_widen(a, acc_el)), _to_tensor(_widen(b, acc_el)), _to_tensor(c)
    mm = linalg.matmul(ta, tb, outs=[tc])
    mm.owner.attributes["lowering_config"] = lowering_config(sa[0], sb[1], sa[1])
    ctx.uses_linalg = True
    c0 = arith.constant(ir.IndexType.get(), 0)
    ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(2))
    pad = ctx.const(0, acc_el)
    return vector.transfer_read(c.type, mm, [c0, c0], ident, pad, [True, True])


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


def _accumulator_chain(body, arg, yielded):
    """(transfer_write, matmul) when `arg` is only written into a matmul's init whose result is yielded."""
    uses = list(arg.uses)
    if len(uses) != 1 or uses[0].owner.name != "vector.transfer_write" or uses[0].operand_number != 0:
        return None
    tw = _op(uses[0].owner)
    tw_uses = list(tw.results[0].uses)
    if len(tw_uses) != 1 or tw_uses[0].owner.name != "linalg.matmul" or tw_uses[0].operand_number != 2:
        return None
    mm = _op(tw_uses[0].owner)
    read = _op(yielded.owner)
    if not isinstance(read, ir.Operation) or read.name != "vector.transfer_read" or read.operands[0] != mm.results[0]:
        return None
    if tw.block != body or mm.block != body or read.block != body:
        return None
    return tw, mm


def _op(o):
    return o.operation if isinstance(o, ir.OpView) else o


def _carry_in_loop(old) -> None:
    body = old.regions[0].blocks[0]
    iter_args = list(body.arguments)[1:]
    ops = list(body.operations)
    yield_op = ops[-1]
    chains = {}
    for i, arg in enumerate(iter_args):
        if isinstance(arg.type, ir.VectorType) and len(T.shape(arg.type)) == 2:
            chain = _accumulator_chain(body, arg, yield_op.operands[i])
            if chain is not None:
                chains[i] = chain
    if not chains:
        return
    inits = list(old.operands)[3:]
    with old.location, ir.InsertionPoint(old):
        new_inits = [_to_tensor(v) if i in chains else v for i, v in enumerate(inits)]
        new = scf.ForOp(old.operands[0], old.operands[1], old.operands[2], new_inits)
        new_args = list(new.body.arguments)
        body.arguments[0].replace_all_uses_with(new_args[0])
        for i, arg in enumerate(iter_args):
            if i in chains:
                tw, mm = chains[i]
                tw.results[0].replace_all_uses_with(new_args[i + 1])
                read = _op(yield_op.operands[i].owner)
                yield_op.operands[i] = mm.results[0]
                empty = _op(tw.operands[1].owner)
                tw.erase()
                if not list(read.results[0].uses):
                    read.erase()
                if isinstance(empty, ir.Operation) and empty.name == "tensor.empty" and not list(empty.results[0].uses):
                    empty.erase()
            else:
                arg.replace_all_uses_with(new_args[i + 1])
        for op in list(body.operations):
            op.detach_from_parent()
            ir.InsertionPoint(new.body).insert(op)
        c0 = arith.constant(ir.IndexType.get(), 0)
        for i, r in enumerate(old.results):
            v = new.results[i]
            if i in chains:
                vt = r.type
                ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(2))
                pad = arith.constant(ir.VectorType(vt).element_type, 0.0 if T.is_float(vt) else 0)
                v = vector.transfer_read(vt, v, [c0, c0], ident, pad, [True, True])
            r.replace_all_uses_with(v)
    old.erase()
