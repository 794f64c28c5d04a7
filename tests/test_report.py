"""`turbine-triton bench --report` at tiny sizes: every workload's output against torch, the JSON, the PNG.

Correctness and structure only: nothing here looks at a time.  Inductor's C++ peer is left
out because its C++ compiles are the slowest part of the report and test nothing of ours.
"""
from __future__ import annotations

import json
import sys

import pytest

from turbine_triton import bench_workloads as bw
from turbine_triton import cli, coldstart, report

IMPLS = ("ours", "eager", "interpreter")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    lines = []
    rep = report.run_report("tiny", impls=IMPLS, json_path=str(d / "r.json"),
                            png_path=str(d / "r.png"), log=lines.append)
    return rep, d, "\n".join(lines)


def test_every_workload_matches_torch(tiny):
    rep, _, log = tiny
    names = [(w["name"], w["shape"]) for w in rep["workloads"]]
    expected = [(c.name, c.shape) for c in (make() for make in bw.cases(bw.SIZES["tiny"]))]
    assert names == expected
    assert rep["failures"] == [], log
    for w in rep["workloads"]:
        assert set(w["impls"]) == {"ours", "eager"}, w["label"]
        for impl, r in w["impls"].items():
            # run_impl compared the output with torch's (assert_close at the case's tolerance)
            assert r["status"] == "ok", (w["label"], impl, r)
            assert r["max_abs_err"] >= 0
        if w["kind"] == "kernel" and "bf16" not in w["shape"]:
            small = w["interpreter"]
            assert small and {i: r["status"] for i, r in small["impls"].items()} == \
                {"ours": "ok", "interpreter": "ok"}, w["label"]


def test_json_structure(tiny):
    rep, d, _ = tiny
    data = json.loads((d / "r.json").read_text())
    assert data["schema"] == report.SCHEMA and data["size"] == "tiny"
    assert {"cpu", "cpus", "torch_threads", "loadavg_start", "loadavg_end"} <= set(data["machine"])
    assert {"python", "torch", "triton", "iree-base-compiler", "iree-base-runtime"} <= set(data["versions"])
    stream, fma = data["peaks"]["stream"], data["peaks"]["fma"]
    assert {"copy_gbps", "triad_gbps", "gbps", "elements"} <= set(stream)
    assert {"fma_probe_gflops", "torch_mm_gflops", "gflops", "source"} <= set(fma)
    assert stream["gbps"] > 0 and fma["gflops"] > 0
    kinds = {w["kind"] for w in data["workloads"]}
    assert kinds == {"kernel", "model"}
    for w in data["workloads"]:
        assert {"label", "flops", "bytes", "intensity", "metric", "impls", "ratios",
                "roofline_fraction", "interpreter"} <= set(w)
        assert w["metric"] in ("GB/s", "GFLOP/s") and w["bytes"] > 0
        for r in w["impls"].values():
            assert len(r["times_s"]) == r["reps"] >= 1
            assert {"median_s", "first_call_s", "gbps", "gflops"} <= set(r)
        assert set(w["ratios"]) == {"eager"}     # the only peer this run had
    table = report.format_table(data)
    for w in data["workloads"]:
        assert w["label"] in table
    # the tiny launch: timed against torch.add, and no IR work once warm
    launch = data["launch"]
    assert launch["ours_us"] > 0 and launch["torch_add_us"] > 0
    # (the first launch compiles unless an earlier test launched the kernel: test_launchcheck.py
    # checks that the counters see a compile)
    assert set(launch["cold_work"]) == set(launch["warm_work"]) and launch["cold_work"]["Triton compiles"] <= 1
    assert not any(launch["warm_work"].values()) and launch["warm_launches"] > 0
    assert "tiny launch kernel[(1,)]" in table and "warm path over" in table
    # the demo kernels compiled with empty caches in a new process (each checked against torch there)
    cold = data["cold_compile"]["seconds"]
    assert list(cold) == list(coldstart.KERNELS) and all(v > 0 for v in cold.values())
    assert "cold compile (new process, empty caches" in table and "matmul" in table


def test_png_written(tiny):
    pytest.importorskip("matplotlib")
    _, d, _ = tiny
    assert (d / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_skipped_loudly_without_matplotlib(tiny, tmp_path, monkeypatch):
    rep, _, _ = tiny
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    lines = []
    assert report.write_png(rep, str(tmp_path / "x.png"), log=lines.append) is False
    assert "matplotlib is not installed" in "\n".join(lines)
    assert not (tmp_path / "x.png").exists()


def test_cli_bench_report_and_pytest_paths(monkeypatch):
    seen = {}
    monkeypatch.setattr(report, "main", lambda args: seen.setdefault("report", args) and 0)
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, cwd=None: seen.setdefault("pytest", cmd) and 0)
    assert cli.main(["bench", "--report", "--quick", "--json", "o.json", "--png", "o.png"]) == 0
    args = seen["report"]
    assert (args.quick, args.json, args.png) == (True, "o.json", "o.png")
    # without --report it is still pytest on bench/, unknown options passed through
    assert cli.main(["bench", "-k", "add"]) == 0
    assert seen["pytest"][-3:] == ["--benchmark-enable", "-k", "add"]
    assert cli.main(["bench", "--report", "-k", "add"]) == 2


