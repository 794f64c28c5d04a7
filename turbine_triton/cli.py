"""The `turbine-triton` command: demo, compile a `.ttir` file, export a model, run the benchmarks.

Global option `--dump-ir DIR` sets `TURBINE_TRITON_DUMP_DIR=DIR`, which the
runtime honours on every compile: it writes `<kernel>.<key8>.ttir`, `.mlir`
and `.vmfb` into DIR (on its own cache hits too).  `--dump-ir` also sets
`TRITON_ALWAYS_COMPILE=1`: otherwise a hit in Triton's cache skips our compile
stage and nothing is dumped.  Setting both variables yourself does the same for
any program that launches kernels.  `compile` bypasses the runtime's cache and
writes its stages to `-o DIR` instead.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_ms(fn, reps: int = 10, warmup: int = 2) -> float:
    """Median wall time of `fn()` in milliseconds after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _demo_cases():
    """(name, ours, torch's, tolerances) for each demo workload."""
    import torch
    import torch.nn.functional as F
    from . import demo

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(1 << 20, generator=g), torch.randn(1 << 20, generator=g)
    s = torch.randn(1024, 1024, generator=g)
    w, b = torch.randn(1024, generator=g), torch.randn(1024, generator=g)
    a, m = torch.randn(256, 256, generator=g), torch.randn(256, 256, generator=g)
    add_out, sm_out, ln_out, mm_out = (torch.empty_like(x), torch.empty_like(s),
                                       torch.empty_like(s), torch.empty_like(a))
    ref = torch.empty_like(x)
    # Matmul sums in a different order than BLAS, so it gets a looser bound.
    return [
        ("add", lambda: demo.add(x, y, add_out), lambda: torch.add(x, y, out=ref), {}),
        ("softmax", lambda: demo.softmax(s, sm_out), lambda: torch.softmax(s, -1), {}),
        ("layernorm", lambda: demo.layernorm(s, w, b, 1e-5, ln_out),
         lambda: F.layer_norm(s, (1024,), w, b, 1e-5), {"rtol": 1e-4, "atol": 1e-4}),
        ("matmul", lambda: demo.matmul(a, m, mm_out), lambda: torch.mm(a, m),
         {"rtol": 1e-4, "atol": 1e-3}),
    ]


def cmd_demo(args) -> int:
    """Run each demo kernel, check it against torch, and print both timings."""
    import torch
    failed = []
    print(f"{'kernel':<10} {'max err':>10} {'ours ms':>9} {'torch ms':>9} {'ratio':>7}")
    for name, ours, theirs, tol in _demo_cases():
        got, want = ours(), theirs()
        err = (got - want).abs().max().item()
        try:
            torch.testing.assert_close(got, want, **tol)
        except AssertionError as e:
            failed.append(name)
            print(f"{name:<10} {err:>10.3e}  MISMATCH\n{e}")
            continue
        t_ours, t_torch = median_ms(ours, args.reps), median_ms(theirs, args.reps)
        print(f"{name:<10} {err:>10.3e} {t_ours:>9.3f} {t_torch:>9.3f} "
              f"{t_ours / t_torch:>6.2f}x")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def describe_entry(abi) -> str:
    """The host function's signature: views, offsets, scalars, then the grid."""
    ptrs, scalars = abi.pointers, abi.scalars
    lines = [f"{abi.host_function}("]
    lines += [f"  {p.name}: !hal.buffer_view  // {p.triton_type}" for p in ptrs]
    lines += [f"  {p.name}_offset: i64  // element offset of {p.name}" for p in ptrs]
    lines += [f"  {p.name}: i64  // {p.triton_type}" for p in scalars]
    lines += [f"  {g}: i64  // programs along axis {i}" for i, g in enumerate(("gx", "gy", "gz"))]
    lines.append(")")
    return "\n".join(lines)


def cmd_compile(args) -> int:
    """Lower and compile a `.ttir` file; write .mlir, .vmfb and .abi.json."""
    from .triton_frontend.capture import capture_file
    from .lowering.pipeline import lower
    from .runtime.compile import compile_mlir

    from .lowering.errors import LoweringError
    from .runtime.errors import TurbineTritonError

    kernel = capture_file(args.file)
    name = args.name or kernel.name
    try:
        lowered = lower(kernel)
        vmfb = compile_mlir(lowered.mlir, name)
    except (LoweringError, TurbineTritonError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.mlir").write_text(lowered.mlir)
    (out / f"{name}.vmfb").write_bytes(vmfb)
    (out / f"{name}.abi.json").write_text(lowered.abi.to_json())
    print(f"wrote {out / name}.{{mlir,vmfb,abi.json}}")
    print(describe_entry(lowered.abi))
    return 0


def _load_factory(spec: str):
    """`path/to/file.py:factory` -> the factory function."""
    import importlib.util
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise ValueError(f"expected FILE.py:FACTORY, got {spec!r}")
    path = os.path.abspath(path)
    mod_name = "_turbine_export_" + Path(path).stem
    spec_ = importlib.util.spec_from_file_location(mod_name, path)
    if spec_ is None:
        raise ValueError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec_)
    sys.modules[mod_name] = module
    sys.path.insert(0, os.path.dirname(path))
    spec_.loader.exec_module(module)
    return getattr(module, name)


