"""Inductor's Triton GEMM templates for this backend: which blocks, and when they are offered.

Inductor can write a matmul as a Triton template instance per block configuration and
benchmark those against ATen's kernel, keeping the fastest per shape (its "max-autotune"
GEMM search).  Its stock CPU list halves every GPU block and drops any with
BLOCK_M * BLOCK_N > 8192, which suits a compiler that keeps one program's tiles in L1, not
IREE's: a tile here is split into register-sized pieces (`lowering/ops/dot.py`), so larger
blocks amortise the staging of A and B.  Measured on Zen 5 through Inductor's template
(addmm, `w.t()`): of eight shapes from 16x256 to 128x128 blocks, 128x128x32, 128x64x32 and
64x64x32 were the three fastest at every transformer and MLP shape tried (1.5-3x ATen's
sgemm there); the stock list's best was 1.5x slower than ATen's.

Two searches:
- `mode="max-autotune"` (`config.max_autotune`) offers all of `BLOCKS` for every GEMM.
- `max_autotune_gemm` alone, which our backend turns on in default mode
  (`plugin/inductor.py`), offers `BLOCKS[0]` only, and only for a GEMM of at least
  `MIN_MACS` multiply-adds: one template compile (about 1.5 s cold) plus one timing per
  shape, paid once per shape since Inductor caches the choice.  Smaller GEMMs take ATen's
  kernel as in Inductor's C++ backend; no template could repay its compile there.

ATen stays a candidate either way, so a machine whose BLAS is faster keeps it.  `install()`
registers the heuristics for device "cpu", which only a Triton CPU backend (us) compiles.
"""
from __future__ import annotations

import math

# (BLOCK_M, BLOCK_N, BLOCK_K); Inductor clamps each to the problem's size.  The first is
# the one default mode offers: as fast as 128x128x32 on the MLP and transformer GEMMs
# measured, and it compiles in 1.5 s against 2.4 s.
BLOCKS = ((128, 64, 32), (128, 128, 32), (64, 64, 32))
# Default mode's floor, batch * M * N * K: about 0.1 ms of sgemm at 160 GFLOP/s, so a 30%
# faster kernel saves 30 us a call and a 1.5 s compile pays back within ~50k calls.
MIN_MACS = 1 << 24

_installed = False


def exhaustive() -> bool:
    """True when Inductor runs the full max-autotune search (all of `BLOCKS`, any size)."""
    from torch._inductor import config
    return bool(config.max_autotune) or config.max_autotune_gemm_search_space == "EXHAUSTIVE"


def gemm_macs(kernel_inputs) -> int:
    """Multiply-adds of a (batched) GEMM from Inductor's `MMKernelInputs`, at the size hints."""
    m, n, k = kernel_inputs.mnk_hinted()
    shape = kernel_inputs.shapes_hinted()[kernel_inputs._mat1_idx]
    return math.prod(shape[:-2]) * m * n * k


def install() -> None:
    """Register our configurations for Inductor's mm, addmm, bmm and baddbmm templates on
    "cpu" (idempotent).  Imports Inductor, so call it when compiling, not at import."""
    global _installed
    if _installed:
        return
    from functools import partial

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

        def should_run(self, inputs) -> bool:
            return super().should_run(inputs) and (exhaustive() or gemm_macs(inputs) >= MIN_MACS)

        def get_mm_configs(self):
            offered = self.mm_configs if exhaustive() else self.mm_configs[:1]
            return partial(self.preprocess_mm_configs, configs=offered)

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
