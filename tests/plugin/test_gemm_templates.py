"""max-autotune through us: Inductor's Triton GEMM templates take our block configurations
(`plugin/gemm_templates.py`), and the chosen template computes what torch computes."""
from __future__ import annotations

import re

import pytest
import torch

from turbine_triton.plugin import gemm_templates

from .test_inductor import triton_code


def test_install_registers_our_blocks_for_cpu_templates():
    from torch._inductor.kernel.bmm import bmm_template
    from torch._inductor.kernel.mm import mm_template
    from torch._inductor.template_heuristics.registry import get_template_heuristic
    gemm_templates.install()
    gemm_templates.install()           # idempotent
    for template, op in ((mm_template, "mm"), (mm_template, "addmm"), (bmm_template, "bmm"),
                         (bmm_template, "baddbmm")):
        h = get_template_heuristic(template.uid, "cpu", op)
        assert [(c.block_m, c.block_n, c.block_k) for c in h.mm_configs] == list(gemm_templates.BLOCKS), op


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
    clamped = {(min(m, 256), min(n, 128), min(k, 64)) for m, n, k in gemm_templates.BLOCKS}
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


# -- default mode: one Triton template next to ATen for each large GEMM -----------------------

@pytest.fixture
def timed_choices():
    """The GEMM choices Inductor times while compiling: a list of `{(kind, name): ms}`, kind
    "template" for a Triton template instance and "extern" for ATen's kernel."""
    from torch._inductor import select_algorithm
    seen = []

    def kind(choice):
        return "template" if isinstance(choice, select_algorithm.TritonTemplateCaller) else "extern"
    select_algorithm.add_feedback_saver(lambda timings, *rest: seen.append(
        {(kind(c), c.name): t for c, t in timings.items()}))
    yield seen
    select_algorithm.clear_feedback_savers()


def _compile_linear(m, n, k, options=None):
    """An addmm + GELU of the given size through us, Inductor's caches off so the GEMM
    choice is made in this process; returns (result, expected, Inductor's output code)."""
    from torch._inductor import config
    from torch._inductor.utils import run_and_get_code
    torch._dynamo.reset()
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(m, k, generator=g), torch.randn(n, k, generator=g), torch.randn(n, generator=g)
    fn = lambda x, w, b: torch.nn.functional.gelu(torch.nn.functional.linear(x, w, b))
    compiled = torch.compile(fn, backend="turbine_triton", options=options)
    with config.patch(force_disable_caches=True):
        result, codes = run_and_get_code(compiled, x, w, b)
    return result, fn(x, w, b), "\n".join(codes)


def test_default_mode_times_one_template_against_aten_on_a_large_gemm(timed_choices):
    m, n, k = 256, 256, 256                       # exactly MIN_MACS multiply-adds
    assert m * n * k >= gemm_templates.MIN_MACS
    result, expected, code = _compile_linear(m, n, k)
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-4)
    assert len(timed_choices) == 1, timed_choices
    timings = timed_choices[0]
    assert sorted(kind for kind, _ in timings) == ["extern", "template"], timings  # ATen, one block
    assert all(t > 0 for t in timings.values())
    # whichever won is what the compiled code runs: a template computes with tl.dot
    winner_kind, _ = min(timings, key=timings.get)
    assert ("tl.dot" in code) == (winner_kind == "template"), timings


def test_default_mode_leaves_small_gemms_to_aten_untimed(timed_choices):
    result, expected, code = _compile_linear(64, 64, 64)
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-4)
    assert timed_choices == [] and "tl.dot" not in code


@pytest.mark.parametrize("how", ["option", "env"])
def test_gemm_policy_aten_times_nothing(timed_choices, monkeypatch, how):
    options = None
    if how == "option":
        options = {"turbine_triton.gemm": "aten"}
    else:
        monkeypatch.setenv("TURBINE_TRITON_GEMM", "ATEN")
    result, expected, code = _compile_linear(256, 256, 256, options)
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-4)
    assert timed_choices == [] and "tl.dot" not in code


def test_bad_gemm_policy_is_a_clear_error(monkeypatch):
    from turbine_triton.plugin.inductor import gemm_policy
    with pytest.raises(ValueError, match="turbine_triton.gemm.*auto, aten"):
        gemm_policy("fastest")
    monkeypatch.setenv("TURBINE_TRITON_GEMM", "cpp")
    with pytest.raises(ValueError, match="TURBINE_TRITON_GEMM"):
        gemm_policy(None)


def test_default_gemm_search_yields_to_the_users_settings():
    from torch._inductor import config
    from turbine_triton.plugin.inductor import default_gemm_patches
    ours = default_gemm_patches({}, {})
    assert ours == {"max_autotune_gemm": True, "max_autotune_gemm_backends": "ATEN,TRITON"}
    assert default_gemm_patches({"max_autotune": True}, {}) == {}
    assert default_gemm_patches({}, {"max_autotune_gemm_backends": "ATEN"}) == {}
    with config.patch(max_autotune_gemm=True):       # the user's own global search
        assert default_gemm_patches({}, {}) == {}
    with config.patch(max_autotune_gemm_backends="ATEN"):
        assert default_gemm_patches({}, {}) == {}
    assert default_gemm_patches({}, {}) == ours         # the patches above are undone


def test_conv_patches_yield_to_user_settings(monkeypatch):
    from turbine_triton.plugin.inductor import CONV_BACKENDS_ENV, conv_patches
    monkeypatch.delenv(CONV_BACKENDS_ENV, raising=False)
    assert conv_patches({}) == {"max_autotune_conv_backends": "ATEN"}
    assert conv_patches({"max_autotune_conv_backends": "ATEN,TRITON"}) == {}
    monkeypatch.setenv(CONV_BACKENDS_ENV, "TRITON")
    assert conv_patches({}) == {}
