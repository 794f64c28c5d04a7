"""`coldstart`: cold compiles in a new process with empty caches.

The child checks each kernel's output against torch before it reports a time; nothing here
looks at how long anything took.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from turbine_triton import coldstart


def test_cold_compile_runs_and_checks_every_kernel():
    secs = coldstart.measure(("add", "softmax"), read_files_first=False)
    # keys in order, one per kernel the child compiled, ran and compared with torch
    assert list(secs) == ["add", "softmax"]
    assert all(v > 0 for v in secs.values())


def test_a_failing_child_raises_with_its_error(monkeypatch):
    monkeypatch.setattr(coldstart, "_CHILD", "raise SystemExit('kernel output mismatched torch')")
    with pytest.raises(coldstart.ColdCompileError, match="mismatched torch"):
        coldstart.measure(("add",), read_files_first=False)


def test_unknown_kernel_is_refused():
    with pytest.raises(ValueError, match="unknown kernels"):
        coldstart.measure(("conv",))


def test_a_kernel_without_dot_does_not_import_linalg():
    # the linalg bindings cost ~0.2 s of a first compile; only `tl.dot` needs them
    code = ("import sys, torch\n"
            "from turbine_triton.triton_frontend.capture import capture_jit\n"
            "from turbine_triton.lowering.pipeline import lower\n"
            "from turbine_triton import demo\n"
            "a = torch.randn(64)\n"
            "low = lower(capture_jit(demo.add_kernel, a, a, a, 64, BLOCK=64))\n"
            "assert 'flow.dispatch' in low.mlir\n"
            "print('linalg' if 'iree.compiler.dialects.linalg' in sys.modules else 'no linalg')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "no linalg"
