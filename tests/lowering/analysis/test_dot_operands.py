"""Which loads feed a `tt.dot` alone (`lowering/analysis/dot_operands.py`)."""
import torch
import triton
import triton.language as tl

from turbine_triton.lowering.analysis.dot_operands import dot_operand_loads
from turbine_triton.triton_frontend.capture import capture_jit
from turbine_triton.triton_frontend.parser import parse_ttir
from turbine_triton.triton_frontend.ttir import walk_ops


@triton.jit
def shared_b_kernel(a_ptr, b_ptr, c_ptr, s_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    a = tl.load(a_ptr + tl.arange(0, M)[:, None] * K + tl.arange(0, K)[None, :])
    b = tl.load(b_ptr + tl.arange(0, K)[:, None] * N + tl.arange(0, N)[None, :])
    tl.store(c_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :], tl.dot(a, b))
    tl.store(s_ptr, tl.sum(tl.sum(b, 1), 0))     # b has a second user


@triton.jit
def square_kernel(a_ptr, c_ptr, M: tl.constexpr):
    a = tl.load(a_ptr + tl.arange(0, M)[:, None] * M + tl.arange(0, M)[None, :])
    tl.store(c_ptr + tl.arange(0, M)[:, None] * M + tl.arange(0, M)[None, :], tl.dot(a, a))


def _loads(kernel, *args, **kw):
    fn = parse_ttir(capture_jit(kernel, *args, **kw).ttir).function()
    loads = [op for op in walk_ops(fn.body) if op.name == "tt.load"]
    return loads, dot_operand_loads(fn)


def test_a_load_used_only_by_the_dot_is_found_and_one_used_twice_is_not():
    a, b, c, s = torch.randn(16, 32), torch.randn(32, 16), torch.empty(16, 16), torch.empty(1)
    loads, found = _loads(shared_b_kernel, a, b, c, s, M=16, N=16, K=32)
    assert len(loads) == 2
    assert list(found) == [id(loads[0])]
    dot = found[id(loads[0])]
    assert dot.name == "tt.dot" and dot.operands[0] is loads[0].result


def test_one_load_as_both_operands_is_not_staged():
    a, c = torch.randn(16, 16), torch.empty(16, 16)
    loads, found = _loads(square_kernel, a, c, M=16)
    assert len(loads) == 1 and found == {}
