"""max-autotune through us: Inductor's Triton GEMM templates take our block configurations
(`plugin/max_autotune.py`), and the chosen template computes what torch computes."""
from __future__ import annotations

import re

import pytest
import torch

from turbine_triton.plugin import max_autotune

from .test_inductor import triton_code


def test_install_registers_our_blocks_for_cpu_templates():
    from torch._inductor.kernel.bmm import bmm_template
    from torch._inductor.kernel.mm import mm_template
    from torch._inductor.template_heuristics.registry import get_template_heuristic
    max_autotune.install()
    max_autotune.install()           # idempotent
    for template, op in ((mm_template, "mm"), (mm_template, "addmm"), (bmm_template, "bmm"),
                         (bmm_template, "baddbmm")):
        h = get_template_heuristic(template.uid, "cpu", op)
        assert [(c.block_m, c.block_n, c.block_k) for c in h.mm_configs] == list(max_autotune.BLOCKS), op


def test_max_autotune_matmul_uses_our_blocks_and_fuses_its_epilogue():
    from torch._inductor import config
    torch._dynamo.reset()
    a, b, bias = torch.randn(256, 64), torch.randn(64, 128), torch.randn(128)
    fn = lambda x, y, c: torch.relu(torch.addmm(c, x, y))
    # Triton templates only (so a template is chosen), caches off (so it is chosen now);
    # epilogue fusion is not benchmarked (our backend's patch: torch cannot time it on CPU)
    with config.patch(max_autotune_gemm_backends="TRITON", force_disable_caches=True):
        result, code = triton_code(fn, a, b, bias, mode="max-autotune-no-cudagraphs")
    torch.testing.assert_close(result, fn(a, b, bias), rtol=1e-4, atol=1e-4)
    blocks = {(int(m), int(n), int(k)) for m, n, k in re.findall(
        r"BLOCK_M : tl.constexpr = (\d+)\s+BLOCK_N : tl.constexpr = (\d+)\s+BLOCK_K : tl.constexpr = (\d+)",
        code)}
    clamped = {(min(m, 256), min(n, 128), min(k, 64)) for m, n, k in max_autotune.BLOCKS}
    assert blocks and blocks <= clamped, blocks
    assert "tl.dot" in code and "maximum" in code     # the ReLU is in the template's epilogue


@pytest.mark.parametrize("case", ["bmm", "baddbmm", "mm_uneven"])
def test_max_autotune_templates_on_batched_and_uneven_shapes(case):
    """bmm and baddbmm take the same blocks; an mm whose sizes are multiples of no block
    masks its edges (EVEN_K off)."""
    from torch._inductor import config
    torch._dynamo.reset()
    a, b, c = torch.randn(4, 96, 64), torch.randn(4, 64, 80), torch.randn(4, 96, 80)
    fn, args = {"bmm": (lambda x, y: torch.bmm(x, y) * 2, (a, b)),
                "baddbmm": (lambda z, x, y: torch.baddbmm(z, x, y), (c, a, b)),
                "mm_uneven": (lambda x, y: x @ y, (torch.randn(100, 70), torch.randn(70, 130)))}[case]
    with config.patch(max_autotune_gemm_backends="TRITON", force_disable_caches=True):
        result, code = triton_code(fn, *args, mode="max-autotune-no-cudagraphs")
    assert "tl.dot" in code
    torch.testing.assert_close(result, fn(*args), rtol=1e-4, atol=1e-4)
