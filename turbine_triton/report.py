"""`turbine-triton bench --report`: every workload through us and its peers in one process, one run.

For each workload of `bench_workloads` it builds each implementation, checks its output
against torch, times it (median of repeats after warm-up; the first call, which compiles,
is reported on its own), and quotes our throughput against each peer measured in the
same run and against the roofline (`roofline.measure_peaks`, also measured in this run).
It prints a table, writes all raw times to JSON, and draws the roofline PNG.
"""
from __future__ import annotations

import dataclasses
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import torch

from . import bench_workloads as bw
from . import coldstart, launchcheck, roofline
from .runtime.launch import LaunchChooser

SCHEMA = 1
PEERS = ("eager", "inductor_cpp")
ALL_IMPLS = ("ours",) + PEERS + ("interpreter",)


@dataclass
class Timing:
    """How long to time each implementation: warm-up calls, then repeats until both
    `min_reps` and either `max_reps` or `budget_s` seconds are reached.  `settle_s`: an idle
    pause before timing, so the previous implementation's OpenMP threads (which spin after
    each parallel op) have gone to sleep instead of sharing the 2 cores with this one."""
    warmup: int
    min_reps: int
    max_reps: int
    budget_s: float
    settle_s: float = 0.0
    rounds: int = 1


# Warm-up calls of the first round: as many as our adaptive launch spends choosing between
# IREE's workers and the calling thread (`runtime.launch.LaunchChooser`: untimed calls, then
# probes each way), so the timed calls are the steady state a loop of calls runs in, as they
# are after Inductor's autotuning.  Every implementation gets the same warm-up.
SETTLE_CALLS = LaunchChooser.WARMUP + 2 * LaunchChooser.PROBES

# Per size: (every implementation, ours at the interpreter's shape, the interpreter: no
# compile to warm up, and very slow).
TIMING = {"full": (Timing(SETTLE_CALLS, 5, 30, 2.0, 0.3, 5), Timing(SETTLE_CALLS, 5, 20, 0.5, 0.3),
                   Timing(0, 3, 5, 2.0)),
          "quick": (Timing(SETTLE_CALLS, 3, 10, 1.0, 0.3, 3), Timing(SETTLE_CALLS, 3, 10, 0.3, 0.3),
                    Timing(0, 2, 3, 1.0)),
          "tiny": (Timing(1, 1, 2, 0.0), Timing(1, 1, 1, 0.0), Timing(0, 1, 1, 0.0))}


# launchcheck.measure's (batches, calls per batch) at each preset
LAUNCH_BATCHES = {"full": (30, 200), "quick": (15, 200), "tiny": (3, 20)}


# The speed issue's targets, judged on the rows of a full-size run: (what, workload name, shape
# prefix or None for any, peer, least ratio).  Launch and compile targets follow `targets`.
RATIO_TARGETS = (
    ("add 16M fp32 / torch.add(out=)", "add", "16M", "eager", 0.9),
    ("softmax 4096x1024 / Inductor C++", "softmax", "4096x1024", "inductor_cpp", 1.2),
    ("layernorm 4096x1024 / Inductor C++", "layernorm", "4096x1024", "inductor_cpp", 1.2),
    ("tl.dot 1024^3 fp32 / torch.mm", "matmul", "1024^3 fp32", "eager", 0.6),
    ("MLP / Inductor C++", "mlp", None, "inductor_cpp", 1.0),
    ("transformer / Inductor C++", "transformer", None, "inductor_cpp", 1.0),
    ("MLP, both max-autotune", "mlp" + bw.AUTOTUNED_SUFFIX, None, "inductor_cpp", 1.0),
    ("transformer, both max-autotune", "transformer" + bw.AUTOTUNED_SUFFIX, None, "inductor_cpp", 1.0),
    ("MLP training step / Inductor C++", "mlp" + bw.TRAINED_SUFFIX, None, "inductor_cpp", 1.0),
    ("transformer training step / Inductor C++", "transformer" + bw.TRAINED_SUFFIX, None, "inductor_cpp", 1.0),
)
LAUNCH_MAX_US = 10.0
COLD_COMPILE_MAX_S = 2.0


