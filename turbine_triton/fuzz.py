"""Differential fuzzing: random Triton kernels through our backend and Triton's interpreter.

Each kernel from `fuzz_gen.generate(seed)` is written to a `.py` file (so
`@triton.jit` can read its source) and imported; `make_args()` builds the same
launch twice, one copy runs through `kernel[grid](...)` (our `cpu` backend),
the other through `triton.runtime.interpreter.InterpretedFunction`, and every
buffer is compared with dtype-aware tolerances.  An `UnsupportedOp` counts as
"unsupported", not as a mismatch.

    python -m turbine_triton.fuzz --count 50 --seed 1 [--keep DIR]
    python -m turbine_triton.fuzz --profile long --jobs 2 --keep DIR   # 10,000 kernels, resumable
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .fuzz_gen import generate


@dataclass
class Outcome:
    """What happened to one kernel: ok, mismatch, unsupported or error (with a detail)."""
    status: str
    path: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Summary:
    """Counts over a fuzz run, plus the outcomes that were not ok."""
    count: int = 0
    mismatches: int = 0
    errors: int = 0
    unsupported: int = 0
    failures: List[Outcome] = field(default_factory=list)

    def line(self) -> str:
        return (f"fuzz: {self.count} kernels, {self.mismatches} mismatches, {self.errors} errors"
                + (f" ({self.unsupported} unsupported)" if self.unsupported else ""))


def kernel_seed(seed: int, index: int) -> int:
    """The generator seed of kernel `index` of a run with `seed`."""
    return seed * 1_000_003 + index


def _import(path: str):
    name = "turbine_fuzz_" + os.path.basename(path)[:-3]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def compare(ours, ref, rtol: float, atol: float) -> Optional[str]:
    """None when `ours` matches `ref`; else a short description of the worst element."""
    import torch
    if ours.shape != ref.shape or ours.dtype.is_floating_point != ref.dtype.is_floating_point:
        return f"dtype/shape {ours.dtype}{tuple(ours.shape)} vs {ref.dtype}{tuple(ref.shape)}"
    if not ours.dtype.is_floating_point:
        bad = ours != ref
    else:
        a, b = ours.double(), ref.double()
        finite = b[torch.isfinite(b)]
        scale = max(1.0, float(finite.abs().max())) if finite.numel() else 1.0
        bad = ~torch.isclose(a, b, rtol=rtol, atol=atol * scale, equal_nan=True)
    if not bool(bad.any()):
        return None
    i = int(bad.flatten().nonzero()[0])
    return (f"{int(bad.sum())}/{bad.numel()} elements differ; first at flat index {i}: "
            f"ours {ours.flatten()[i].item()!r} vs interpreter {ref.flatten()[i].item()!r}")


@contextlib.contextmanager
def _nested_jit_interpreted():
    """Let the interpreter call `@triton.jit` helpers (tl.sum, tl.max, ...) made outside TRITON_INTERPRET=1."""
    from triton.runtime.interpreter import InterpretedFunction, _patch_lang
    from triton.runtime.jit import JITFunction
    original = JITFunction.__call__

    def call(self, *args, **kwargs):
        # InterpretedFunction.__call__ would patch triton.language for good; undo it after each call
        scope = _patch_lang(self.fn)
        try:
            return InterpretedFunction(self.fn).rewrite()(*args, **kwargs)
        finally:
            scope.restore()

    JITFunction.__call__ = call
    try:
        yield
    finally:
        JITFunction.__call__ = original


def interpret(jit_fn, grid, *args, **kwargs):
    """Run `jit_fn[grid](*args, **kwargs)` under Triton's interpreter (in place, on the given tensors)."""
    from triton.runtime.interpreter import InterpretedFunction
    with _nested_jit_interpreted():
        InterpretedFunction(jit_fn.fn)[grid](*args, **kwargs)


def reference_source(text: str) -> str:
    """The copy of a kernel module the interpreter runs: Triton's interpreter stores bf16 as
    uint16 and does integer arithmetic on it, so bf16 is computed in fp32 there instead."""
    if "bfloat16" not in text:
        return text
    return text.replace("tl.bfloat16", "tl.float32").replace("REF = False", "REF = True", 1)


def run_file(path: str) -> Outcome:
    """Run one generated kernel file through both paths and compare."""
    from .lowering.errors import UnsupportedOp
    try:
        mod = _import(path)
        grid, args, kwargs, bases = mod.make_args()
        with open(path) as f:
            ref_text = reference_source(f.read())
        ref_mod = mod
        if ref_text != open(path).read():
            ref_path = path[:-3] + "_ref.py"
            with open(ref_path, "w") as f:
                f.write(ref_text)
            ref_mod = _import(ref_path)
        grid2, args2, kwargs2, bases2 = ref_mod.make_args()
    except Exception:
        return Outcome("error", path, "generator: " + traceback.format_exc(limit=3))
    try:
        mod.kernel[grid](*args, **kwargs)
    except UnsupportedOp as e:
        return Outcome("unsupported", path, str(e).splitlines()[0])
    except Exception as e:
        return Outcome("error", path, f"backend: {type(e).__name__}: {e}")
    try:
        interpret(ref_mod.kernel, grid2, *args2, **kwargs2)
    except Exception as e:
        return Outcome("error", path, f"interpreter (generator bug?): {type(e).__name__}: {e}")
    for k, (a, b) in enumerate(zip(bases, bases2)):
        msg = compare(a, b, mod.RTOL, mod.ATOL)
        if msg:
            return Outcome("mismatch", path, f"buffer {k}: {msg}")
    return Outcome("ok", path)


