"""Elementwise ops: `arith`, `math` and libdevice calls, on scalars and vectors.

TTIR's `arith`/`math` ops carry over one to one with tensors becoming
vectors, so one generic rule covers them.  The hand-written rules are the
odd ones: constants, compares, integer division (guarded so a masked-off
lane dividing by zero cannot trap the process), and `tt.extern_elementwise`.
Integer adds and multiplies also keep the affine form that
`analysis/pointers.py` uses to find contiguous accesses.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from ..analysis import masks as M
from ..analysis import pointers as P
from ..errors import UnsupportedOp
from ..registry import lowers
from .. import types as T
from . import transcendental
from ...triton_frontend.ttir import TensorType

_CMPI = {"eq": 0, "ne": 1, "slt": 2, "sle": 3, "sgt": 4, "sge": 5, "ult": 6, "ule": 7, "ugt": 8, "uge": 9}
_CMPF = {"false": 0, "oeq": 1, "ogt": 2, "oge": 3, "olt": 4, "ole": 5, "one": 6, "ord": 7, "ueq": 8,
         "ugt": 9, "uge": 10, "ult": 11, "ule": 12, "une": 13, "uno": 14, "true": 15}

GENERIC_ARITH = [
    "arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.remf", "arith.negf",
    "arith.maximumf", "arith.minimumf", "arith.maxnumf", "arith.minnumf",
    "arith.andi", "arith.ori", "arith.xori", "arith.shli", "arith.shrsi", "arith.shrui",
    "arith.maxsi", "arith.minsi", "arith.maxui", "arith.minui",
    "arith.extf", "arith.truncf", "arith.sitofp", "arith.uitofp", "arith.fptosi", "arith.fptoui",
    "arith.bitcast", "arith.select",
]
GENERIC_MATH = [
    "math.exp", "math.exp2", "math.expm1", "math.log", "math.log2", "math.log10", "math.log1p",
    "math.sqrt", "math.rsqrt", "math.sin", "math.cos", "math.tan", "math.tanh", "math.sinh",
    "math.cosh", "math.atan", "math.atan2", "math.asin", "math.acos", "math.asinh", "math.acosh",
    "math.atanh", "math.erf", "math.erfc", "math.absf", "math.absi", "math.floor", "math.ceil",
    "math.trunc", "math.round", "math.roundeven", "math.fma", "math.powf", "math.copysign",
    "math.cbrt", "math.ctpop", "math.ctlz", "math.cttz", "math.fpowi", "math.ipowi",
]


def create(name: str, result_type: ir.Type, operands: list, attrs: dict = None) -> ir.Value:
    """Build one op generically and return its single result."""
    op = ir.Operation.create(name, results=[result_type], operands=operands, attributes=attrs or {})
    return op.result


# Float min/max become libm calls (fminf/fmaxf) that freestanding CPU executables
# lack whenever they end up on f16: an f32 max whose result is truncated to f16 is
# narrowed by LLVM to an f16 maxnum, which x86 expands to fmaxf calls.  So every
# float min/max is built from compares and selects with the same NaN rules.
FLOAT_MINMAX = {"arith.maxnumf", "arith.minnumf", "arith.maximumf", "arith.minimumf"}


@lowers(*GENERIC_ARITH, *GENERIC_MATH)
def lower_generic_elementwise(ctx, op):
    operands = [ctx.get(v) for v in op.operands]
    rt = ctx.type_of(op.result)
    if op.name == "arith.divf":
        ctx.bind(op.result, divide(ctx, rt, *operands))
        return
    r = math_op(ctx, op.name, rt, operands)
    aff = None
    if op.name == "arith.select" and isinstance(r.type, ir.VectorType) and not ctx.lanes:
        aff = P.uniform_select(*(ctx.affine_of(v) if isinstance(v.type, TensorType) else None
                                 for v in op.operands))
    ctx.bind(op.result, r, aff)
    if op.name in ("arith.minsi", "arith.maxsi") and not isinstance(r.type, ir.VectorType):
        P.record_scalar_bound(ctx, op.name, r, operands)
    if op.name == "arith.andi" and M.is_bool(r):
        M.both(ctx, operands[0], operands[1], r)


def math_op(ctx, name: str, rt: ir.Type, operands: list) -> ir.Value:
    """`name` on `operands`: float min/max from compares, f32 exp/exp2/erf from our
    expansions (`transcendental`), anything else as the op itself."""
    if name in FLOAT_MINMAX:
        return float_minmax(name, rt, operands)
    if transcendental.supports(name, rt):
        return transcendental.EXPANSIONS[name](ctx, *operands)
    return create(name, rt, operands)


def float_minmax(name: str, rt: ir.Type, operands: list) -> ir.Value:
    """`name` (a min/max) from compares and selects: maxnum/minnum ignore a NaN
    operand, maximum/minimum propagate it."""
    a, b = operands
    pick_a = arith.cmpf(arith.CmpFPredicate.OGT if "max" in name else arith.CmpFPredicate.OLT, a, b)
    r = arith.select(pick_a, a, b)
    if name.endswith("numf"):
        return arith.select(arith.cmpf(arith.CmpFPredicate.UNO, b, b), a, r)
    either_nan = arith.cmpf(arith.CmpFPredicate.UNO, a, b)
    return arith.select(either_nan, arith.addf(a, b), r)


def divide(ctx, rt: ir.Type, a: ir.Value, b: ir.Value) -> ir.Value:
    """`a / b` as TTIR's `arith.divf` means it.  An f32 vector divided by a broadcast value
    (a row sum, a scalar) becomes a multiply by one reciprocal per source element: Triton's
    NVIDIA code for this `/` is `div.full.f32` (<= 2 ulp, not IEEE), the reciprocal-multiply is
    <= 1.5 ulp, and a `vdivps` per vector was the slowest op in softmax.  `tl.math.div_rn`
    (`tt.precise_divf`) stays an exact division."""
    src = _broadcast_source(b)
    if src is None or T.element(rt) != ir.F32Type.get():
        return create("arith.divf", rt, [a, b])
    recip = arith.divf(ctx.const(1.0, src.type), src)
    return arith.mulf(a, vector.broadcast(b.type, recip))


def _broadcast_source(v: ir.Value):
    """The narrower value `v` was broadcast from, or None."""
    owner = v.owner
    if not isinstance(v.type, ir.VectorType) or not isinstance(owner, ir.OpView) \
            or owner.operation.name != "vector.broadcast":
        return None
    src = owner.operands[0]
    return src if src.type != v.type else None


@lowers("arith.constant")
def lower_arith_constant(ctx, op):
    ty = ctx.type_of(op.result)
    text = op.attrs["value"]
    value_text, _, _ = text.rpartition(" : ")
    value_text = value_text.strip()
    if value_text.startswith("dense<"):
        attr = ir.DenseElementsAttr.parse(f"{value_text} : {ty}") if hasattr(ir.DenseElementsAttr, "parse") \
            else ir.Attribute.parse(f"{value_text} : {ty}")
        v = arith.constant(ty, attr)
        ctx.bind(op.result, v, P.constant_affine(ctx, attr, ty))
        return
    elem = T.element(ty)
    if value_text in ("true", "false"):
        value_text = "1" if value_text == "true" else "0"
    if ctx.promote_bf16 and str(elem) == "f32" and text.rstrip().endswith("bf16"):
        # a bf16 constant inside a region computed in f32 (its text may be bf16 hex)
        bf = ir.BF16Type.get()
        c = arith.extf(ir.F32Type.get(), arith.constant(bf, ir.Attribute.parse(f"{value_text} : bf16")))
        ctx.bind(op.result, ctx.splat(c, ctx.lanes) if ctx.lanes else c)
        return
    attr = ir.Attribute.parse(f"{value_text} : {elem}")
    if ctx.lanes:
        ctx.bind(op.result, arith.constant(ty, ir.DenseElementsAttr.get_splat(ty, attr)))
    else:
        ctx.bind(op.result, arith.constant(ty, attr))


@lowers("arith.cmpi", "arith.cmpf")
def lower_arith_cmp(ctx, op):
    table = _CMPI if op.name == "arith.cmpi" else _CMPF
    pred = op.extra.get("keyword")
    if pred not in table:
        raise UnsupportedOp(f"unknown predicate {pred!r}")
    a, b = (ctx.get(v) for v in op.operands)
    attrs = {"predicate": ir.IntegerAttr.get(ir.IntegerType.get_signless(64), table[pred])}
    r = create(op.name, ctx.type_of(op.result), [a, b], attrs)
    uniform = None
    if op.name == "arith.cmpi" and isinstance(r.type, ir.VectorType) and not ctx.lanes:
        uniform = P.uniform_compare(pred, P.operand_affine(ctx, op.operands[0]),
                                    P.operand_affine(ctx, op.operands[1]))
    ctx.bind(op.result, r, uniform)
    if op.name == "arith.cmpi" and not isinstance(r.type, ir.VectorType):
        P.record_compare(ctx, pred, r, a, b)
    if op.name == "arith.cmpi" and isinstance(r.type, ir.VectorType) and isinstance(a, ir.Value) and not ctx.lanes:
        width = T.bitwidth(T.element(a.type)) if not isinstance(T.element(a.type), ir.IndexType) else 64
        M.record(ctx, r, M.compare_all_on(pred, P.operand_affine(ctx, op.operands[0]),
                                          P.operand_affine(ctx, op.operands[1]), T.shape(r.type), width))


@lowers("arith.addi", "arith.subi", "arith.muli")
def lower_arith_int_affine(ctx, op):
    a, b = (ctx.get(v) for v in op.operands)
    r = create(op.name, ctx.type_of(op.result), [a, b])
    ctx.bind(op.result, r, P.combine(ctx, op.name, *op.operands))
    if not isinstance(r.type, ir.VectorType):
        P.record_scalar(ctx, op.name, r, [a, b])


@lowers("arith.extsi", "arith.extui", "arith.trunci", "arith.index_cast", "arith.index_castui")
def lower_arith_int_cast(ctx, op):
    src = op.operands[0]
    r = create(op.name, ctx.type_of(op.result), [ctx.get(src)])
    ctx.bind(op.result, r, ctx.affine.get(src) if op.name != "arith.extui" else None)
    if not isinstance(r.type, ir.VectorType) and op.name != "arith.trunci":
        P.record_scalar(ctx, op.name, r, [ctx.get(src)])


@lowers("arith.divsi", "arith.divui", "arith.remsi", "arith.remui", "arith.ceildivsi",
        "arith.ceildivui", "arith.floordivsi")
def lower_arith_int_div(ctx, op):
    a, b = (ctx.get(v) for v in op.operands)
    r = create(op.name, ctx.type_of(op.result), [a, safe_divisor(ctx, b)])
    if not isinstance(r.type, ir.VectorType):
        P.record_scalar_bound(ctx, op.name, r, [a, b])
    aff = None
    if isinstance(r.type, ir.VectorType) and op.name in _AFFINE_DIV and not ctx.lanes:
        aff = P.divide(P.operand_affine(ctx, op.operands[0]), P.operand_affine(ctx, op.operands[1]),
                       T.shape(r.type), rem=op.name.startswith("arith.rem"))
    ctx.bind(op.result, r, aff)


# Divisions whose affine form `P.divide` knows (lanes >= 0: truncating = flooring).
_AFFINE_DIV = {"arith.divsi", "arith.divui", "arith.remsi", "arith.remui", "arith.floordivsi"}


def safe_divisor(ctx, b: ir.Value) -> ir.Value:
    """Replace zero divisors by one: a masked-off lane may divide by zero,
    which traps on a CPU but not on a GPU."""
    zero = ctx.const(0, b.type)
    one = ctx.const(1, b.type)
    is_zero = arith.cmpi(arith.CmpIPredicate.eq, b, zero)
    return arith.select(is_zero, one, b)


# libdevice (`__nv_*`) names to math ops; f32 names end in `f`.
_LIBDEVICE = {
    "exp": "math.exp", "exp2": "math.exp2", "expm1": "math.expm1", "log": "math.log",
    "log2": "math.log2", "log10": "math.log10", "log1p": "math.log1p", "sqrt": "math.sqrt",
    "rsqrt": "math.rsqrt", "sin": "math.sin", "cos": "math.cos", "tan": "math.tan",
    "tanh": "math.tanh", "sinh": "math.sinh", "cosh": "math.cosh", "atan": "math.atan",
    "atan2": "math.atan2", "asin": "math.asin", "acos": "math.acos", "asinh": "math.asinh",
    "acosh": "math.acosh", "atanh": "math.atanh", "erf": "math.erf", "erfc": "math.erfc",
    "fabs": "math.absf", "floor": "math.floor", "ceil": "math.ceil", "trunc": "math.trunc",
    "round": "math.round", "rint": "math.roundeven", "nearbyint": "math.roundeven",
    "fma": "math.fma", "pow": "math.powf", "copysign": "math.copysign", "cbrt": "math.cbrt",
    "fmax": "arith.maxnumf", "fmin": "arith.minnumf", "fmod": "arith.remf",
    "div_rn": "arith.divf", "fdiv_rn": "arith.divf", "sqrt_rn": "math.sqrt",
    "abs": "math.absi", "llabs": "math.absi", "popc": "math.ctpop", "popcll": "math.ctpop",
    "clz": "math.ctlz", "clzll": "math.ctlz", "max": "arith.maxsi", "min": "arith.minsi",
    "umax": "arith.maxui", "umin": "arith.minui", "llmax": "arith.maxsi", "llmin": "arith.minsi",
}


_FLOAT_CLASS = ("isnan", "isinf", "isfinite", "finite", "signbit")


def _libdevice_name(symbol: str):
    base = symbol[len("__nv_"):] if symbol.startswith("__nv_") else symbol
    for cand in (base, base[:-1] if base.endswith("f") else None,
                 base[:-3] if base.endswith("_rn") else None):
        if cand and cand in _LIBDEVICE:
            return _LIBDEVICE[cand]
        if cand in _FLOAT_CLASS:
            return cand
    # f64 classification names end in `d` (`__nv_isinfd`, `__nv_isnand`): Inductor emits
    # them for float64 `isinf`/`isnan`
    if base.endswith("d") and base[:-1] in _FLOAT_CLASS:
        return base[:-1]
    return None


@lowers("tt.extern_elementwise")
def lower_tt_extern_elementwise(ctx, op):
    symbol = op.attrs.get("symbol", "").strip('"')
    target = _libdevice_name(symbol)
    if target is None:
        raise UnsupportedOp(f"libdevice function {symbol} has no CPU lowering")
    args = [ctx.get(v) for v in op.operands]
    rt = ctx.type_of(op.result)
    if target in _FLOAT_CLASS:
        ctx.bind(op.result, _float_class(ctx, target, args[0], rt))
        return
    if target in ("math.fpowi",) or (target == "math.powf" and not T.is_float(args[1].type)):
        target = "math.fpowi"
    ctx.bind(op.result, math_op(ctx, target, rt, args))


def _float_class(ctx, what: str, x: ir.Value, rt: ir.Type) -> ir.Value:
    i1 = T.like(x.type, ir.IntegerType.get_signless(1))
    if what == "isnan":
        flag = arith.cmpf(arith.CmpFPredicate.UNO, x, x)
    elif what == "isinf":
        flag = arith.cmpf(arith.CmpFPredicate.OEQ, create("math.absf", x.type, [x]), ctx.const(float("inf"), x.type))
    elif what == "signbit":
        w = T.bitwidth(x.type)
        bits = arith.bitcast(T.like(x.type, ir.IntegerType.get_signless(w)), x)
        flag = arith.cmpi(arith.CmpIPredicate.slt, bits, ctx.const(0, bits.type))
    else:
        flag = arith.cmpf(arith.CmpFPredicate.OLT, create("math.absf", x.type, [x]), ctx.const(float("inf"), x.type))
    assert flag.type == i1
    return flag if rt == i1 else arith.extui(rt, flag)


@lowers("tt.precise_sqrt")
def lower_tt_precise_sqrt(ctx, op):
    ctx.bind(op.result, create("math.sqrt", ctx.type_of(op.result), [ctx.get(op.operands[0])]))


@lowers("tt.precise_divf")
def lower_tt_precise_divf(ctx, op):
    a, b = (ctx.get(v) for v in op.operands)
    ctx.bind(op.result, create("arith.divf", ctx.type_of(op.result), [a, b]))


@lowers("tt.mulhiui")
def lower_tt_mulhiui(ctx, op):
    """High half of an unsigned multiply (philox, for tl.rand/randn/randint)."""
    a, b = (ctx.get(v) for v in op.operands)
    t = ctx.type_of(op.result)
    ext = ir.Operation.create("arith.mului_extended", results=[t, t], operands=[a, b])
    ctx.bind(op.result, ext.results[1])


@lowers("tt.clampf")
def lower_tt_clampf(ctx, op):
    x, lo, hi = (ctx.get(v) for v in op.operands)
    propagate = op.attrs.get("propagateNan", "none") not in ("none", "0 : i32")
    mx, mn = ("arith.maximumf", "arith.minimumf") if propagate else ("arith.maxnumf", "arith.minnumf")
    ty = ctx.type_of(op.result)
    ctx.bind(op.result, float_minmax(mn, ty, [float_minmax(mx, ty, [x, lo]), hi]))


@lowers("tt.fp_to_fp")
def lower_tt_fp_to_fp(ctx, op):
    x = ctx.get(op.operands[0])
    rt = ctx.type_of(op.result)
    f32 = ir.F32Type.get()
    through_f32 = ((T.bitwidth(rt) == T.bitwidth(x.type) and T.element(rt) != T.element(x.type))  # bf16 <-> f16
                   or (8 in (T.bitwidth(rt), T.bitwidth(x.type)) and f32 not in (T.element(rt), T.element(x.type))))
    if through_f32:
        # no direct cast (IREE emulates fp8 only to and from f32); f32 holds every source exactly,
        # so the one rounding step is the same
        wide = T.like(x.type, f32)
        x = arith.extf(wide, x) if T.bitwidth(x.type) < 32 else arith.truncf(wide, x)
    if T.bitwidth(rt) > T.bitwidth(x.type):
        ctx.bind(op.result, arith.extf(rt, x))
    else:
        ctx.bind(op.result, arith.truncf(rt, x))


@lowers("ub.poison")
def lower_ub_poison(ctx, op):
    """Any value is a valid refinement of poison; zero keeps the IR simple."""
    ctx.bind(op.result, ctx.const(0, ctx.type_of(op.result)))
