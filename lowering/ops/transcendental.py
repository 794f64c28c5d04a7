"""f32 `exp`, `exp2` and `erf` expanded into arith ops, for the CPU targets.

MLIR's own expansion of `math.exp` (which IREE applies) clamps the input, rounds, clamps
the integer part again, reduces, evaluates a polynomial and builds the scale with a
float conversion: about 21 vector ops, and in softmax the exp was half the kernel's
time on one core.  This one is 14 ops, and more accurate (about 1 ulp):

* `t = fma(x, log2(e), M)` with M = 1.5 * 2**23 + 126 rounds x*log2(e) to an integer n
  in the low mantissa bits of t, already biased, so `t << 23` is the bit pattern of
  2**(n - 1): no float-to-int conversion and no second clamp;
* `r = x - n*ln2` in two FMAs (Cody-Waite), `|r| <= ln2/2`;
* `2*e**r` by a degree-6 polynomial (coefficients fitted for relative error, about
  2e-9 before rounding; the constant term is exact, so exp(0) == 1 exactly);
* the result `(2*e**r) * 2**(n - 1)` overflows to inf by itself past exp's range,
  and a NaN input stays NaN through every step.

Results below 2**-125.5 (about 1.7e-38) flush to zero; MLIR's expansion flushes below
2**-126, and IREE's CPU code flushes subnormals anyway.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith

from .. import types as T

_LOG2E = 1.4426950408889634
# ln2 split so that n * _LN2_HI is exact for |n| < 512 (its low 9 mantissa bits are 0)
_LN2_HI = 0.693145751953125
_LN2_LO = 1.428606820309417232e-06
# 1.5 * 2**23 keeps t in [2**23, 2**24) (ulp 1) for |n| < 2**22; +126 biases n - 1
_MAGIC = 12582912.0 + 126.0
# 2*e**r ~ 2 + r*q(r) on |r| <= ln2/2, q's coefficients low to high (2x a relative-error fit)
_Q = (2.0, 0.9999998807907104, 0.33332863450050354, 0.0833360031247139, 0.01674831099808216,
      0.0027687305118888617)
# inputs clamped so n stays in [-126, 128]: n - 1 + 127 is then a valid biased exponent
# (0 gives a zero scale: underflow; 254 with 2*e**r >= 2 overflows to inf)
_EXP_RANGE = (-87.6, 89.0)
_EXP2_RANGE = (-126.4, 128.4)


def supports(name: str, ty: ir.Type) -> bool:
    """Whether `name` on values of `ty` has an expansion here."""
    return name in EXPANSIONS and T.element(ty) == ir.F32Type.get()


def exp(ctx, x: ir.Value) -> ir.Value:
    """e**x for f32 scalars or vectors."""
    x = _clamp(ctx, x, *_EXP_RANGE)
    magic = ctx.const(_MAGIC, x.type)
    t = _fma(x, ctx.const(_LOG2E, x.type), magic)
    n = arith.subf(t, magic)
    r = _fma(n, ctx.const(-_LN2_HI, x.type), x)
    r = _fma(n, ctx.const(-_LN2_LO, x.type), r)
    return _scale(ctx, _two_exp(ctx, r), t)


def exp2(ctx, x: ir.Value) -> ir.Value:
    """2**x for f32 scalars or vectors (`tl.exp2`, flash attention's softmax)."""
    x = _clamp(ctx, x, *_EXP2_RANGE)
    magic = ctx.const(_MAGIC, x.type)
    t = arith.addf(x, magic)
    f = arith.subf(x, arith.subf(t, magic))          # exact: |f| <= 1/2
    r = arith.mulf(f, ctx.const(0.6931471805599453, x.type))
    return _scale(ctx, _two_exp(ctx, r), t)


# erf(x) ~ x * P(x*x) / Q(x*x) on |x| <= 4 (relative-error fit, 2.5e-8 before rounding);
# erf(4) rounds to 1 in f32, so larger |x| are clamped to 4.  Coefficients low to high.
_ERF_P = (1.1283791065216064, 0.1935320496559143, 0.053099725395441055, 0.003882701974362135,
          0.0002845380222424865, 1.986710685741855e-06)
_ERF_Q = (1.0, 0.5048458576202393, 0.11534435302019119, 0.015205977484583855, 0.001185390166938305,
          3.741795808309689e-05)


def erf(ctx, x: ir.Value) -> ir.Value:
    """erf(x) for f32 scalars or vectors (Inductor's GELU): one rational function, odd by
    construction, about 15 ops and a division where MLIR's piecewise expansion takes about 45."""
    x = _clamp(ctx, x, -4.0, 4.0)
    s = arith.mulf(x, x)
    return arith.divf(arith.mulf(x, _horner(ctx, _ERF_P, s)), _horner(ctx, _ERF_Q, s))


EXPANSIONS = {"math.exp": exp, "math.exp2": exp2, "math.erf": erf}


def _clamp(ctx, x, lo, hi):
    # `lo > x ? lo : x` is one max instruction, and keeps a NaN x (the compare is false)
    lo_v, hi_v = ctx.const(lo, x.type), ctx.const(hi, x.type)
    x = arith.select(arith.cmpf(arith.CmpFPredicate.OGT, lo_v, x), lo_v, x)
    return arith.select(arith.cmpf(arith.CmpFPredicate.OLT, hi_v, x), hi_v, x)


def _fma(a, b, c):
    return ir.Operation.create("math.fma", results=[a.type], operands=[a, b, c]).result


def _horner(ctx, coeffs, r):
    """sum(c_i * r**i) by Horner's rule, one FMA per coefficient after the first."""
    q = ctx.const(coeffs[-1], r.type)
    for c in reversed(coeffs[:-1]):
        q = _fma(q, r, ctx.const(c, r.type))
    return q


def _two_exp(ctx, r):
    """2 * e**r = 2 + r*q(r); 6 FMAs."""
    return _fma(_horner(ctx, _Q, r), r, ctx.const(2.0, r.type))


def _scale(ctx, p, t):
    """p * 2**(n - 1), where t's low mantissa bits hold n - 1 + 127."""
    i32 = T.like(t.type, ir.IntegerType.get_signless(32))
    bits = arith.shli(arith.bitcast(i32, t), ctx.const(23, i32))
    return arith.mulf(p, arith.bitcast(t.type, bits))
