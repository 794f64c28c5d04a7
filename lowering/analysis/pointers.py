"""Affine forms of integer and pointer tensors, for finding contiguous accesses.

A tensor value `v` of shape S has the affine form (base, strides) when
v[i0, .., in] == base + sum(strides[d] * i_d).  `make_range`, `splat`,
`expand_dims`, `broadcast`, `addptr` and integer add/sub/mul keep the form;
any other op drops it.  A pointer tensor whose last stride is the constant 1
reads whole rows, which `ops/memory.py` turns into masked vector loads and
stores instead of gathers.  Strides are Python ints when known statically,
else i64 SSA values.
"""
from __future__ import annotations

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


def make_range(start: int, n: int) -> Affine:
    return Affine(start, (1,))


def splat(scalar: ir.Value, rank: int) -> Affine:
    return Affine(scalar_base(scalar), (0,) * rank)


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
    return Affine(scalar_base(lowered), ())


def _broadcast_rank(a: Affine, rank: int) -> Affine:
    return Affine(a.base, (0,) * (rank - len(a.strides)) + tuple(a.strides))


def add(a: Optional[Affine], b: Optional[Affine], sub: bool = False) -> Optional[Affine]:
    if a is None or b is None:
        return None
    rank = max(len(a.strides), len(b.strides))
    a, b = _broadcast_rank(a, rank), _broadcast_rank(b, rank)
    return Affine(s_add(a.base, b.base, sub), tuple(s_add(x, y, sub) for x, y in zip(a.strides, b.strides)))


def mul(a: Optional[Affine], b: Optional[Affine]) -> Optional[Affine]:
    if a is None or b is None:
        return None
    if all(const_int(s) == 0 for s in b.strides):
        k = b.base
    elif all(const_int(s) == 0 for s in a.strides):
        a, k = b, a.base
    else:
        return None
    rank = max(len(a.strides), len(b.strides))
    a = _broadcast_rank(a, rank)
    return Affine(s_mul(a.base, k), tuple(s_mul(s, k) for s in a.strides))


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
    return Affine(a.base, tuple(s))


def broadcast(a: Optional[Affine], src_shape, dst_shape) -> Optional[Affine]:
    if a is None:
        return None
    a = _broadcast_rank(a, len(dst_shape))
    src = (1,) * (len(dst_shape) - len(src_shape)) + tuple(src_shape)
    return Affine(a.base, tuple(0 if s == 1 and d != 1 else st for s, d, st in zip(src, dst_shape, a.strides)))


def reshape(a: Optional[Affine], src_shape, dst_shape) -> Optional[Affine]:
    """Reshapes that only add or drop unit dims keep the form."""
    if a is None:
        return None
    kept = [st for st, n in zip(a.strides, src_shape) if n != 1]
    if [n for n in src_shape if n != 1] != [n for n in dst_shape if n != 1]:
        return None
    it = iter(kept)
    return Affine(a.base, tuple(0 if n == 1 else next(it) for n in dst_shape))


def transpose(a: Optional[Affine], order) -> Optional[Affine]:
    if a is None:
        return None
    return Affine(a.base, tuple(a.strides[i] for i in order))


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
