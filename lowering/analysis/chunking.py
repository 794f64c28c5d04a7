"""Which kernels can run their tensor code in register-sized chunks.

A Triton block is a logical shape, not a register: `vector<1024xf32>` ops
straight from the tile make LLVM keep whole tiles live and spill.  A kernel
whose tensors are all 1-D of one size B and whose tensor ops are elementwise
(loads, stores, index math, casts, selects, math) computes every lane
independently, so its tensor code can run as a loop over chunks of C lanes
(`dispatch.py` lowers scalar ops once, then the tensor ops inside the loop).
That is the shape of vector add and of Inductor's pointwise kernels.
"""
from __future__ import annotations

from typing import Optional

from ...triton_frontend.ttir import Function, TensorType

# Lanes per chunk: 4 AVX2 registers of fp32, measured on vector add (bench/).
CHUNK = 32

_CHUNKABLE = {
    "tt.make_range", "tt.splat", "tt.addptr", "tt.load", "tt.store", "tt.extern_elementwise",
    "tt.bitcast", "tt.fp_to_fp", "tt.clampf", "tt.precise_sqrt", "tt.precise_divf", "tt.mulhiui",
    "arith.constant", "tt.get_program_id", "tt.get_num_programs", "tt.return", "llvm.intr.assume",
    "tt.assert",   # per lane; reports the first failing lane of the block (Inductor's indirect indexing)
}


def _is_tensor_op(op) -> bool:
    return any(isinstance(v.type, TensorType) for v in list(op.operands) + list(op.results))


def chunk_plan(fn: Function) -> Optional[int]:
    """The block size B if `fn` can be lowered in chunks, else None."""
    if len(fn.blocks) > 1:
        return None
    size = None
    for op in fn.body.ops:
        if op.regions:
            return None
        elementwise = op.name.startswith(("arith.", "math.")) or op.name in _CHUNKABLE
        if not elementwise:
            return None
        if op.name == "arith.constant" and "dense<[" in op.attrs.get("value", "").replace(" ", ""):
            return None  # a non-splat constant has per-lane values
        if not _is_tensor_op(op):
            if op.name == "tt.store":
                return None  # keep scalar stores ordered with the tensor code
            continue
        for v in list(op.operands) + list(op.results):
            if isinstance(v.type, TensorType):
                if len(v.type.shape) != 1:
                    return None
                if size is None:
                    size = v.type.shape[0]
                elif size != v.type.shape[0]:
                    return None
    if size is None or size <= CHUNK or size % CHUNK:
        return None
    return size


def split_ops(fn: Function):
    """(scalar ops, tensor ops) in program order; scalars never depend on tensors here."""
    scalar, tensor = [], []
    for op in fn.body.ops:
        if op.name == "tt.return":
            continue
        (tensor if _is_tensor_op(op) else scalar).append(op)
    return scalar, tensor
