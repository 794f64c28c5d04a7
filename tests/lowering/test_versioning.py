"""Column-loop bodies with an all-lanes-on version (lowering/ops/versioning.py).

Every kernel runs through our backend and is compared with torch or with Triton's interpreter
on the same inputs, at sizes whose last column block is partial (the general version), whole
(only the fast one), and smaller than one block.  The plan tests read which ops are hoisted.
"""
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.fuzz import interpret
from turbine_triton.lowering.ops import control_flow, versioning
from turbine_triton.lowering.pipeline import lower
from turbine_triton.triton_frontend.capture import capture_jit
from turbine_triton.triton_frontend.parser import parse_ttir
from turbine_triton import demo


@triton.jit
def _row_sum_where(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):
    # Inductor's accumulate shape: a masked load and a tl.where on the accumulator
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        m = cols < n_cols
        v = tl.load(x_ptr + row * n_cols + cols, mask=m, other=0.0)
        acc = tl.where(m, acc + v * v, acc)
    for start in range(0, n_cols, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        m = cols < n_cols
        v = tl.load(x_ptr + row * n_cols + cols, mask=m, other=0.0)
        tl.store(out_ptr + row * n_cols + cols, v / tl.sqrt(tl.sum(acc, axis=0) + 1.0), mask=m)


@triton.jit
def _gather_mask(x_ptr, idx_ptr, out_ptr, n, BLOCK: tl.constexpr):
    # the load's mask depends on loaded data: one version only
    for start in range(0, n, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        i = tl.load(idx_ptr + offs, mask=offs < n, other=0)
        v = tl.load(x_ptr + offs, mask=i > 0, other=-1.0)
        tl.store(out_ptr + offs, v, mask=offs < n)


@pytest.mark.parametrize("cols", [1000, 1024, 100])
def test_row_kernel_matches_the_interpreter(cols):
    x = torch.randn(3, cols)
    ours, ref = torch.full_like(x, float("nan")), torch.full_like(x, float("nan"))
    _row_sum_where[(3,)](x, ours, cols, BLOCK=256)
    interpret(_row_sum_where, (3,), x, ref, cols, BLOCK=256)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cols", [1000, 2048, 700])
def test_layernorm_with_partial_and_whole_blocks(cols):
    x, w, b = torch.randn(4, cols), torch.randn(cols), torch.randn(cols)
    out = torch.full_like(x, float("nan"))
    demo.layernorm_kernel[(4,)](x, w, b, out, cols, cols, 1e-5, BLOCK=512)
    torch.testing.assert_close(out, torch.nn.functional.layer_norm(x, (cols,), w, b, 1e-5),
                               atol=1e-4, rtol=1e-4)


def test_a_data_dependent_mask_keeps_one_version():
    n = 300
    x, idx = torch.randn(n), torch.randint(-1, 2, (n,), dtype=torch.int32)
    out = torch.full_like(x, float("nan"))
    _gather_mask[(1,)](x, idx, out, n, BLOCK=128)
    torch.testing.assert_close(out, torch.where(idx > 0, x, torch.full_like(x, -1.0)))


def _loop_body(fn, *args, **kw):
    f = parse_ttir(capture_jit(fn, *args, **kw).ttir).functions[0]
    loop = next(op for op in f.body.ops if op.name == "scf.for")
    return loop.regions[0].block.ops


def _branches(fn, *args, **kw) -> int:
    return lower(capture_jit(fn, *args, **kw)).mlir.count("scf.if")


def test_the_row_kernel_gets_its_versions(monkeypatch):
    """The all-lanes-on copy adds a branch per column loop; a data-dependent mask adds none."""
    x, idx = torch.randn(2, 100), torch.zeros(100, dtype=torch.int32)
    cases = [(_row_sum_where, (x, x, 100)), (_gather_mask, (x, idx, x, 100))]
    on = [_branches(fn, *args, BLOCK=64) for fn, args in cases]
    monkeypatch.setattr(control_flow, "VERSIONING", False)
    off = [_branches(fn, *args, BLOCK=64) for fn, args in cases]
    assert on[0] >= off[0] + 2 and on[1] == off[1]


def test_the_mask_math_is_hoisted_and_loads_are_not():
    x = torch.randn(2, 100)
    ops = _loop_body(_row_sum_where, x, x, 100, BLOCK=64)
    masks = versioning.access_masks(ops)
    prefix = versioning.index_prefix(ops, masks)
    assert masks and prefix is not None
    names = {op.name for op in prefix}
    assert "arith.cmpi" in names and "tt.load" not in names and "tt.store" not in names


def test_no_prefix_for_a_mask_computed_from_a_load():
    x, idx = torch.randn(10), torch.zeros(10, dtype=torch.int32)
    ops = _loop_body(_gather_mask, x, idx, x, 10, BLOCK=16)
    assert versioning.index_prefix(ops, versioning.access_masks(ops)) is None
