"""The `turbine-triton` CLI: demo output, and `compile` producing a runnable module."""
from __future__ import annotations

import json
import subprocess
import sys

import torch
import triton
import triton.language as tl

from turbine_triton.cli import main


@triton.jit
def _axpy(x_ptr, y_ptr, out_ptr, n, alpha, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    y = tl.load(y_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, alpha * x + y, mask=mask)


def test_demo_checks_every_kernel(capsys, monkeypatch, tmp_path):
    for var in ("TURBINE_TRITON_DUMP_DIR", "TRITON_ALWAYS_COMPILE"):
        monkeypatch.delenv(var, raising=False)  # restored after main() sets them
    dump = tmp_path / "dump"
    rc = main(["--dump-ir", str(dump), "demo", "--reps", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    for name in ("add", "softmax", "layernorm", "matmul"):
        assert any(line.startswith(name) for line in out.splitlines()), out
    assert "MISMATCH" not in out
    # --dump-ir reaches the runtime: each compiled kernel leaves its stages there.
    for kernel in ("add_kernel", "softmax_kernel", "layernorm_kernel", "matmul_kernel"):
        for ext in ("ttir", "mlir", "vmfb"):
            assert list(dump.glob(f"{kernel}.*.{ext}")), (kernel, ext, sorted(dump.iterdir()))


def test_compile_writes_a_runnable_module(tmp_path):
    from turbine_triton.lowering.abi import KernelAbi
    from turbine_triton.runtime.launch import Launcher
    from turbine_triton.triton_frontend.capture import capture_jit

    n, block = 1000, 128
    x, y, out = torch.randn(n), torch.randn(n), torch.zeros(n)
    ttir = tmp_path / "axpy.ttir"
    ttir.write_text(capture_jit(_axpy, x, y, out, n, 2.5, BLOCK=block).ttir)

    # A fresh interpreter, as the console script runs: import order matters there.
    proc = subprocess.run([sys.executable, "-m", "turbine_triton.cli", "compile", str(ttir),
                           "-o", str(tmp_path / "out"), "--name", "axpy"],
                          capture_output=True, text=True)
    printed = proc.stdout
    assert proc.returncode == 0, proc.stderr
    d = tmp_path / "out"
    assert (d / "axpy.mlir").read_text().strip()
    abi = KernelAbi.from_json((d / "axpy.abi.json").read_text())
    assert [p.name for p in abi.params] == ["x_ptr", "y_ptr", "out_ptr", "n", "alpha"]
    assert json.loads((d / "axpy.abi.json").read_text())["name"] == abi.name

    # The printed entry point lists views, then offsets, then scalars, then the grid.
    order = ["x_ptr: !hal.buffer_view", "out_ptr: !hal.buffer_view", "x_ptr_offset: i64",
             "out_ptr_offset: i64", "n: i64", "alpha: i64", "gx: i64", "gz: i64"]
    pos = [printed.index(s) for s in order]
    assert pos == sorted(pos), printed

    launch = Launcher(abi, vmfb=(d / "axpy.vmfb").read_bytes())
    launch((triton.cdiv(n, block),), x, y, out, n, 2.5)
    torch.testing.assert_close(out, 2.5 * x + y)


def test_demo_fails_on_mismatch(capsys, monkeypatch):
    import turbine_triton.cli as cli
    x = torch.ones(8)
    monkeypatch.setattr(cli, "_demo_cases", lambda: [("wrong", lambda: x + 1, lambda: x, {})])
    assert main(["demo", "--reps", "1"]) == 1
    assert "MISMATCH" in capsys.readouterr().out
