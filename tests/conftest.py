"""Shared test helpers: Triton's interpreter as a differential oracle."""
from __future__ import annotations

import pytest
import torch


def interpret(jit_fn, grid, *args, **kwargs):
    """Run `jit_fn[grid](*args, **kwargs)` under Triton's interpreter on clones.

    Returns the cloned arguments after the run, so tests compare them with
    what our backend wrote into the originals.
    """
    from triton.runtime.interpreter import InterpretedFunction
    cloned = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    InterpretedFunction(jit_fn.fn)[grid](*cloned, **kwargs)
    return cloned


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
