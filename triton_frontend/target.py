"""What Triton's frontend needs to know about our CPU target.

`CPUOptions` holds every option Triton and Inductor pass to a backend; the
helpers here give Triton's code generator its hooks and run Triton's TTIR
passes.  This module imports nothing from `triton` at import time: Triton
imports our plugin while `import triton` is still running, and the plugin's
`CPUBackend` (the one `BaseBackend` of ours) is built from these helpers.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, fields
from typing import Optional, Tuple



@functools.lru_cache(maxsize=1)
def cpu_target():
    """`GPUTarget("cpu", "", 32)`: what Inductor builds for CPU Triton kernels."""
    from triton.backends.compiler import GPUTarget
    return GPUTarget("cpu", "", 32)


@dataclass(frozen=True)
class CPUOptions:
    """Compile options; the field names are the keywords Triton/Inductor pass."""
    num_warps: int = 4
    num_ctas: int = 1
    num_stages: int = 1
    warp_size: int = 32
    maxnreg: Optional[int] = None
    ir_override: Optional[str] = None
    enable_fp_fusion: bool = True
    launch_cooperative_grid: bool = False
    launch_pdl: bool = False
    supported_fp8_dtypes: Tuple[str, ...] = ("fp8e5", "fp8e4nv", "fp8e4b15")
    deprecated_fp8_dot_operand_dtypes: Tuple[str, ...] = ()
    default_dot_input_precision: str = "ieee"
    allowed_dot_input_precisions: Tuple[str, ...] = ("ieee", "tf32", "tf32x3", "bf16x3", "bf16x6")
    max_num_imprecise_acc_default: int = 0
    extern_libs: Optional[tuple] = None
    debug: bool = False
    sanitize_overflow: bool = False
    arch: str = "cpu"
    backend_name: str = "cpu"
    instrumentation_mode: str = ""
    fpsan_homomorphic_casts: bool = False
    # ours: check every load/store against its buffer (TURBINE_TRITON_BOUNDS_CHECK)
    bounds_check: bool = False

    def __post_init__(self):
        # the same contract as Triton's GPU backends: kernels size tiles by num_warps
        assert self.num_warps > 0 and (self.num_warps & (self.num_warps - 1)) == 0, \
            f"num_warps must be a power of 2, got {self.num_warps}"

    def hash(self) -> str:
        """A stable digest of every field, for cache keys."""
        key = "_".join(f"{f.name}-{getattr(self, f.name)}" for f in fields(self))
        return hashlib.sha256(key.encode()).hexdigest()


def parse_options(opts: dict) -> CPUOptions:
    """Build `CPUOptions` from Triton's keyword dict, ignoring unknown keys."""
    import os
    names = {f.name for f in fields(CPUOptions)}
    kw = {k: v for k, v in opts.items() if k in names and v is not None}
    if "extern_libs" in kw and isinstance(kw["extern_libs"], dict):
        kw["extern_libs"] = tuple(sorted(kw["extern_libs"].items()))
    if "bounds_check" not in kw and os.environ.get("TURBINE_TRITON_BOUNDS_CHECK", "") not in ("", "0"):
        kw["bounds_check"] = True
    for k in ("supported_fp8_dtypes", "allowed_dot_input_precisions", "deprecated_fp8_dot_operand_dtypes"):
        if k in kw:
            kw[k] = tuple(kw[k])
    return CPUOptions(**kw)


def min_dot_size(target):
    """Smallest tl.dot operand shape; the CPU has no MMA constraint."""
    return lambda lhs_type, rhs_type: (1, 1, 1)


def codegen_implementation(options: CPUOptions) -> dict:
    """Hooks Triton's code generator calls while building TTIR."""
    import triton.language.extra.cuda as cuda
    return {
        "convert_custom_types": cuda.convert_custom_float8_sm80,
        "min_dot_size": min_dot_size(None),
    }


def module_map() -> dict:
    """libdevice calls resolve to CUDA's `__nv_*` names; the lowering maps them to math ops."""
    from triton.language.extra.cuda import libdevice
    return {"triton.language.extra.libdevice": libdevice}


def run_ttir_passes(mod):
    """Triton's own TTIR clean-up pipeline, with descriptors rewritten to pointers."""
    from triton._C.libtriton import ir, passes
    pm = ir.pass_manager(mod.context)
    pm.enable_debug()
    passes.common.add_inliner(pm)
    passes.ttir.add_rewrite_tensor_descriptor_to_pointer(pm)
    passes.common.add_canonicalizer(pm)
    passes.ttir.add_combine(pm)
    passes.ttir.add_reorder_broadcast(pm)
    passes.common.add_cse(pm)
    passes.common.add_symbol_dce(pm)
    passes.ttir.add_loop_unroll(pm)
    pm.run(mod, "make_ttir")
    return mod


def frontend_backend():
    """The Triton `BaseBackend` used for capture (the plugin's `CPUBackend`)."""
    from ..plugin.backend.compiler import CPUBackend
    return _backend(CPUBackend)


@functools.lru_cache(maxsize=None)
def _backend(cls):
    return cls(cpu_target())