def test_round_ratios_are_medians_of_per_round_ratios():
    """Ratios pair each peer's round with ours from the same round (a slow spell hits both)."""
    blocks = {"ours": [1.0, 2.0, 1.0, 4.0, 1.0], "eager": [2.0, 2.0, 3.0, 4.0, 1.5], "inductor_cpp": [0.5]}
    r = report._round_ratios(blocks, report.PEERS)
    assert r["eager"] == pytest.approx(1.5)          # per round 2, 1, 3, 1, 1.5 -> median 1.5
    assert r["inductor_cpp"] == pytest.approx(0.5)   # a slow peer timed in round 1 only


def test_time_rounds_rotates_and_skips_errors():
    calls = []

    def make(name, fail=False):
        def fn():
            calls.append(name)
            if fail and len([c for c in calls if c == name]) > 1:
                raise RuntimeError("boom")
        return fn
    fns = {"ours": make("ours"), "eager": make("eager"), "bad": make("bad", fail=True)}
    t = report.Timing(0, 2, 2, 0.0, 0.0, 3)
    times, blocks, errors = report.time_rounds(fns, t)
    assert len(blocks["ours"]) == len(blocks["eager"]) == 3 and len(times["ours"]) == 6
    assert errors == {"bad": "RuntimeError: boom"} and blocks["bad"] == []
    # round 2 starts with the second implementation
    firsts = [calls[0], calls[6]]   # round 1: ours, ours, eager, eager, bad, bad (raises)
    assert firsts == ["ours", "eager"]


def test_warm_up_covers_the_adaptive_launch_probes(monkeypatch):
    """The timed calls of a full-size report run in the mode our adaptive launch chose, not
    among its probes (which alternate IREE's workers and the calling thread)."""
    import torch
    from turbine_triton import demo
    from turbine_triton.runtime import launch
    monkeypatch.setattr(launch, "LAUNCH_MODE", "adaptive")
    probing = []
    orig = launch.LaunchChooser.__call__

    def spy(self):
        probing.append(self.state.left == 0)
        return orig(self)
    monkeypatch.setattr(launch.LaunchChooser, "__call__", spy)
    n = 3 * 4096 + 64     # a size of its own: no launch of it is cached yet
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    warm = report.TIMING["full"][0].warmup
    times = report.time_fn(lambda: demo.add(x, y, out, BLOCK=4096), report.Timing(warm, 4, 4, 0.0))
    torch.testing.assert_close(out, x + y)
    assert len(times) == 4 and len(probing) == warm + 4
    assert any(probing[:warm]) and not any(probing[warm:])


def test_only_and_rounds_select_workloads_and_timing(tmp_path):
    rep = report.run_report("tiny", impls=("ours", "eager"), only=["add", "rmsnorm"], rounds=2,
                            log=lambda s: None)
    assert [w["name"] for w in rep["workloads"]] == ["add", "rmsnorm"]
    assert rep["rounds"] == 2
    assert "cold_compile" not in rep   # a selection skips the cold compiles
    for w in rep["workloads"]:
        assert w["impls"]["ours"]["status"] == "ok", w
        assert len(w["impls"]["ours"]["round_medians_s"]) == 2


def test_cli_only_refuses_unknown_workloads(capsys):
    assert cli.main(["bench", "--report", "--size", "tiny", "--only", "add,nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_a_failed_cold_compile_is_a_failure(monkeypatch):
    def broken(*a, **k):
        raise coldstart.ColdCompileError("cold-compile child exited with 1:\nboom")
    monkeypatch.setattr(coldstart, "measure", broken)
    rep = report.run_report("tiny", impls=("ours",), only=["add"], cold=True, log=lambda s: None)
    assert rep["failures"] == ["cold compile: ColdCompileError: cold-compile child exited with 1:\nboom"]
    assert "cold compile (new process, empty caches; the first includes one-time imports): failed: " \
           "ColdCompileError: cold-compile child exited with 1:" in report.format_table(rep)


def test_targets_judge_full_size_rows_and_the_launch():
    rep = {"workloads": [
        {"name": "add", "shape": "16M fp32", "ratios": {"eager": 0.85}},
        {"name": "add", "shape": "5000 fp32", "ratios": {"eager": 3.0}},          # not the target's size
        {"name": "softmax", "shape": "4096x1024 fp32", "ratios": {"inductor_cpp": 1.3}},
        {"name": "transformer", "shape": "8x256x512 fp32", "ratios": {"eager": 1.1}},   # no Inductor peer
        {"name": "mlp_max_autotune", "shape": "256x1024 fp32", "ratios": {"inductor_cpp": 1.5}}],
        "launch": {"ours_us": 12.0, "warm_work": {"parses": 0, "compiles": 0}},
        "cold_compile": {"seconds": {"add": 1.0, "matmul": 2.5}}}
    got = {t["target"]: (t["value"], t["met"]) for t in report.targets(rep)}
    assert got == {"add 16M fp32 / torch.add(out=)": (0.85, False),
                   "softmax 4096x1024 / Inductor C++": (1.3, True),
                   "MLP, both max-autotune": (1.5, True),
                   "tiny launch, us end to end": (12.0, False),
                   "IR work in warm launches": (0, True),
                   "cold compile add, s": (1.0, True), "cold compile matmul, s": (2.5, False)}
    text = report.format_targets(report.targets(rep))
    assert text.count("NOT MET") == 3 and text.count("\n") == len(got) - 1


def test_tiny_report_judges_only_what_it_measured(tiny):
    rep, _, log = tiny
    names = {t["target"] for t in rep["targets"]}
    # tiny shapes are none of the targets' sizes, and its peers leave out Inductor C++
    assert names == {"tiny launch, us end to end", "IR work in warm launches"} | {
        f"cold compile {k}, s" for k in coldstart.KERNELS}
    assert "target: IR work in warm launches" in log
