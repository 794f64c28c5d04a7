"""f16 vector arithmetic as f32 arithmetic, with the conversions in integer ops.

LLVM's x86 instruction selection handles wide `half` vectors pathologically
slowly: a 64x128 f16 add took 67 s to compile, and each `fpext <64 x half>`
~10 ms, while the same kernel in f32 or bf16 (which IREE already emulates
with integers) compiles in about a second.  So after a kernel body is built,
every f16 vector op that computes (arith/math float ops, compares, int<->float
casts) is rewritten to run in f32 and round back to f16 after each op, and
f16<->f32 conversions become integer bit manipulation.  Only loads, stores and
data movement see `half` vectors.  Rounding after every op keeps the GPU's
f16 semantics: f32 holds the exact result of +, -, *, /, sqrt of two f16
values closely enough that rounding it once to f16 is correctly rounded.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith

from . import types as T

# ops whose f16 vector operands/results are computed in f32 (data movement is left alone)
_COMPUTE_PREFIXES = ("math.",)
_COMPUTE = {
    "arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.remf", "arith.negf",
    "arith.maximumf", "arith.minimumf", "arith.maxnumf", "arith.minnumf", "arith.cmpf",
    "arith.sitofp", "arith.uitofp", "arith.fptosi", "arith.fptoui", "arith.select",
}


def _is_f16_vector(t: ir.Type) -> bool:
    return isinstance(t, ir.VectorType) and isinstance(t.element_type, ir.F16Type)


def _splat(value, t: ir.Type) -> ir.Value:
    el = t.element_type
    attr = ir.FloatAttr.get(el, value) if isinstance(el, ir.F32Type) else ir.IntegerAttr.get(el, value)
    return arith.constant(t, ir.DenseElementsAttr.get_splat(t, attr))


def _i32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def _bit_types(shape):
    """i16, i32 and f32 vector types of `shape`, and an i32 splat-constant maker."""
    t32 = ir.VectorType.get(shape, ir.IntegerType.get_signless(32))
    return (ir.VectorType.get(shape, ir.IntegerType.get_signless(16)), t32,
            ir.VectorType.get(shape, ir.F32Type.get()), lambda v: _splat(_i32(v), t32))


def f16_to_f32(x: ir.Value) -> ir.Value:
    """Exact f16 -> f32 with integer ops (subnormals, inf and NaN included)."""
    shape = T.shape(x.type)
    t16, t32, tf, c = _bit_types(shape)
    h = arith.extui(t32, arith.bitcast(t16, x))
    sign = arith.shli(arith.andi(h, c(0x8000)), c(16))
    o = arith.shli(arith.andi(h, c(0x7FFF)), c(13))
    exp = arith.andi(o, c(0x0F800000))
    o = arith.addi(o, c(0x38000000))                       # rebias 15 -> 127
    inf_nan = arith.addi(o, c(0x38000000))                 # exponent all ones
    # f16 subnormals/zero: renormalise with an exact f32 subtraction of 2**-14
    tiny = arith.bitcast(t32, arith.subf(arith.bitcast(tf, arith.addi(o, c(0x00800000))),
                                         arith.bitcast(tf, c(0x38800000))))
    eq = arith.CmpIPredicate.eq
    o = arith.select(arith.cmpi(eq, exp, c(0x0F800000)), inf_nan, o)
    o = arith.select(arith.cmpi(eq, exp, c(0)), tiny, o)
    return arith.bitcast(tf, arith.ori(o, sign))


def f32_to_f16(x: ir.Value) -> ir.Value:
    """f32 -> f16 rounding to nearest even, with integer ops (overflow to inf, NaN kept)."""
    shape = T.shape(x.type)
    t16, t32, tf, c = _bit_types(shape)
    bits = arith.bitcast(t32, x)
    sign = arith.andi(bits, c(0x80000000))
    a = arith.xori(bits, sign)
    # too big for f16 (or inf/NaN): inf, or a quiet NaN
    big = arith.select(arith.cmpi(arith.CmpIPredicate.ugt, a, c(0x7F800000)), c(0x7E00), c(0x7C00))
    # f16 subnormal or zero: an f32 add of 0.5 rounds the mantissa in place
    sub = arith.subi(arith.bitcast(t32, arith.addf(arith.bitcast(tf, a), arith.bitcast(tf, c(0x3F000000)))),
                     c(0x3F000000))
    # normal: rebias, add the rounding bias (half an ulp minus one, plus the lsb), shift
    odd = arith.andi(arith.shrui(a, c(13)), c(1))
    norm = arith.shrui(arith.addi(arith.addi(a, c(0xC8000FFF)), odd), c(13))
    ult = arith.CmpIPredicate.ult
    r = arith.select(arith.cmpi(ult, a, c(0x38800000)), sub, norm)
    r = arith.select(arith.cmpi(ult, a, c(0x47800000)), r, big)
    r = arith.ori(r, arith.shrui(sign, c(16)))
    return arith.bitcast(ir.VectorType.get(shape, ir.F16Type.get()), arith.trunci(t16, r))


def _widen(v: ir.Value) -> ir.Value:
    return f16_to_f32(v) if _is_f16_vector(v.type) else v


def _f32_like(t: ir.Type) -> ir.Type:
    return ir.VectorType.get(T.shape(t), ir.F32Type.get()) if _is_f16_vector(t) else t


def _rewrite(op: ir.Operation) -> None:
    name = op.name
    with ir.InsertionPoint(op), op.location:
        if name == "arith.extf" and _is_f16_vector(op.operands[0].type):
            wide = f16_to_f32(op.operands[0])
            if not isinstance(op.results[0].type.element_type, ir.F32Type):
                wide = arith.extf(op.results[0].type, wide)
            new = [wide]
        elif name == "arith.truncf" and _is_f16_vector(op.results[0].type):
            src = op.operands[0]
            if not isinstance(src.type.element_type, ir.F32Type):
                # f64: rounds twice, which can differ from one rounding only on exact f32 ties
                src = arith.truncf(ir.VectorType.get(T.shape(src.type), ir.F32Type.get()), src)
            new = [f32_to_f16(src)]
        elif name == "arith.select" and _is_f16_vector(op.results[0].type):
            # pick the bits: no float work, but keep `half` out of the select
            t16 = ir.VectorType.get(T.shape(op.results[0].type), ir.IntegerType.get_signless(16))
            cond, a, b = op.operands
            new = [arith.bitcast(op.results[0].type, arith.select(cond, arith.bitcast(t16, a), arith.bitcast(t16, b)))]
        else:
            operands = [_widen(v) for v in op.operands]
            attrs = {na.name: na.attr for na in (op.attributes[i] for i in range(len(op.attributes)))}
            clone = ir.Operation.create(name, results=[_f32_like(r.type) for r in op.results],
                                        operands=operands, attributes=attrs)
            new = [f32_to_f16(r) if _is_f16_vector(old.type) else r for r, old in zip(clone.results, op.results)]
    for old, v in zip(op.results, new):
        old.replace_all_uses_with(v)
    op.erase()


def _needs_rewrite(op: ir.Operation) -> bool:
    name = op.name
    if name in ("arith.extf", "arith.truncf"):
        return _is_f16_vector(op.operands[0].type) or _is_f16_vector(op.results[0].type)
    if name not in _COMPUTE and not name.startswith(_COMPUTE_PREFIXES):
        return False
    if name == "arith.select":
        return _is_f16_vector(op.results[0].type)
    return any(_is_f16_vector(v.type) for v in list(op.operands) + list(op.results))


def legalize_f16(func_op) -> None:
    """Rewrite the f16 vector compute of `func_op` (see the module docstring)."""
    todo = []

    def visit(op):
        if _needs_rewrite(op):
            todo.append(op)
        return ir.WalkResult.ADVANCE
    func_op.operation.walk(visit)
    for op in todo:
        _rewrite(op)