def cmd_export(args) -> int:
    """Export `FACTORY() -> (model, example_args)` with its Triton kernels to one `.vmfb`."""
    from .plugin.export import export
    from .runtime.errors import TurbineTritonError
    try:
        factory = _load_factory(args.factory)
    except (ValueError, AttributeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    made = factory()
    model, example_args = made[0], tuple(made[1])
    dynamic_shapes = made[2] if len(made) > 2 else None
    if args.dynamic_batch and dynamic_shapes is None:
        import torch
        batch = torch.export.Dim("batch")
        dynamic_shapes = tuple({0: batch} if isinstance(a, torch.Tensor) and a.dim() > 0 else None
                               for a in example_args)
    try:
        exported = export(model, example_args, dynamic_shapes=dynamic_shapes, target=args.target)
    except TurbineTritonError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    exported.save_vmfb(args.output)
    if args.mlir:
        exported.save_mlir(args.mlir)
    kernels = ", ".join(k.name for k in exported.kernels) or "none"
    print(f"wrote {args.output} ({len(exported.vmfb)} bytes, target {exported.target.name}, "
          f"Triton kernels: {kernels})")
    return 0


def bench_dir() -> Path:
    """`bench/` beside the package source, present in a source checkout only."""
    return Path(__file__).resolve().parent.parent / "bench"


def cmd_bench(args) -> int:
    """`--report`: the benchmark report; otherwise the pytest-benchmark suite of the source checkout."""
    if args.report:
        if args.pytest:
            print("error: --report and --pytest are two different runs", file=sys.stderr)
            return 2
        if args.extra:
            print(f"error: --report takes no pytest arguments: {' '.join(args.extra)}", file=sys.stderr)
            return 2
        from . import report
        return report.main(args)
    d = bench_dir()
    if not d.is_dir():
        print("bench/ is not installed with the package; from a source checkout run:\n"
              "  python -m pytest bench --benchmark-enable")
        return 0
    cmd = [sys.executable, "-m", "pytest", str(d), "--benchmark-enable", *args.extra]
    return subprocess.call(cmd, cwd=d.parent)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for `turbine-triton`."""
    p = argparse.ArgumentParser(prog="turbine-triton", description=__doc__.splitlines()[0])
    p.add_argument("--dump-ir", metavar="DIR",
                   help="write every kernel's .ttir/.mlir/.vmfb to DIR (sets "
                        "TURBINE_TRITON_DUMP_DIR and TRITON_ALWAYS_COMPILE=1)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run the demo kernels, check and time them against torch")
    d.add_argument("--reps", type=int, default=10, help="timed repetitions per kernel")
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser("compile", help="compile a .ttir file to an IREE module")
    c.add_argument("file", help="the .ttir file")
    c.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    c.add_argument("--name", help="output file stem (default: the kernel's name)")
    c.set_defaults(func=cmd_compile)

    e = sub.add_parser("export", help="export FILE.py:FACTORY (returns (model, example_args)) with its "
                                      "Triton kernels to one IREE module")
    e.add_argument("factory", metavar="FILE.py:FACTORY")
    e.add_argument("--target", default="llvm-cpu",
                   help="llvm-cpu (default), llvm-cpu:<triple>, aarch64, riscv64, vulkan-spirv, rocm[:<chip>]")
    e.add_argument("-o", "--output", required=True, metavar="OUT.vmfb")
    e.add_argument("--mlir", metavar="OUT.mlir", help="also write the module's input MLIR")
    e.add_argument("--dynamic-batch", action="store_true",
                   help="make dim 0 of every tensor input dynamic (unless the factory returns dynamic_shapes)")
    e.set_defaults(func=cmd_export)

    b = sub.add_parser("bench", allow_abbrev=False, help="--report: time every workload against its peers and the "
                                     "roofline; otherwise (or --pytest) run bench/ with pytest, "
                                     "other arguments going to pytest")
    b.add_argument("--report", action="store_true",
                   help="print a table of every workload vs eager torch, Inductor C++, Triton's "
                        "interpreter and the measured roofline; write JSON and a PNG")
    b.add_argument("--pytest", action="store_true", help="run the pytest-benchmark suite (the default)")
    b.add_argument("--quick", action="store_true", help="with --report: smaller matmul and attention sizes")
    b.add_argument("--size", choices=("full", "quick", "tiny"), default="full",
                   help="with --report: the size preset (tiny is for tests)")
    b.add_argument("--only", metavar="NAMES",
                   help="with --report: only these workloads, comma-separated (add, softmax, layernorm, "
                        "rmsnorm, matmul, attention, mlp, transformer, softmax_layernorm, ..., mlp_max_autotune, "
                        "transformer_max_autotune, launch)")
    b.add_argument("--rounds", type=int, metavar="N",
                   help="with --report: interleaved timing rounds per workload (default: 5; more gives "
                        "steadier medians on a noisy machine)")
    b.add_argument("--json", metavar="OUT.json", default="bench_report.json",
                   help="with --report: raw results (default: %(default)s)")
    b.add_argument("--png", metavar="OUT.png", default="bench_report.png",
                   help="with --report: roofline plot, needs matplotlib (default: %(default)s)")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    """Entry point of the `turbine-triton` console script."""
    parser = build_parser()
    # Unknown options are pytest's when benchmarking, an error otherwise.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    if args.dump_ir:
        os.environ["TURBINE_TRITON_DUMP_DIR"] = os.path.abspath(args.dump_ir)
        os.environ["TRITON_ALWAYS_COMPILE"] = "1"
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
