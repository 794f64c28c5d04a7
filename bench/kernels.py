"""Benchmark kernels and host wrappers.

The kernels live in `turbine_triton.demo` so the installed CLI's `demo` and
these benchmarks run the same code; this module is the bench-side name.
"""
from turbine_triton.demo import (  # noqa: F401
    add, add_kernel, layernorm, layernorm_kernel, matmul, matmul_kernel,
    softmax, softmax_kernel,
)
