"""Kernels for test_language.py that the interpreter must also import (in a subprocess)."""
import triton
import triton.language as tl


@triton.jit
def rand_kernel(out_ptr, out2_ptr, out3_ptr, seed, N: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(out_ptr + offs, tl.rand(seed, offs))
    tl.store(out2_ptr + offs, tl.randn(seed, offs))
    tl.store(out3_ptr + offs, tl.randint(seed, offs))
