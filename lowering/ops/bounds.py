"""Bounds-checked mode (`TURBINE_TRITON_BOUNDS_CHECK=1`): every access is checked.

Each load and store compares its element offsets with the extent of the
buffer the pointer came from.  Out-of-bounds lanes are masked off, so nothing
outside the tensor's storage is read or written, and the first offending
offset is reported through the status buffer; the launcher then raises
`OutOfBoundsError` naming the kernel, the source line and the index.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, vector

from .debug import add_site, any_true, first_index, report_failure


def check_access(ctx, op, ptr, mask, shape):
    """The access mask restricted to in-bounds lanes; reports any masked-in lane out of bounds."""
    _, size, _ = ctx.bindings[ptr.arg]
    i64 = ir.IntegerType.get_signless(64)
    off = ptr.offset
    n = arith.index_cast(i64, size)
    lo = arith.cmpi(arith.CmpIPredicate.sge, off, ctx.const(0, off.type))
    hi = arith.cmpi(arith.CmpIPredicate.slt, off, ctx.splat(n, shape) if shape else n)
    inb = arith.andi(lo, hi)
    outside = arith.xori(inb, ctx.const(1, inb.type))
    bad = arith.andi(mask, outside) if mask is not None else outside
    kind = "load" if op.name == "tt.load" else "store"
    site = add_site(ctx, kind, op, ctx.arg_names[ptr.arg])
    if shape:
        lane = first_index(ctx, bad, in_block=False)
        count = 1
        for d in shape:
            count *= d
        flat = vector.shape_cast(ir.VectorType.get([count], i64), off)
        safe_lane = arith.minsi(lane, ctx.const(count - 1, i64))
        index = vector.extract(flat, [arith.index_cast(ir.IndexType.get(), safe_lane)],
                               [ir.ShapedType.get_dynamic_size()])
    else:
        index = off
    report_failure(ctx, site, any_true(bad), index)
    return arith.andi(mask, inb) if mask is not None else inb
