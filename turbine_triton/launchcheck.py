"""The report's launch targets: a tiny kernel's end-to-end launch time from Python, and proof
that warm launches do no IR work.

`measure()` launches a one-program kernel (`kernel[(1,)](x, y, 64, BLOCK=64)`, exactly what a
user writes) in batches, interleaved with eager torch's smallest op (`torch.add(x, 1, out=y)`
on the same 64 floats) as the same-run peer.  While it times the warm launches it counts
every Triton compile (a retrace), TTIR parse, lowering, `iree-compile` and module load
(`counting_ir_work`); the first launch is counted too, which shows the counters see the work
when there is some.
"""
from __future__ import annotations

import contextlib
import importlib
import statistics
import time
from typing import Dict, Iterator

import torch
import triton
import triton.language as tl

# (module, attribute, what it does): every step a cold launch may take, and a warm one must not
IR_STEPS = (
    ("triton.runtime.jit", "JITFunction._do_compile", "Triton compiles"),
    ("turbine_triton.plugin.stage", "parse_ttir", "parses"),
    ("turbine_triton.lowering.pipeline", "lower", "lowerings"),
    ("turbine_triton.runtime.compile", "compile_mlir", "compiles"),
    ("turbine_triton.plugin.stage", "make_vmfb", "vmfb builds"),
    ("turbine_triton.runtime.launch", "LoadedModule.__init__", "module loads"),
)


@triton.jit
def tiny_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=m) + 1.0, mask=m)


@contextlib.contextmanager
def counting_ir_work(steps=IR_STEPS) -> Iterator[Dict[str, int]]:
    """Count calls of each of `steps` ((module, attribute, label) triples, `IR_STEPS` by
    default) inside the block (the dict fills as they happen); the originals are restored on
    exit."""
    counts = {label: 0 for *_, label in steps}
    restore = []
    for module, attr, label in steps:
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        orig = getattr(owner, name)

        def wrapper(*a, _orig=orig, _label=label, **k):
            counts[_label] += 1
            return _orig(*a, **k)
        setattr(owner, name, wrapper)
        restore.append((owner, name, orig))
    try:
        yield counts
    finally:
        for owner, name, orig in reversed(restore):
            setattr(owner, name, orig)


def _per_call_us(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def measure(batches: int = 30, calls: int = 200) -> dict:
    """Median microseconds per call over `batches` batches of `calls` launches, ours and
    `torch.add(out=)` alternating batch by batch, with the IR work counted cold and warm.
    Raises AssertionError if the kernel's result is wrong."""
    import turbine_triton.plugin  # noqa: F401  (the backend Triton launches through)
    x, y = torch.randn(64), torch.empty(64)

    def ours():
        tiny_kernel[(1,)](x, y, 64, BLOCK=64)

    def peer():
        torch.add(x, 1.0, out=y)

    with counting_ir_work() as cold:
        ours()
    torch.testing.assert_close(y, x + 1.0)
    for _ in range(calls):      # settle: the launch chooser's probes, Python's caches
        ours()
        peer()
    times = {"ours": [], "torch_add": []}
    with counting_ir_work() as warm:
        for _ in range(batches):
            times["ours"].append(_per_call_us(ours, calls))
            times["torch_add"].append(_per_call_us(peer, calls))
    y.zero_()
    ours()
    torch.testing.assert_close(y, x + 1.0)
    return {"kernel": "kernel[(1,)](x, y, 64, BLOCK=64), 64 fp32", "batches": batches, "calls": calls,
            "ours_us": statistics.median(times["ours"]),
            "torch_add_us": statistics.median(times["torch_add"]),
            "times_us": times, "cold_work": cold, "warm_work": warm,
            "warm_launches": batches * calls}


def describe(r: dict) -> str:
    """Two lines for the report's table."""
    work = ", ".join(f"{v} {k}" for k, v in r["warm_work"].items())
    cold = ", ".join(f"{v} {k}" for k, v in r["cold_work"].items() if v) or "none (already warm)"
    return (f"tiny launch {r['kernel']}: {r['ours_us']:.2f} us end to end from Python (median of "
            f"{r['batches']} batches of {r['calls']}); torch.add(out=) on the same 64 fp32 "
            f"{r['torch_add_us']:.2f} us\n"
            f"warm path over {r['warm_launches']} launches: {work}  (first launch: {cold})")
