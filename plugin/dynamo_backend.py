"""`torch.compile(model, backend="turbine_iree")`: a whole FX graph as ONE IREE module.

Registered through the `torch_dynamo_backends` entry point.  Each graph dynamo
hands us goes the `turbine_triton.export` path (torch.export of the graph
module, Triton kernels embedded as `stream.executable`s, one compile), and
each call of the compiled graph is one IREE invocation.  A graph is compiled
on its first call for the concrete shapes and integer arguments of that call
(one module per distinct signature, cached on the graph).
"""
from __future__ import annotations

from typing import Sequence

import torch


class _TensorsOnly(torch.nn.Module):
    """Calls `gm` with the tensors passed and the (fixed) non-tensor arguments in between."""

    def __init__(self, gm, template: list):
        super().__init__()
        self.gm = gm
        self.template = template  # None where a tensor goes, else the constant

    def forward(self, *tensors):
        it = iter(tensors)
        args = [next(it) if t is None else t for t in self.template]
        return self.gm(*args)


def turbine_iree(gm: torch.fx.GraphModule, example_inputs: Sequence, target: str = "llvm-cpu", **_):
    """The dynamo backend: returns a callable running the graph through IREE."""
    from .export import export
    compiled = {}

    def key_of(args):
        return tuple((tuple(a.shape), a.dtype) if isinstance(a, torch.Tensor) else ("v", a) for a in args)

    def run(*args):
        key = key_of(args)
        mod = compiled.get(key)
        if mod is None:
            template = [None if isinstance(a, torch.Tensor) else (int(a) if isinstance(a, torch.SymInt) else a)
                        for a in args]
            tensors = tuple(a for a in args if isinstance(a, torch.Tensor))
            mod = export(_TensorsOnly(gm, template), tuple(t.detach() for t in tensors), target=target,
                         strict=False)
            compiled[key] = mod
        out = mod(*[a for a in args if isinstance(a, torch.Tensor)])
        # dynamo graphs return a tuple/list
        return out if isinstance(out, (tuple, list)) else (out,)

    return torch._dynamo.disable(run)

