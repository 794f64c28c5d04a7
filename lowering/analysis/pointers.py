"""Affine forms of integer and pointer tensors, for finding contiguous accesses.

A tensor value `v` of shape S has the affine form (base, strides) when
v[i0, .., in] == base + sum(strides[d] * i_d).  `make_range`, `splat`,
`expand_dims`, `broadcast`, `addptr` and integer add/sub/mul keep the form;
any other op drops it.  A pointer tensor whose last stride is the constant 1
reads whole rows, which `ops/memory.py` turns into masked vector loads and
stores instead of gathers.  Strides are Python ints when known statically,
else i64 SSA values.

Each form also knows a divisor of its base and whether the base is >= 0
(program ids, chunk offsets, constants, arguments Triton marks divisible by
16).  That makes `x // K` and `x % K` affine when no lane range crosses a
multiple of K: Inductor's `xindex % 512` over an aligned 32-lane chunk is the
chunk's base % 512 plus the lane, so a permuted read is still row-contiguous.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Optional

from iree.compiler import ir
from iree.compiler.dialects import arith

from ..context import Affine  # noqa: F401  (re-exported for rules)
from .. import types as T


def _i64():
    return ir.IntegerType.get_signless(64)


def const_int(v) -> Optional[int]:
    """The value of a scalar integer constant, else None."""
    if isinstance(v, int):
        return v
    try:
        owner = v.owner
    except Exception:
        return None
    if getattr(owner, "name", "") == "arith.constant" or getattr(getattr(owner, "operation", None), "name", "") == "arith.constant":
        attr = owner.attributes["value"]
        if isinstance(attr, ir.IntegerAttr):
            return ir.IntegerAttr(attr).value
    return None


def s_add(a, b, sub: bool = False):
    """Add (or subtract) two strides/bases: ints fold, values emit i64 math."""
    ca, cb = const_int(a), const_int(b)
    if isinstance(a, int) and isinstance(b, int):
        return a - b if sub else a + b
    if cb == 0:
        return a
    if ca == 0 and not sub:
        return b
    a, b = _as_i64(a), _as_i64(b)
    return arith.subi(a, b) if sub else arith.addi(a, b)


def s_mul(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    ca, cb = const_int(a), const_int(b)
    if ca == 0 or cb == 0:
        return 0
    if ca == 1:
        return b
    if cb == 1:
        return a
    return arith.muli(_as_i64(a), _as_i64(b))


def _as_i64(x):
    if isinstance(x, int):
        return arith.constant(_i64(), ir.IntegerAttr.get(_i64(), x))
    w = T.bitwidth(x.type)
    if isinstance(x.type, ir.IndexType):
        return arith.index_cast(_i64(), x)
    if w < 64:
        return arith.extsi(_i64(), x)
    return x


def scalar_base(x: ir.Value):
    """A scalar integer as an affine base (i64)."""
    c = const_int(x)
    return c if c is not None else _as_i64(x)


# The "divisor" of 0: every power of two divides it.
_ZERO_ALIGN = 1 << 62


def int_facts(x: int):
    """(a divisor, >= 0) of an int."""
    return (abs(x) if x else _ZERO_ALIGN), x >= 0


def facts(a: Affine):
    """(a divisor of the base, base >= 0) of a form."""
    return int_facts(a.base) if isinstance(a.base, int) else (a.align, a.nonneg)


def scalar_facts(ctx, v) -> tuple:
    """(a divisor, >= 0) of a lowered scalar integer, as far as its rules recorded."""
    c = const_int(v)
    if c is not None:
        return int_facts(c)
    return ctx.int_facts.get(v, (1, False))


def record_scalar(ctx, op_name: str, result: ir.Value, operands: list) -> None:
    """Facts of a scalar `addi`/`subi`/`muli` (or a cast, one operand) from its operands'."""
    fs = [scalar_facts(ctx, v) for v in operands]
    if len(fs) == 1:
        ctx.int_facts[result] = fs[0]
    elif op_name == "arith.muli":
        ctx.int_facts[result] = (min(fs[0][0] * fs[1][0], _ZERO_ALIGN), fs[0][1] and fs[1][1])
    else:
        ctx.int_facts[result] = (math.gcd(fs[0][0], fs[1][0]), op_name == "arith.addi" and fs[0][1] and fs[1][1])


def record_scalar_bound(ctx, op_name: str, result: ir.Value, operands: list) -> None:
    """Whether a scalar division, remainder, min or max is >= 0, from its operands' facts
    (Inductor's grouped program ids: `pid_m = group_id * G + pid % group_size`)."""
    (_, a), (_, b) = (scalar_facts(ctx, v) for v in operands)
    if op_name in ("arith.remsi", "arith.remui", "arith.divui"):
        nonneg = a              # the remainder takes the dividend's sign; |a / b| <= |a|
    elif op_name in ("arith.divsi", "arith.minsi"):
        nonneg = a and b
    elif op_name == "arith.maxsi":
        nonneg = a or b
    else:
        return
    if nonneg:
        ctx.int_facts[result] = (1, True)


