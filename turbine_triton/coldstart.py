"""Cold compile times: typical kernels compiled with empty caches in a new process.

`measure()` starts a fresh interpreter whose Triton and turbine-triton caches are empty
temporary folders, imports torch, then times the first call of each demo kernel (vector
add, row softmax, layer norm, `tl.dot` matmul): capture, lowering, `iree-compile`, loading
and the launch itself.  The first kernel's time also holds the one-time imports a user's
first kernel pays (`iree.runtime`, the plugin, Triton's own source hash).  Each result is
checked against torch in that process, so a fast wrong compile cannot pass as a cold one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Dict

KERNELS = ("add", "softmax", "layernorm", "matmul")

# Run in the child: torch is imported before the clock starts (a user's process has it).
_CHILD = r"""
import json, sys, time
import torch
names = sys.argv[1].split(",")
torch.manual_seed(0)
x = torch.randn(512, 1000); w = torch.randn(1000); b = torch.randn(1000)
a = torch.randn(100_000)
m1, m2 = torch.randn(256, 256), torch.randn(256, 256)
t0 = time.perf_counter()
from turbine_triton import demo
import turbine_triton.plugin  # noqa: F401  (registers the backend)
out = {}
cases = {
    "add": (lambda o: demo.add(a, a, o), torch.empty_like(a), lambda: a + a),
    "softmax": (lambda o: demo.softmax(x, o), torch.empty_like(x), lambda: torch.softmax(x, -1)),
    "layernorm": (lambda o: demo.layernorm(x, w, b, 1e-5, o), torch.empty_like(x),
                  lambda: torch.nn.functional.layer_norm(x, (1000,), w, b, 1e-5)),
    "matmul": (lambda o: demo.matmul(m1, m2, o), torch.empty(256, 256), lambda: m1 @ m2),
}
for i, name in enumerate(names):
    run, dst, ref = cases[name]
    t = time.perf_counter() if i else t0
    run(dst)
    out[name] = time.perf_counter() - t
    torch.testing.assert_close(dst, ref(), rtol=1e-4, atol=1e-4)
print("COLD " + json.dumps(out))
"""


class ColdCompileError(RuntimeError):
    """The cold-compile child failed (its stderr's tail is in the message)."""


def measure(kernels=KERNELS, timeout_s: float = 300.0) -> Dict[str, float]:
    """Seconds for the first call of each of `kernels`, in order, in a new process with empty
    caches; the first includes the one-time imports."""
    unknown = sorted(set(kernels) - set(KERNELS))
    if unknown:
        raise ValueError(f"unknown kernels {unknown}; there are {list(KERNELS)}")
    with tempfile.TemporaryDirectory(prefix="turbine_triton_cold_") as tmp:
        env = dict(os.environ)
        env["TRITON_CACHE_DIR"] = os.path.join(tmp, "triton")
        env["TURBINE_TRITON_CACHE_DIR"] = os.path.join(tmp, "turbine")
        env.pop("TURBINE_TRITON_DUMP_DIR", None)
        p = subprocess.run([sys.executable, "-c", _CHILD, ",".join(kernels)], env=env,
                           capture_output=True, text=True, timeout=timeout_s)
    lines = [l for l in p.stdout.splitlines() if l.startswith("COLD ")]
    if p.returncode != 0 or not lines:
        tail = "\n".join(p.stderr.strip().splitlines()[-15:])
        raise ColdCompileError(f"cold-compile child exited with {p.returncode}:\n{tail}")
    return json.loads(lines[-1][5:])
