"""Cold compile times: typical kernels compiled with empty caches in a new process.

`measure()` starts a fresh interpreter whose Triton and turbine-triton caches are empty
temporary folders, imports torch, then times the first call of each demo kernel (vector
add, row softmax, layer norm, `tl.dot` matmul): capture, lowering, `iree-compile`, loading
and the launch itself.  The first kernel's time also holds the one-time imports a user's
first kernel pays (`iree.runtime`, the plugin, Triton's own source hash).  Each result is
checked against torch in that process, so a fast wrong compile cannot pass as a cold one.

The libraries' files are read once beforehand (a throwaway child compiles one kernel): with
the OS page cache cold (after a `pip install` into another environment, or the guest paging
out files it has not touched for a while), the first kernel took 18.4 s instead of 2.1 s here,
and that is the disk, not the compiler.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Dict

KERNELS = ("add", "softmax", "layernorm", "matmul")


def demo_cases() -> dict:
    """name -> (demo kernel attribute, run(out), new output, torch reference) for each of
    `KERNELS`, on seeded inputs.  `run` looks the kernel up in `demo` when called, so a caller
    may swap in a fresh `JITFunction` (empty in-memory caches)."""
    import torch
    from . import demo
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(512, 1000, generator=g), torch.randn(1000, generator=g),
               torch.randn(1000, generator=g))
    a = torch.randn(100_000, generator=g)
    m1, m2 = torch.randn(256, 256, generator=g), torch.randn(256, 256, generator=g)
    return {
        "add": ("add_kernel", lambda o: demo.add(a, a, o), lambda: torch.empty_like(a), lambda: a + a),
        "softmax": ("softmax_kernel", lambda o: demo.softmax(x, o), lambda: torch.empty_like(x),
                    lambda: torch.softmax(x, -1)),
        "layernorm": ("layernorm_kernel", lambda o: demo.layernorm(x, w, b, 1e-5, o),
                      lambda: torch.empty_like(x),
                      lambda: torch.nn.functional.layer_norm(x, (1000,), w, b, 1e-5)),
        "matmul": ("matmul_kernel", lambda o: demo.matmul(m1, m2, o), lambda: torch.empty(256, 256),
                   lambda: m1 @ m2),
    }


# Run in the child: torch is imported before the clock starts (a user's process has it).
_CHILD = r"""
import json, sys, time
import torch
names = sys.argv[1].split(",")
t0 = time.perf_counter()
import turbine_triton.plugin  # noqa: F401  (registers the backend)
from turbine_triton.coldstart import demo_cases
cases = demo_cases()
out = {}
for i, name in enumerate(names):
    _, run, make_out, reference = cases[name]
    dst = make_out()
    t = time.perf_counter() if i else t0
    run(dst)
    out[name] = time.perf_counter() - t
    torch.testing.assert_close(dst, reference(), rtol=1e-4, atol=1e-4)
print("COLD " + json.dumps(out))
"""


class ColdCompileError(RuntimeError):
    """The cold-compile child failed (its stderr's tail is in the message)."""


def measure(kernels=KERNELS, timeout_s: float = 300.0, read_files_first: bool = True) -> Dict[str, float]:
    """Seconds for the first call of each of `kernels`, in order, in a new process with empty
    caches; the first includes the one-time imports.  `read_files_first`: run one throwaway
    cold compile first, so the libraries are in the OS page cache."""
    unknown = sorted(set(kernels) - set(KERNELS))
    if unknown:
        raise ValueError(f"unknown kernels {unknown}; there are {list(KERNELS)}")
    if read_files_first:
        _run_child(kernels[:1], timeout_s)
    return _run_child(kernels, timeout_s)


def _run_child(kernels, timeout_s: float) -> Dict[str, float]:
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
