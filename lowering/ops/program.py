"""Program ids and counts: one Triton program is one IREE workgroup (see `lowering/grid.py`)."""
from .. import grid
from ..registry import lowers


def _axis(op) -> int:
    return grid.AXES[op.extra.get("keyword", "x")]


@lowers("tt.get_program_id")
def lower_tt_get_program_id(ctx, op):
    r = grid.cast(grid.program_id(ctx.grid_args, _axis(op)), ctx.type_of(op.result))
    ctx.bind(op.result, r)
    ctx.int_facts[r] = (1, True)


@lowers("tt.get_num_programs")
def lower_tt_get_num_programs(ctx, op):
    r = grid.cast(grid.num_programs(ctx.grid_args, _axis(op)), ctx.type_of(op.result))
    ctx.bind(op.result, r)
    ctx.int_facts[r] = (1, True)