# `x pred c` with these predicates and a constant c >= the bound proves x >= 0.
_NONNEG_IF = {"sge": 0, "sgt": -1, "eq": 0}


def record_compare(ctx, pred: str, result: ir.Value, a: ir.Value, b: ir.Value) -> None:
    """Remember a scalar compare of a value with a constant, for `assume`."""
    c = const_int(b)
    if c is not None and pred in _NONNEG_IF and c >= _NONNEG_IF[pred]:
        ctx.nonneg_if_true[result] = a


def assume(ctx, cond: ir.Value) -> None:
    """`tl.assume(x >= 0)`: x is >= 0 from here on (Inductor asserts it of grouped program
    ids, which makes `rm % M` over a block affine again)."""
    x = ctx.nonneg_if_true.get(cond)
    if x is not None:
        ctx.int_facts[x] = (scalar_facts(ctx, x)[0], True)


def make_range(start: int, n: int) -> Affine:
    return Affine(start, (1,))


def splat(scalar: ir.Value, rank: int, fact=(1, False)) -> Affine:
    return Affine(scalar_base(scalar), (0,) * rank, *fact)


def constant_affine(ctx, attr, ty) -> Optional[Affine]:
    """Splat integer constants are affine with zero strides."""
    if not isinstance(ty, ir.VectorType) or T.is_float(ty):
        return None
    d = ir.DenseElementsAttr(attr)
    if not d.is_splat:
        return None
    v = ir.IntegerAttr(d.get_splat_value()).value
    return Affine(v, (0,) * len(T.shape(ty)))


def operand_affine(ctx, v) -> Optional[Affine]:
    """The affine form of a TTIR operand: tensors from the table, scalars as bases."""
    from ...triton_frontend.ttir import TensorType
    if isinstance(v.type, TensorType):
        return ctx.affine_of(v)
    lowered = ctx.get(v)
    if hasattr(lowered, "offset"):
        return Affine(scalar_base(lowered.offset), ())
    return Affine(scalar_base(lowered), (), *scalar_facts(ctx, lowered))


def _broadcast_rank(a: Affine, rank: int) -> Affine:
    return replace(a, strides=(0,) * (rank - len(a.strides)) + tuple(a.strides))


def add(a: Optional[Affine], b: Optional[Affine], sub: bool = False) -> Optional[Affine]:
    if a is None or b is None:
        return None
    rank = max(len(a.strides), len(b.strides))
    a, b = _broadcast_rank(a, rank), _broadcast_rank(b, rank)
    (da, na), (db, nb) = facts(a), facts(b)
    return Affine(s_add(a.base, b.base, sub), tuple(s_add(x, y, sub) for x, y in zip(a.strides, b.strides)),
                  math.gcd(da, db), na and nb and not sub)


def mul(a: Optional[Affine], b: Optional[Affine]) -> Optional[Affine]:
    if a is None or b is None:
        return None
    if all(const_int(s) == 0 for s in b.strides):
        k = b
    elif all(const_int(s) == 0 for s in a.strides):
        a, k = b, a
    else:
        return None
    rank = max(len(a.strides), len(k.strides))
    a = _broadcast_rank(a, rank)
    (da, na), (dk, nk) = facts(a), facts(k)
    return Affine(s_mul(a.base, k.base), tuple(s_mul(s, k.base) for s in a.strides),
                  min(da * dk, _ZERO_ALIGN), na and nk)


def combine(ctx, op_name: str, x, y) -> Optional[Affine]:
    """The affine form of `x op y` for integer add, sub and mul."""
    from ...triton_frontend.ttir import TensorType
    if not (isinstance(x.type, TensorType) or isinstance(y.type, TensorType)):
        return None
    a, b = operand_affine(ctx, x), operand_affine(ctx, y)
    if op_name == "arith.addi":
        return add(a, b)
    if op_name == "arith.subi":
        return add(a, b, sub=True)
    return mul(a, b)


def expand_dims(a: Optional[Affine], axis: int) -> Optional[Affine]:
    if a is None:
        return None
    s = list(a.strides)
    s.insert(axis, 0)
    return replace(a, strides=tuple(s))


def broadcast(a: Optional[Affine], src_shape, dst_shape) -> Optional[Affine]:
    if a is None:
        return None
    a = _broadcast_rank(a, len(dst_shape))
    src = (1,) * (len(dst_shape) - len(src_shape)) + tuple(src_shape)
    return replace(a, strides=tuple(0 if s == 1 and d != 1 else st for s, d, st in zip(src, dst_shape, a.strides)))


