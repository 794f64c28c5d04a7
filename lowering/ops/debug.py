"""Hints and debugging ops: `llvm.intr.assume` and friends are dropped."""
from ..registry import lowers


@lowers("llvm.intr.assume", "tt.debug_barrier", "gpu.barrier")
def lower_dropped_hint(ctx, op):
    """Optimisation hints with no effect on results on the CPU."""