def targets(report: dict) -> List[dict]:
    """Each target this report has a measurement for: {"target", "value", "goal", "met"}
    (`goal` a least ratio, or a most for times)."""
    out = []
    for what, name, shape, peer, goal in RATIO_TARGETS:
        for w in report.get("workloads", []):
            value = w["ratios"].get(peer)
            if w["name"] == name and (shape is None or w["shape"].startswith(shape)) and value:
                out.append({"target": what, "value": value, "goal": f">= {goal}", "met": value >= goal})
    launch = report.get("launch")
    if launch:
        out.append({"target": "tiny launch, us end to end", "value": launch["ours_us"],
                    "goal": f"<= {LAUNCH_MAX_US}", "met": launch["ours_us"] <= LAUNCH_MAX_US})
        work = sum(launch["warm_work"].values())
        out.append({"target": "IR work in warm launches", "value": work, "goal": "== 0", "met": work == 0})
    for kernel, secs in ((report.get("cold_compile") or {}).get("seconds") or {}).items():
        out.append({"target": f"cold compile {kernel}, s", "value": secs, "goal": f"<= {COLD_COMPILE_MAX_S}",
                    "met": secs <= COLD_COMPILE_MAX_S})
    return out


def format_targets(rows: List[dict]) -> str:
    """One line per target: the value, the goal, "met" or "NOT MET"."""
    return "\n".join(f"target: {t['target']:<36} {t['value']:8.2f}  (goal {t['goal']})  "
                     f"{'met' if t['met'] else 'NOT MET'}" for t in rows)


