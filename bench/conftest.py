"""Fixtures for the benchmarks; run with `python -m pytest bench --benchmark-enable`."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch


def _load_kernels():
    # --import-mode=importlib leaves bench/ off sys.path, so load it by file.
    path = Path(__file__).with_name("kernels.py")
    spec = importlib.util.spec_from_file_location("turbine_triton_bench_kernels", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def kernels():
    """The `bench/kernels.py` module."""
    return _load_kernels()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
