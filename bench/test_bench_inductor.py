"""torch.compile through us (`backend="turbine_triton"`) vs Inductor's C++ backend vs eager.

Each case compiles once, checks the compiled result against eager torch,
then times steady-state calls.  Run: `python -m pytest bench --benchmark-enable`.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

IMPLS = ["turbine_triton", "inductor_cpp", "eager"]


class NormHeavy(nn.Module):
    """Softmax and layernorm dominate: attention-score style rows."""

    def __init__(self, d=256):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.ln2 = nn.LayerNorm(d)

    def forward(self, x):
        y = torch.softmax(self.ln1(x) * 0.125, dim=-1)
        return self.ln2(y + x) * torch.sigmoid(x)


def _models():
    return {
        "mlp": (lambda: nn.Sequential(nn.Linear(256, 512), nn.GELU(), nn.Linear(512, 256)),
                lambda: torch.randn(64, 256)),
        # train() with dropout 0: eval() would take the fused fast path and compile nothing
        # train() with dropout 0: eval() takes the fused fast path and compiles nothing
        "transformer": (lambda: nn.TransformerEncoderLayer(128, 4, 256, dropout=0.0, batch_first=True).train(),
                        lambda: torch.randn(4, 64, 128)),
        "softmax_layernorm": (lambda: NormHeavy(256), lambda: torch.randn(256, 256)),
    }


def _build(impl, model):
    torch._dynamo.reset()
    if impl == "turbine_triton":
        return torch.compile(model, backend="turbine_triton")
    if impl == "inductor_cpp":
        return torch.compile(model)
    return model


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", ["mlp", "transformer", "softmax_layernorm"])
def test_bench_torch_compile(benchmark, name, impl):
    make_model, make_input = _models()[name]
    torch.manual_seed(0)
    model, x = make_model(), make_input()
    benchmark.group = f"torch.compile-{name}"
    fn = _build(impl, model)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(fn(x), expected, rtol=1e-4, atol=1e-4)
        benchmark(fn, x)
    torch._dynamo.reset()
