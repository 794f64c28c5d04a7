"""`tt.dot_scaled`: microscaled (MX) matmul as upcast-then-`tt.dot`.

Each operand is decoded to f32 exactly (e2m1 nibbles, fp8 e4m3/e5m2, bf16,
fp16), multiplied by its E8M0 block scale (one byte per 32 elements along K,
2**(s - 127), byte 255 meaning NaN), and the f32 tiles go through the same
pinned `linalg.matmul` as `tt.dot`.  A GPU upcasts to bf16/fp16 before its
MMA; those values are exact in f32 and the MMA accumulates in f32, so the
results agree.  This CPU has no MX arithmetic, so decoding is the work anyway.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from ..errors import UnsupportedOp
from ..registry import lowers
from .. import types as T
from .dot import dot_product

_FLOAT_FORMATS = {"e4m3": ir.Float8E4M3FNType.get, "e5m2": ir.Float8E5M2Type.get,
                  "bf16": ir.BF16Type.get, "fp16": ir.F16Type.get}
F32_ONE_HALF = 0x3F000000
# E8M0 byte 0 is 2**-127: an f32 subnormal, kept when the compute type is bf16 (fp16 flushes it).
E8M0_ZERO_BF16 = 0x00400000


def _i32(ctx, v: ir.Value) -> ir.Value:
    return arith.extui(T.like(v.type, ir.IntegerType.get_signless(32)), v)


def _f32_bits(ctx, bits: ir.Value) -> ir.Value:
    return arith.bitcast(T.like(bits.type, ir.F32Type.get()), bits)


def _interleave(ctx, lo: ir.Value, hi: ir.Value, axis: int) -> ir.Value:
    """lo[i], hi[i] alternating along `axis` (doubling it)."""
    from .reduce_scan import _concat
    shape = list(T.shape(lo.type))
    split = shape[:axis + 1] + [1] + shape[axis + 1:]
    t1 = ir.VectorType.get(split, T.element(lo.type))
    both = _concat(ctx, vector.shape_cast(t1, lo), vector.shape_cast(t1, hi), axis + 1)
    shape[axis] *= 2
    return vector.shape_cast(ir.VectorType.get(shape, T.element(lo.type)), both)


def _e2m1_to_f32(ctx, packed: ir.Value, axis: int) -> ir.Value:
    """Two e2m1 values per byte (low nibble first along `axis`) as f32."""
    b = _i32(ctx, packed)
    nib = _interleave(ctx, arith.andi(b, ctx.const(0xF, b.type)),
                      arith.shrui(b, ctx.const(4, b.type)), axis)
    exp = arith.andi(arith.shrui(nib, ctx.const(1, nib.type)), ctx.const(3, nib.type))
    man = arith.andi(nib, ctx.const(1, nib.type))
    # normal: 2**(e-1) * (1 + m/2); subnormal (e == 0): m/2
    normal = arith.ori(arith.shli(arith.addi(exp, ctx.const(126, nib.type)), ctx.const(23, nib.type)),
                       arith.shli(man, ctx.const(22, nib.type)))
    sub = arith.muli(man, ctx.const(F32_ONE_HALF, nib.type))
    mag = arith.select(arith.cmpi(0, exp, ctx.const(0, nib.type)), sub, normal)
    sign = arith.shli(arith.andi(nib, ctx.const(8, nib.type)), ctx.const(28, nib.type))
    return _f32_bits(ctx, arith.ori(mag, sign))


def _scale_to_f32(ctx, scale: ir.Value, keep_tiny: bool) -> ir.Value:
    """E8M0 bytes as f32 powers of two; byte 255 is NaN."""
    s = _i32(ctx, scale)
    bits = arith.shli(s, ctx.const(23, s.type))
    if keep_tiny:
        bits = arith.maxui(bits, ctx.const(E8M0_ZERO_BF16, s.type))
    nan = ctx.const(float("nan"), T.like(s.type, ir.F32Type.get()))
    return arith.select(arith.cmpi(0, s, ctx.const(255, s.type)), nan, _f32_bits(ctx, bits))


def _repeat_k(ctx, scale: ir.Value, is_rhs: bool, k: int) -> ir.Value:
    """[.., R, K/32] block scales as the operand's [.., R, K] (lhs) or [.., K, R] (rhs)."""
    shape = list(T.shape(scale.type))
    lead, rows, groups = shape[:-2], shape[-2], shape[-1]
    f32 = ir.F32Type.get()
    if is_rhs:
        perm = list(range(len(lead))) + [len(lead) + 1, len(lead)]
        scale = vector.transpose(ir.VectorType.get(lead + [groups, rows], f32), scale, perm)
        wide = vector.broadcast(ir.VectorType.get(lead + [groups, k // groups, rows], f32),
                                vector.shape_cast(ir.VectorType.get(lead + [groups, 1, rows], f32), scale))
        return vector.shape_cast(ir.VectorType.get(lead + [k, rows], f32), wide)
    wide = vector.broadcast(ir.VectorType.get(lead + [rows, groups, k // groups], f32),
                            vector.shape_cast(ir.VectorType.get(lead + [rows, groups, 1], f32), scale))
    return vector.shape_cast(ir.VectorType.get(lead + [rows, k], f32), wide)


def _operand(ctx, v: ir.Value, scale, fmt: str, k_pack: bool, is_rhs: bool, keep_tiny: bool) -> ir.Value:
    rank = len(T.shape(v.type))
    if fmt == "e2m1":
        k_axis = rank - 2 if is_rhs else rank - 1
        other = rank - 1 if is_rhs else rank - 2
        x = _e2m1_to_f32(ctx, v, k_axis if k_pack else other)
    elif fmt in _FLOAT_FORMATS:
        if not T.is_float(T.element(v.type)):  # raw bytes/halves: reinterpret as the named format
            v = arith.bitcast(T.like(v.type, _FLOAT_FORMATS[fmt]()), v)
        x = arith.extf(T.like(v.type, ir.F32Type.get()), v)
    else:
        raise UnsupportedOp(f"tt.dot_scaled operand format {fmt}")
    if scale is None:
        return x
    k = T.shape(x.type)[rank - 2 if is_rhs else rank - 1]
    return arith.mulf(x, _repeat_k(ctx, _scale_to_f32(ctx, scale, keep_tiny), is_rhs, k))


@lowers("tt.dot_scaled")
def lower_tt_dot_scaled(ctx, op):
    values = [ctx.get(v) for v in op.operands]
    lhs_scaled, rhs_scaled = op.extra.get("scaled", (False, False))
    a = values.pop(0)
    sa = values.pop(0) if lhs_scaled else None
    b = values.pop(0)
    sb = values.pop(0) if rhs_scaled else None
    acc = values.pop(0)
    fa, fb = op.extra.get("lhs"), op.extra.get("rhs")
    keep_tiny = "fp16" not in (fa, fb)

    def flag(name):
        return op.attrs.get(name, "true") not in ("false", "0")

    a32 = _operand(ctx, a, sa, fa, flag("lhs_k_pack"), False, keep_tiny)
    b32 = _operand(ctx, b, sb, fb, flag("rhs_k_pack"), True, keep_tiny)
    ctx.bind(op.result, dot_product(ctx, a32, b32, acc))
