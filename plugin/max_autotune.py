"""Inductor's Triton GEMM template configurations for this backend (max-autotune).

With `mode="max-autotune"` (or `max_autotune_gemm`), Inductor writes each matmul as a
Triton template instance per block configuration and benchmarks them against ATen's
kernel.  Its stock CPU list halves every GPU block and drops any with BLOCK_M * BLOCK_N >
8192, which suits a compiler that keeps one program's tiles in L1, not IREE's: a tile here
is split into register-sized pieces (`lowering/ops/dot.py`), so larger blocks amortise the
staging of A and B.  Measured on Zen 5 through Inductor's template (addmm, `w.t()`): of
eight shapes from 16x256 to 128x128 blocks, 128x128x32, 128x64x32 and 64x64x32 were the
three fastest at every transformer and MLP shape tried (1.5-3x ATen's sgemm there); the
stock list's best was 1.5x slower than ATen's.

`install()` registers these for device "cpu" (which only a Triton CPU backend, i.e. us,
compiles); the autotuner still picks ATen wherever it is faster, per shape.
"""
from __future__ import annotations

# (BLOCK_M, BLOCK_N, BLOCK_K), best first: Inductor clamps each to the problem's size
BLOCKS = ((128, 128, 32), (128, 64, 32), (64, 64, 32))

_installed = False


def install() -> None:
    """Register our configurations for Inductor's mm, addmm, bmm and baddbmm templates on
    "cpu" (idempotent).  Imports Inductor, so call it when compiling, not at import."""
    global _installed
    if _installed:
        return
    from torch._inductor.kernel.bmm import bmm_template
    from torch._inductor.kernel.mm import mm_template
    from torch._inductor.template_heuristics import registry
    from torch._inductor.template_heuristics import triton as th

    configs = [th.GemmConfig(m, n, k, 1, 4) for m, n, k in BLOCKS]

    class _Blocks:
        """Our blocks, clamped to the problem but neither halved nor excluded by size."""

        def __init__(self):
            super().__init__()
            self.mm_configs = list(configs)

        def preprocess_mm_configs(self, m, n, k, configs, has_int8_tensor=False, scale=1.0,
                                  exclude=lambda m, n, k: False, dtype_size=0, op_name="mm", **kwargs):
            return th.BaseConfigHeuristic.preprocess_mm_configs(
                self, m, n, k, configs, has_int8_tensor=has_int8_tensor, scale=1.0,
                dtype_size=dtype_size, op_name=op_name, **kwargs)

    class TurbineMMConfigs(_Blocks, th.CPUMMTemplateConfigHeuristic):
        """mm and bmm."""

    class TurbineAddmmConfigs(_Blocks, th.CPUAddmmTemplateConfigHeuristic):
        """addmm and baddbmm (the bias joins the epilogue)."""

    for template, op, cls in ((mm_template, None, TurbineMMConfigs), (bmm_template, None, TurbineMMConfigs),
                              (mm_template, "addmm", TurbineAddmmConfigs),
                              (bmm_template, "baddbmm", TurbineAddmmConfigs)):
        registry.register_template_heuristic(template.uid, "cpu", op_name=op)(cls)
    registry._HEURISTIC_CACHE.clear()     # instances built before would be reused

    _installed = True