def _record(s: Summary, o: Outcome) -> None:
    s.count += 1
    if o.status == "mismatch":
        s.mismatches += 1
    elif o.status == "error":
        s.errors += 1
    elif o.status == "unsupported":
        s.unsupported += 1
    if o.status != "ok":
        s.failures.append(o)


def _done(log_path: Optional[str]) -> dict:
    """Outcomes already in a run's log, by kernel index (for resuming a long run)."""
    done = {}
    if log_path and os.path.exists(log_path):
        with open(log_path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a killed run
                done[rec["index"]] = Outcome(rec["status"], rec["path"], rec.get("detail", ""),
                                             rec.get("seconds", 0.0))
    return done


def fuzz(count: int, seed: int, out_dir: Optional[str] = None, log=None, verbose: bool = False,
         shard: Tuple[int, int] = (0, 1), log_path: Optional[str] = None) -> Summary:
    """Generate and run `count` kernels; keeps every source under `out_dir` (a temp dir if None).

    `shard=(w, J)` runs only kernels whose index is w modulo J.  With `log_path`, each outcome is
    appended there as a JSON line, and kernels already logged are counted, not run again."""
    log = log or (lambda msg: print(msg, flush=True))
    out_dir = out_dir or tempfile.mkdtemp(prefix="turbine_fuzz_")
    os.makedirs(out_dir, exist_ok=True)
    done = _done(log_path)
    s = Summary()
    w, jobs = shard
    for i in range(w, count, jobs):
        if i in done:
            _record(s, done[i])
            continue
        ks = kernel_seed(seed, i)
        path = os.path.join(out_dir, f"k{ks}.py")
        with open(path, "w") as f:
            f.write(generate(ks))
        t0 = time.perf_counter()
        o = run_file(path)
        o.seconds = time.perf_counter() - t0
        _record(s, o)
        if log_path:
            with open(log_path, "a") as f:
                f.write(json.dumps({"index": i, "seed": ks, "status": o.status, "path": path,
                                    "detail": o.detail[:2000], "seconds": round(o.seconds, 3)}) + "\n")
        if o.status != "ok":
            log(f"[{i + 1}/{count}] {o.status.upper()}: {path}\n    {o.detail.strip()}")
        elif verbose:
            log(f"[{i + 1}/{count}] ok {o.seconds:.1f}s {path}")
        elif s.count % 10 == 0:
            log(f"[{i + 1}/{count}] {s.count} run here ({s.mismatches} mismatches, {s.errors} errors, "
                f"{s.unsupported} unsupported)")
    log(s.line())
    return s


def fuzz_parallel(count: int, seed: int, jobs: int, out_dir: str, verbose: bool = False) -> Summary:
    """`fuzz` split over `jobs` worker processes (kernel i goes to worker i % jobs); each worker
    logs to `out_dir/shard-W.jsonl`, so an interrupted run resumes where it stopped."""
    import subprocess
    os.makedirs(out_dir, exist_ok=True)
    procs = []
    for w in range(jobs):
        cmd = [sys.executable, "-m", "turbine_triton.fuzz", "--count", str(count), "--seed", str(seed),
               "--keep", out_dir, "--shard", f"{w}/{jobs}"] + (["-v"] if verbose else [])
        procs.append(subprocess.Popen(cmd))
    for p in procs:
        p.wait()
    s = Summary()
    for w in range(jobs):
        for o in _done(os.path.join(out_dir, f"shard-{w}.jsonl")).values():
            _record(s, o)
    print(f"all shards: {s.line()}", flush=True)
    for o in s.failures:
        print(f"  {o.status}: {o.path}\n    {o.detail.strip()[:500]}")
    return s


PROFILES = {"quick": 200, "long": 10_000}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m turbine_triton.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--profile", choices=sorted(PROFILES), help="quick (200 kernels) or long (10,000)")
    p.add_argument("--count", type=int, help="kernels to generate and run (overrides --profile; default 100)")
    p.add_argument("--seed", type=int, default=0, help="run seed; kernel i uses seed*1000003+i")
    p.add_argument("--keep", metavar="DIR", help="write kernel sources (and shard logs) here")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (needs --keep to resume)")
    p.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="one line per kernel, with its time")
    a = p.parse_args(argv)
    count = a.count if a.count is not None else PROFILES.get(a.profile, 100)
    if a.jobs > 1:
        out = a.keep or tempfile.mkdtemp(prefix="turbine_fuzz_")
        s = fuzz_parallel(count, a.seed, a.jobs, out, a.verbose)
    else:
        w, j = (int(x) for x in a.shard.split("/"))
        log_path = os.path.join(a.keep, f"shard-{w}.jsonl") if a.keep else None
        s = fuzz(count, a.seed, a.keep, verbose=a.verbose, shard=(w, j), log_path=log_path)
    return 1 if (s.mismatches or s.errors) else 0


if __name__ == "__main__":
    sys.exit(main())
