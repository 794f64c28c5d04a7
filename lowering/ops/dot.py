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
from iree.compiler.dialects import arith, linalg, tensor, vector

from ..errors import UnsupportedOp
from ..registry import lowers
from .. import types as T

# Register tile (rows, cols) for the matmul's vector level: 8 x 32 fp32
# accumulators plus operands stay within AVX2's 16 ymm registers after
# IREE's unrolling; measured in bench/.
VECTOR_TILE = (8, 32)
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


def lowering_config(m: int, n: int) -> ir.Attribute:
    """The pinned tiling: no distribution, a register tile, K one step at a time."""
    tm, tn = min(VECTOR_TILE[0], m), min(VECTOR_TILE[1], n)
    return ir.Attribute.parse(
        f"#iree_cpu.lowering_config<distribution = [0, 0, 0], vector_common_parallel = [{tm}, {tn}, 0], "
        f"vector_reduction = [0, 0, 1]>")


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
    ta, tb, tc = _to_tensor(_widen(a, acc_el)), _to_tensor(_widen(b, acc_el)), _to_tensor(c)
    mm = linalg.matmul(ta, tb, outs=[tc])
    mm.owner.attributes["lowering_config"] = lowering_config(sa[0], sb[1])
    ctx.uses_linalg = True
    c0 = arith.constant(ir.IndexType.get(), 0)
    ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(2))
    pad = ctx.const(0, acc_el)
    return vector.transfer_read(c.type, mm, [c0, c0], ident, pad, [True, True])