def time_fn(fn: Callable[[], object], t: Timing) -> List[float]:
    """Wall times (perf_counter, seconds) of repeated `fn()` calls after `t.warmup` untimed ones.

    A call slower than the whole budget gets one warm-up and 3 repeats at most, one slower than
    10x the budget a single repeat (eager bf16 2048^3 matmuls take over a minute a call on a
    2-core AVX2 machine).  The warm-up also ends once it has taken 10x the budget."""
    warm = []
    for _ in range(t.warmup):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
        if warm[-1] > t.budget_s > 0 or sum(warm) > 10 * t.budget_s > 0:
            break
    slow = bool(warm) and warm[-1] > t.budget_s > 0
    min_reps = min(t.min_reps, 3) if slow else t.min_reps
    if slow and warm[-1] > 10 * t.budget_s:
        min_reps = 1
    times: List[float] = []
    deadline = time.perf_counter() + t.budget_s
    while len(times) < t.max_reps and (len(times) < min_reps or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def settle_compile_workers() -> None:
    """Wait until Inductor's compile worker pool, if a compile started it, has finished starting.

    Its sidecar process imports torch and forks workers after the first compile returns: seconds
    of CPU on this 2-core machine, which would otherwise be timed as part of whatever runs next
    (a 256x1024x4096 addmm measured 17 ms before and 40 ms during it)."""
    try:
        from torch._inductor.async_compile import AsyncCompile
    except ImportError:  # pragma: no cover
        return
    if AsyncCompile.process_pool.cache_info().currsize:
        AsyncCompile.wait_pool_ready()


def prepare_impl(case: bw.Case, impl: str, reference: torch.Tensor):
    """Build `impl`, make its first (compiling) call and check it: (result row, callable or None)."""
    r: dict = {"status": "ok"}
    try:
        t0 = time.perf_counter()
        fn = case.impls[impl]()
        out = fn()          # the first call compiles (Triton, IREE or Inductor)
        r["first_call_s"] = time.perf_counter() - t0
        r["max_abs_err"] = (out.float() - reference.float()).abs().max().item()
        try:
            torch.testing.assert_close(out.float(), reference.float(), **case.tol)
        except AssertionError as e:
            r.update(status="mismatch", error=str(e).strip().splitlines()[0])
            return r, None
    except Exception as e:  # a failing implementation is a row in the report, not a crash
        r.update(status="error", error=_first_line(e))
        return r, None
    return r, fn


def _first_line(e: Exception) -> str:
    first = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {first}"


def _finish(case: bw.Case, r: dict, times: List[float]) -> dict:
    med = statistics.median(times)
    r.update(median_s=med, times_s=times, reps=len(times),
             gbps=case.bytes / med / 1e9, gflops=case.flops / med / 1e9)
    return r


def run_impl(case: bw.Case, impl: str, timing: Timing, reference: torch.Tensor) -> dict:
    """Build, check and time one implementation of `case` on its own; never raises."""
    r, fn = prepare_impl(case, impl, reference)
    if fn is None:
        return r
    try:
        settle_compile_workers()
        time.sleep(timing.settle_s)
        return _finish(case, r, time_fn(fn, timing))
    except Exception as e:
        r.update(status="error", error=_first_line(e))
        return r


def time_rounds(fns: Dict[str, Callable[[], object]], t: Timing):
    """Time every implementation in `t.rounds` rounds, each a short block per implementation
    in a rotating order, so a slow spell on this shared machine lands on every implementation
    alike.  Returns (impl -> all times, impl -> one median per round it ran, impl -> error).
    An implementation slower than a round's budget runs in the first round only."""
    n = max(t.rounds, 1)
    times = {i: [] for i in fns}
    blocks = {i: [] for i in fns}
    errors = {}
    slow = set()
    order = list(fns)
    for k in range(n):
        block = Timing(t.warmup if k == 0 else 1, max(2, -(-t.min_reps // n)), max(2, -(-t.max_reps // n)),
                       t.budget_s / n, t.settle_s)
        for impl in order[k % len(order):] + order[:k % len(order)]:
            if impl in errors or (k and impl in slow):
                continue
            time.sleep(t.settle_s)
            try:
                ts = time_fn(fns[impl], block)
            except Exception as e:
                errors[impl] = _first_line(e)
                continue
            times[impl] += ts
            blocks[impl].append(statistics.median(ts))
            if block.budget_s > 0 and blocks[impl][-1] > block.budget_s:
                slow.add(impl)
    return times, blocks, errors


def _round_ratios(blocks: Dict[str, List[float]], peers: Iterable[str]) -> Dict[str, Optional[float]]:
    """Our throughput over each peer's: the median over rounds of (peer's block median / ours)."""
    ours = blocks.get("ours") or []
    out = {}
    for p in peers:
        if p not in blocks:
            continue
        pairs = [b / a for a, b in zip(ours, blocks[p]) if a > 0]
        out[p] = statistics.median(pairs) if pairs else None
    return out


def run_case(case: bw.Case, impls: Iterable[str], timing: tuple, log: Callable[[str], None]) -> dict:
    """One workload: every requested implementation, timed in interleaved rounds, plus, if asked,
    the interpreter at a small shape.  `timing` is one of `TIMING`'s values."""
    impls = list(impls)
    row = {"label": case.label, "name": case.name, "shape": case.shape, "kind": case.kind,
           "flops": case.flops, "bytes": case.bytes, "intensity": case.intensity,
           "metric": case.metric, "note": case.note, "impls": {}, "interpreter": None}
    with torch.no_grad():
        reference = case.reference()
        fns = {}
        for impl in [i for i in impls if i in case.impls]:
            r, fn = prepare_impl(case, impl, reference)
            row["impls"][impl] = r
            if fn is not None:
                fns[impl] = fn
        settle_compile_workers()
        times, blocks, errors = time_rounds(fns, timing[0])
        for impl, r in row["impls"].items():
            if impl in errors:
                r.update(status="error", error=errors[impl])
            elif times.get(impl):
                _finish(case, r, times[impl])
                r["round_medians_s"] = blocks[impl]
            log(f"    {impl:<13} {_describe(r, case.metric)}")
        row["ratios"] = _round_ratios({i: b for i, b in blocks.items() if i not in errors}, PEERS)
        del fns
        if "interpreter" in impls and case.interp is not None:
            row["interpreter"] = _run_interp(case.interp, timing[1:], log)
    torch._dynamo.reset()   # drop compiled graphs before the next workload
    return row


def _run_interp(make_small: Callable[[], bw.Case], timings: tuple, log) -> dict:
    try:
        small = make_small()
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}", "impls": {}}
    ref = small.reference()
    res = {"shape": small.shape, "flops": small.flops, "bytes": small.bytes, "impls": {}}
    for impl, timing in zip(("ours", "interpreter"), timings):
        r = run_impl(small, impl, timing, ref)
        res["impls"][impl] = r
        log(f"    {impl:<13} {_describe(r, small.metric)}  [at {small.shape}]")
    meds = [res["impls"][i].get("median_s") for i in ("ours", "interpreter")]
    res["ratio"] = meds[1] / meds[0] if all(meds) else None
    return res


def _describe(r: dict, metric: str) -> str:
    if r["status"] != "ok":
        return f"{r['status'].upper()}: {r.get('error', '')}"
    return (f"{_value(r, metric):10.3f} {metric:<7}  median {r['median_s'] * 1e3:9.3f} ms "
            f"of {r['reps']}  (first call {r['first_call_s']:.2f} s)")


def _value(r: dict, metric: str) -> float:
    return r["gbps"] if metric == "GB/s" else r["gflops"]


def machine_info() -> dict:
    """CPU, core and thread counts, memory, load average (the machine may be shared)."""
    info = {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "loadavg_start": list(os.getloadavg())}
    try:
        text = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(l.split(":", 1)[1].strip() for l in text.splitlines()
                           if l.startswith("model name"))
        flags = next(l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags"))
        info["simd"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")
                        if f in flags]
        mem = next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        info["mem_gib"] = round(int(mem.split()[1]) / 2 ** 20, 1)
    except (OSError, StopIteration):
        pass
    info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def versions() -> dict:
    """Versions of everything that is timed, and the commit of this checkout when there is one."""
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "triton", "iree-base-compiler", "iree-base-runtime", "numpy", "turbine-triton"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    try:
        out["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
            text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["git_commit"] = None
    return out


def roofline_fraction(row: dict, peaks: dict) -> Optional[float]:
    """Our attained throughput as a fraction of the roofline at the workload's intensity."""
    ours = row["impls"].get("ours", {})
    if ours.get("median_s") is None:
        return None
    bw_, fma = peaks["stream"]["gbps"], peaks["fma"]["gflops"]
    if not row["flops"]:
        return ours["gbps"] / bw_
    return ours["gflops"] / min(bw_ * row["intensity"], fma)


def format_table(report: dict) -> str:
    """The summary table: our throughput, the peers', the ratios, the roofline fraction."""
    def num(r, metric):
        if not (r and r.get("median_s")):
            return f"{(r or {}).get('status', '-'):>9}"
        v = _value(r, metric)
        return f"{v:9.2f}" if v >= 0.1 else f"{v:9.2g}"   # the interpreter's are ~1e-3

    def ratio(x):
        return f"{x:8.2f}x" if x else f"{'-':>9}"

    wl = max([27] + [len(w["label"]) for w in report["workloads"]])
    head = (f"{'workload':<{wl}} {'unit':<7} {'ours':>9} {'eager':>9} {'ind-c++':>9} "
            f"{'/eager':>9} {'/ind-c++':>9} {'roof':>5}   {'interpreter (small shape)':<27} "
            f"{'ours':>9} {'interp':>9} {'/interp':>9}")
    lines = [head, "-" * len(head)]
    for w in report["workloads"]:
        m, im = w["metric"], w["impls"]
        frac = w.get("roofline_fraction")
        line = (f"{w['label']:<{wl}} {m:<7} {num(im.get('ours'), m)} {num(im.get('eager'), m)} "
                f"{num(im.get('inductor_cpp'), m)} {ratio(w['ratios'].get('eager'))} "
                f"{ratio(w['ratios'].get('inductor_cpp'))} "
                f"{(f'{frac * 100:4.0f}%' if frac else '    -')}")
        s = w.get("interpreter")
        if s and s.get("impls"):
            line += (f"   {s['shape']:<27} {num(s['impls'].get('ours'), m)} "
                     f"{num(s['impls'].get('interpreter'), m)} {ratio(s.get('ratio'))}")
        lines.append(line)
    p = report["peaks"]
    lines.append("-" * len(head))
    lines.append(f"STREAM (torch, {bw.count_name(p['stream']['elements'])} fp32): copy "
                 f"{p['stream']['copy_gbps']:.1f} GB/s, triad {p['stream']['triad_gbps']:.1f} GB/s"
                 + (f" (best of the run's start and end: "
                    f"{', '.join(f'{g:.1f}' for g in p['stream']['runs_gbps'])} GB/s)"
                    if p['stream'].get('runs_gbps') else "") + "; "
                 f"FMA probe {p['fma']['fma_probe_gflops']:.1f} GFLOP/s, torch.mm "
                 f"{p['fma']['mm_n']}^3 fp32 {p['fma']['torch_mm_gflops']:.1f} GFLOP/s")
    lines.append("ratios: our throughput / the peer's, same run (>1: we are faster); roof: ours as a "
                 "fraction of min(bandwidth x intensity, FMA peak)")
    if report.get("launch"):
        lines.append(launchcheck.describe(report["launch"]))
    cold = report.get("cold_compile")
    if cold is not None:
        secs = cold.get("seconds")
        lines.append("cold compile (new process, empty caches; the first includes one-time imports): " +
                     (", ".join(f"{k} {v:.2f} s" for k, v in secs.items()) if secs
                      else f"failed: {str(cold.get('error')).splitlines()[0]}"))
    m = report["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cpus']} CPUs, torch threads {m['torch_threads']}, "
                 f"load average {m['loadavg_start'][0]:.2f} at start, {m['loadavg_end'][0]:.2f} at end")
    return "\n".join(lines)


def run_report(size: str = "full", impls: Iterable[str] = ALL_IMPLS, json_path: Optional[str] = None,
               png_path: Optional[str] = None, log: Callable[[str], None] = print,
               only: Optional[Iterable[str]] = None, rounds: Optional[int] = None,
               cold: Optional[bool] = None) -> dict:
    """Measure the peaks and every workload at preset `size` ("full", "quick", "tiny");
    write JSON and PNG where asked.  `only` keeps the workloads with those names; `rounds`
    overrides the preset's number of interleaved timing rounds (more: steadier medians on a
    noisy machine).  `cold` (default: when `only` is not given) also times the demo kernels'
    cold compiles in a new process with empty caches (`coldstart`)."""
    impls = tuple(impls)
    timing = TIMING[size]
    if rounds is not None:
        timing = (dataclasses.replace(timing[0], rounds=max(int(rounds), 1)),) + timing[1:]
    t_start = time.time()
    report = {"schema": SCHEMA, "size": size, "impls": list(impls), "rounds": timing[0].rounds,
              "machine": machine_info(),
              "versions": versions(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    log(f"turbine-triton bench --report ({size}); load average {report['machine']['loadavg_start']}")
    log("measuring the roofline (STREAM bandwidth, FMA peak) ...")
    peaks = roofline.measure_peaks(size)
    report["peaks"] = peaks
    log(f"    bandwidth {peaks['stream']['gbps']:.1f} GB/s, FMA peak {peaks['fma']['gflops']:.1f} GFLOP/s "
        f"({peaks['fma']['source']})")
    factories = bw.cases(bw.SIZES[size], interpreter="interpreter" in impls)
    rows = []
    for i, make in enumerate(factories, 1):
        case = make()
        if only is not None and case.name not in only:
            continue
        log(f"[{i}/{len(factories)}] {case.label}" + (f"  ({case.note})" if case.note else ""))
        row = run_case(case, impls, timing, log)
        row["roofline_fraction"] = roofline_fraction(row, peaks)
        rows.append(row)
        del case
        gc.collect()
    report["workloads"] = rows
    if rows and roofline.remeasure_stream(peaks):
        log(f"    bandwidth measured again: {peaks['stream']['gbps']:.1f} GB/s (best of "
            f"{', '.join(f'{g:.1f}' for g in peaks['stream']['runs_gbps'])})")
        for row in rows:
            row["roofline_fraction"] = roofline_fraction(row, peaks)
    if only is None or "launch" in only:
        log("launch: a tiny kernel's warm launches against torch.add, counting IR work ...")
        report["launch"] = launchcheck.measure(*LAUNCH_BATCHES[size])
        log("    " + launchcheck.describe(report["launch"]).replace("\n", "\n    "))
    if (only is None) if cold is None else cold:
        log("cold compile: the demo kernels with empty caches, in a new process ...")
        try:
            report["cold_compile"] = {"seconds": coldstart.measure()}
        except (coldstart.ColdCompileError, subprocess.TimeoutExpired, OSError) as e:
            report["cold_compile"] = {"error": f"{type(e).__name__}: {e}"}
    report["machine"]["loadavg_end"] = list(os.getloadavg())
    report["wall_s"] = time.time() - t_start
    report["failures"] = failures(report)
    report["targets"] = targets(report)
    log("")
    log(format_table(report))
    if report["targets"]:
        log(format_targets(report["targets"]))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=1))
        log(f"wrote {json_path}")
    if png_path:
        write_png(report, png_path, log)
    return report


def write_png(report: dict, path: str, log: Callable[[str], None] = print) -> bool:
    """The roofline PNG; without matplotlib, a loud message and no file."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("!" * 72 + f"\n!! matplotlib is not installed: NOT writing the roofline PNG {path}\n"
            "!! install it with: pip install 'turbine-triton[bench]'  (or pip install matplotlib)\n"
            + "!" * 72)
        return False
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    skipped = roofline.plot(report, path)
    log(f"wrote {path}" + (f" (no flops to plot: {', '.join(skipped)})" if skipped else ""))
    return True


def workload_names() -> List[str]:
    """Names `--only` accepts, in table order."""
    return ["add", "softmax", "layernorm", "rmsnorm", "matmul", "attention", *bw.MODELS,
            *(n + bw.AUTOTUNED_SUFFIX for n in bw.AUTOTUNED),
            *(n + bw.TRAINED_SUFFIX for n in bw.TRAINED), "launch"]


def failures(report: dict) -> List[str]:
    """`label: impl: status: error` for every implementation that failed or mismatched."""
    out = []
    for w in report["workloads"]:
        sub = [("", w["impls"])]
        if w.get("interpreter"):
            sub.append((" @" + str(w["interpreter"].get("shape")), w["interpreter"].get("impls", {})))
            if w["interpreter"].get("error"):
                out.append(f"{w['label']}: interpreter: {w['interpreter']['error']}")
        for suffix, impls in sub:
            for impl, r in impls.items():
                if r["status"] != "ok":
                    out.append(f"{w['label']}{suffix}: {impl}: {r['status']}: {r.get('error', '')}")
    warm = (report.get("launch") or {}).get("warm_work", {})
    if any(warm.values()):
        out.append(f"launch: warm launches did IR work: {warm}")
    if (report.get("cold_compile") or {}).get("error"):
        out.append(f"cold compile: {report['cold_compile']['error']}")
    return out


def main(args) -> int:
    """CLI entry for `turbine-triton bench --report`; exit status 1 if anything failed."""
    size = "quick" if args.quick else args.size
    only = [n.strip() for n in args.only.split(",")] if getattr(args, "only", None) else None
    if only is not None:
        unknown = sorted(set(only) - set(workload_names()))
        if unknown:
            print(f"error: --only: no workload named {', '.join(unknown)} "
                  f"(there are: {', '.join(workload_names())})", file=sys.stderr)
            return 2
    report = run_report(size, json_path=args.json, png_path=args.png,
                        log=lambda s: print(s, flush=True), only=only, rounds=getattr(args, "rounds", None))
    if report["failures"]:
        print("FAILED:\n  " + "\n  ".join(report["failures"]), file=sys.stderr)
        return 1
    return 0
