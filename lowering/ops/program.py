"""Program ids and counts: one Triton program is one IREE workgroup."""
from iree.compiler import ir
from iree.compiler.dialects import arith, stream

from ..registry import lowers

_AXES = {"x": 0, "y": 1, "z": 2}


def _axis(op) -> int:
    return _AXES[op.extra.get("keyword", "x")]


@lowers("tt.get_program_id")
def lower_tt_get_program_id(ctx, op):
    wid = stream.DispatchWorkgroupIDOp(_axis(op), results=[ir.IndexType.get()]).result
    r = arith.index_cast(ctx.type_of(op.result), wid)
    ctx.bind(op.result, r)
    ctx.int_facts[r] = (1, True)


@lowers("tt.get_num_programs")
def lower_tt_get_num_programs(ctx, op):
    n = stream.DispatchWorkgroupCountOp(_axis(op), results=[ir.IndexType.get()]).result
    r = arith.index_cast(ctx.type_of(op.result), n)
    ctx.bind(op.result, r)
    ctx.int_facts[r] = (1, True)
