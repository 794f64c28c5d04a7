"""`tt.dot`: C += A @ B on one tile.

The tile is computed as K vector outer products (one FMA row
per output row), with operands widened to the accumulator's type first.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from ..errors import UnsupportedOp
from ..registry import lowers
from .. import types as T


def _widen(ctx, v: ir.Value, elem: ir.Type) -> ir.Value:
    if T.element(v.type) == elem:
        return v
    t = T.like(v.type, elem)
    if T.is_float(elem):
        if T.is_float(v.type):
            return arith.extf(t, v)
        return arith.sitofp(t, v)
    return arith.extsi(t, v)


@lowers("tt.dot")
def lower_tt_dot(ctx, op):
    a, b, c = (ctx.get(v) for v in op.operands[:3])
    sa, sb, sc = T.shape(a.type), T.shape(b.type), T.shape(c.type)
    if len(sa) != 2:
        raise UnsupportedOp("batched (3D) tt.dot")
    m, k = sa
    n = sb[1]
    acc_el = T.element(c.type)
    a = _widen(ctx, a, acc_el)
    b = _widen(ctx, b, acc_el)
    at = vector.transpose(ir.VectorType.get([k, m], acc_el), a, [1, 0])
    acc = c
    # K is static and small (a tile); dynamic extracts from 2-D vectors do
    # not lower to LLVM, so the K loop is unrolled.
    for kk in range(k):
        acc = vector.outerproduct(c.type, vector.extract(at, [], [kk]), vector.extract(b, [], [kk]), acc=acc)
    ctx.bind(op.result, acc)