def reshape(a: Optional[Affine], src_shape, dst_shape) -> Optional[Affine]:
    """Reshapes that only add or drop unit dims keep the form."""
    if a is None:
        return None
    kept = [st for st, n in zip(a.strides, src_shape) if n != 1]
    if [n for n in src_shape if n != 1] != [n for n in dst_shape if n != 1]:
        return None
    it = iter(kept)
    return replace(a, strides=tuple(0 if n == 1 else next(it) for n in dst_shape))


def transpose(a: Optional[Affine], order) -> Optional[Affine]:
    if a is None:
        return None
    return replace(a, strides=tuple(a.strides[i] for i in order))


def divide(a: Optional[Affine], k: Optional[Affine], shape, rem: bool) -> Optional[Affine]:
    """The form of `a // k` (or `a % k`) for a constant k > 0, when no lane's value crosses a
    multiple of k: the base is a multiple of g = gcd(align, k), every lane adds 0..span to it,
    and span < g.  All lanes must be >= 0, where truncating and flooring division agree."""
    if a is None or k is None or any(const_int(s) != 0 for s in k.strides):
        return None
    kv = const_int(k.base)
    align, nonneg = facts(a)
    if kv is None or kv <= 0 or not nonneg:
        return None
    span = 0
    for st, n in zip(a.strides, shape):
        st = const_int(st)
        if st is None or st < 0:
            return None
        span += st * (n - 1)
    g = math.gcd(align, kv)
    if span >= g:
        return None
    if isinstance(a.base, int):
        base = a.base % kv if rem else a.base // kv
    else:
        c = arith.constant(_i64(), ir.IntegerAttr.get(_i64(), kv))
        base = arith.remsi(_as_i64(a.base), c) if rem else arith.divsi(_as_i64(a.base), c)
    if rem:
        return Affine(base, a.strides, g, True)
    return Affine(base, (0,) * len(a.strides), 1, True)


def is_uniform(a: Optional[Affine]) -> bool:
    """Every lane holds the base (all strides zero): a broadcast value, a per-chunk row index."""
    return a is not None and all(const_int(s) == 0 for s in a.strides)


# Predicates that compare sign-extended (i64) bases as they compare the narrower values.
_SIGNED_CMPI = {"eq": arith.CmpIPredicate.eq, "ne": arith.CmpIPredicate.ne, "slt": arith.CmpIPredicate.slt,
                "sle": arith.CmpIPredicate.sle, "sgt": arith.CmpIPredicate.sgt, "sge": arith.CmpIPredicate.sge}


def uniform_compare(pred: str, a: Optional[Affine], b: Optional[Affine]) -> Optional[Affine]:
    """`a pred b` of two uniform forms, as a uniform i1 form (its base one scalar compare)."""
    if not (is_uniform(a) and is_uniform(b)) or pred not in _SIGNED_CMPI:
        return None
    return Affine(arith.cmpi(_SIGNED_CMPI[pred], _as_i64(a.base), _as_i64(b.base)), tuple(a.strides))


def uniform_select(c: Optional[Affine], a: Optional[Affine], b: Optional[Affine]) -> Optional[Affine]:
    """`select(c, a, b)` of uniform forms (Inductor's wrap of a negative loaded index) stays uniform."""
    if not (is_uniform(c) and is_uniform(a) and is_uniform(b)) or isinstance(c.base, int):
        return None
    rank = max(len(c.strides), len(a.strides), len(b.strides))
    return Affine(arith.select(c.base, _as_i64(a.base), _as_i64(b.base)), (0,) * rank)


def materialize_base(a: Affine) -> ir.Value:
    return _as_i64(a.base)


def row_starts(a: Affine, shape) -> list:
    """Element offsets (i64) of each row start when the last dim is unit-stride."""
    import itertools
    lead = shape[:-1]
    out = []
    for idx in itertools.product(*[range(n) for n in lead]):
        off = a.base
        for i, st in zip(idx, a.strides[:-1]):
            if i:
                off = s_add(off, s_mul(st, i))
        out.append((idx, _as_i64(off)))
    return out


def is_rowwise_contiguous(a: Optional[Affine], shape) -> bool:
    return a is not None and len(shape) >= 1 and const_int(a.strides[-1]) == 1


def is_dense(a: Optional[Affine], shape) -> bool:
    """The whole tile is one contiguous run in row-major order (strides known at compile time)."""
    if a is None or not shape:
        return False
    want = 1
    for st, n in zip(reversed(a.strides), reversed(shape)):
        if n != 1 and const_int(st) != want:
            return False
        want *= n
    return True
