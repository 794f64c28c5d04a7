"""Scalar "every lane is on" tests for masks built from index ranges.

A masked load or store runs as a plain vector access when all of its lanes are
on (AVX2's masked moves are slow).  Testing that on the mask vector costs a
reduction of packed compare bits per access, about a dozen instructions for 32
lanes.  Most masks are `offsets < n` with `offsets` affine in the lane index, so
the test is a comparison of the smallest or largest offset with `n`: two or
three scalar instructions.  The rules that build masks (`arith.cmpi`, `andi`,
splats, broadcasts) record that scalar in `ctx.mask_hints`, keyed by the
lowered mask vector; `ops/memory.py` uses it when present.
"""
from __future__ import annotations

from typing import Optional

from iree.compiler import ir
from iree.compiler.dialects import arith

from . import pointers as P
from .. import types as T

# predicate -> (the lhs lane bound to compare, the scalar predicate), for an affine lhs and a uniform rhs
_SIGNED = {"slt": ("hi", arith.CmpIPredicate.slt), "sle": ("hi", arith.CmpIPredicate.sle),
           "sgt": ("lo", arith.CmpIPredicate.sgt), "sge": ("lo", arith.CmpIPredicate.sge)}
_MIRROR = {"slt": "sgt", "sle": "sge", "sgt": "slt", "sge": "sle"}


def _uniform(a) -> bool:
    return a is not None and all(P.const_int(s) == 0 for s in a.strides)


def _lane_bounds(a, shape):
    """(lo, hi): the smallest and largest value over the lanes, as i64 values or ints; None
    when a stride is not a compile-time int."""
    lo = hi = a.base
    for st, n in zip(a.strides, shape):
        if n == 1:
            continue
        st = P.const_int(st)
        if st is None:
            return None
        span = st * (n - 1)
        lo, hi = (P.s_add(lo, span), hi) if span < 0 else (lo, P.s_add(hi, span))
    return lo, hi


def compare_all_on(pred: str, a, b, shape, width: int) -> Optional[ir.Value]:
    """An i1 that is true iff `a <pred> b` holds on every lane, or None if not derivable.

    `a`, `b` are affine forms of `width`-bit integer tensors of `shape`.  The bounds are
    computed exactly in i64; they must fit `width` bits, or the vector's wrapped values
    could differ from them."""
    if _uniform(a) and not _uniform(b):
        a, b, pred = b, a, _MIRROR.get(pred, "")
    if pred not in _SIGNED or a is None or not _uniform(b) or width > 64:
        return None
    bounds = _lane_bounds(a, shape)
    if bounds is None:
        return None
    lo, hi = bounds
    which, spred = _SIGNED[pred]
    i64 = ir.IntegerType.get_signless(64)

    def val(x):
        return x if isinstance(x, ir.Value) else arith.constant(i64, ir.IntegerAttr.get(i64, x))
    ok = arith.cmpi(spred, val(hi if which == "hi" else lo), val(P.materialize_base(b)))
    if width < 64:
        lim = 1 << (width - 1)
        fits = arith.andi(arith.cmpi(arith.CmpIPredicate.sge, val(lo), val(-lim)),
                          arith.cmpi(arith.CmpIPredicate.slt, val(hi), val(lim)))
        ok = arith.andi(ok, fits)
    return ok


def record(ctx, mask: ir.Value, on: Optional[ir.Value]) -> None:
    """Remember that the lowered `mask` is all on exactly when the scalar `on` is true."""
    if on is not None and isinstance(mask.type, ir.VectorType):
        ctx.mask_hints[mask] = on


def forward(ctx, src, dst) -> None:
    """`dst` has the same lanes as `src` (a broadcast, expand_dims or reshape of it)."""
    if isinstance(src, ir.Value) and isinstance(dst, ir.Value) and src in ctx.mask_hints:
        record(ctx, dst, ctx.mask_hints[src])


def both(ctx, x, y, out) -> None:
    """`out = x & y` is all on when both are."""
    hx, hy = ctx.mask_hints.get(x), ctx.mask_hints.get(y)
    if hx is not None and hy is not None:
        record(ctx, out, arith.andi(hx, hy))


def is_bool(v: ir.Value) -> bool:
    """An i1 vector: a mask."""
    return isinstance(v.type, ir.VectorType) and T.element(v.type) == ir.IntegerType.get_signless(1)
