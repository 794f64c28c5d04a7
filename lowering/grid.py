"""The launch grid as the kernel sees it: program ids and program counts.

A launch may run as several dispatches that share one grid: the runtime hands part of the
programs to the calling thread and the rest to IREE's workers (`runtime/split.py`).  Each such
dispatch covers a box of the grid, so a program's id is its workgroup id plus the box's offset,
and `tl.num_programs` is the whole grid, not the box's workgroup count.  Both travel as the last
six dispatch operands, i32 push constants: (offset x, y, z, programs x, y, z).  A launch of the
whole grid passes offsets 0 and the grid itself.
"""
from __future__ import annotations

from typing import List, Sequence

from iree.compiler import ir
from iree.compiler.dialects import arith, stream

AXES = {"x": 0, "y": 1, "z": 2}
GRID_OPERANDS = 6


def operand_types() -> List[ir.Type]:
    """The types of the trailing grid operands of a dispatch function."""
    return [ir.IntegerType.get_signless(32)] * GRID_OPERANDS


def operands(offsets: Sequence[ir.Value], programs: Sequence[ir.Value]) -> List[ir.Value]:
    """The grid operands of a dispatch from host integers (any int or index type)."""
    i32 = ir.IntegerType.get_signless(32)
    out = []
    for v in (*offsets, *programs):
        if isinstance(v.type, ir.IndexType):
            v = arith.index_cast(i32, v)
        elif ir.IntegerType(v.type).width > 32:
            v = arith.trunci(i32, v)
        out.append(v)
    return out


def whole_grid(grid: Sequence[ir.Value]) -> List[ir.Value]:
    """The grid operands of a dispatch that covers all of `grid` (index values)."""
    zero = arith.constant(ir.IndexType.get(), 0)
    return operands([zero] * 3, grid)


def program_id(args: Sequence[ir.Value], axis: int) -> ir.Value:
    """Program id (i32) along `axis`, given the dispatch function's grid arguments."""
    wid = stream.DispatchWorkgroupIDOp(axis, results=[ir.IndexType.get()]).result
    i32 = ir.IntegerType.get_signless(32)
    return arith.addi(arith.index_cast(i32, wid), args[axis])


def num_programs(args: Sequence[ir.Value], axis: int) -> ir.Value:
    """The grid's program count (i32) along `axis`, given the dispatch function's grid arguments."""
    return args[3 + axis]


def cast(v: ir.Value, want: ir.Type) -> ir.Value:
    """An i32 grid value as `want` (Triton's program ids are i32; index for the debug records)."""
    if v.type == want:
        return v
    if isinstance(want, ir.IndexType):
        return arith.index_cast(want, v)
    return arith.extsi(want, v) if ir.IntegerType(want).width > 32 else arith.trunci(want, v)
