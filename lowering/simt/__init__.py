"""SIMT lowering for GPU targets (Vulkan/SPIR-V, ROCm): one tensor element per thread.

The CPU lowering (`lowering/dispatch.py`) turns a Triton tile into vector code
for one workgroup; GPU code generators want scalar code per thread instead.
`emit_simt_executable` builds the same `stream.executable` interface (same
dispatch operands, same ABI) with a SIMT body.  It covers elementwise kernels
(1-D blocks: program ids, ranges, pointer arithmetic, masked loads/stores,
arith/math/libdevice); anything else raises `UnsupportedOp`, so a CPU vector
body never reaches a GPU target.
"""
from .kernel import SIMT_TARGETS, emit_simt_executable  # noqa: F401
