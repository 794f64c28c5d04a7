"""Launch overhead of a warm one-program kernel: `kernel[(1,)](x, y, n, BLOCK=64)` end to end,
our launcher alone (what Triton's `JITFunction.run` calls), Triton's own share (its
`JITFunction.run` with the compiled kernel's launcher swapped for a no-op), and the cached call
inside ours: on torch's OpenMP team (the default launch mode) the C call that runs the
dispatch function, else the bare `VmContext.invoke` of IREE's host function.

Run: `python -m pytest bench/test_bench_launch.py --benchmark-enable`.
"""
from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl


@triton.jit
def _inc_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=m) + 1.0, mask=m)


@pytest.fixture(scope="module")
def warm():
    x, y = torch.randn(64), torch.empty(64)
    compiled = _inc_kernel[(1,)](x, y, 64, BLOCK=64)
    _inc_kernel[(1,)](x, y, 64, BLOCK=64)   # warm: fills the cached argument list
    torch.testing.assert_close(y, x + 1.0)
    return compiled, x, y


@pytest.mark.parametrize("part", ["end_to_end", "ours", "triton", "invoke"])
def test_launch_overhead(benchmark, warm, part):
    compiled, x, y = warm
    benchmark.group = "launch kernel[(1,)] 64 fp32"
    if part == "end_to_end":
        y.zero_()
        benchmark(lambda: _inc_kernel[(1,)](x, y, 64, BLOCK=64))
    elif part == "ours":
        launcher, function = compiled.run, compiled.function
        y.zero_()
        benchmark(lambda: launcher(1, 1, 1, 0, function, None, None, None, None, x, y, 64, 64))
    elif part == "invoke":
        (invoke, *_), = compiled.run.launcher._lists.values()   # the warm launches' one entry
        y.zero_()
        benchmark(invoke)
    else:
        real = compiled._run
        compiled._run = lambda *args: None
        try:
            benchmark(lambda: _inc_kernel[(1,)](x, y, 64, BLOCK=64))
        finally:
            compiled._run = real
        y.zero_()
        _inc_kernel[(1,)](x, y, 64, BLOCK=64)
    torch.testing.assert_close(y, x + 1.0)


@triton.jit
def _add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


@pytest.mark.parametrize("impl", ["team", "adaptive", "task", "inline", "torch"])
def test_short_launch(benchmark, monkeypatch, impl):
    """A 16-program add of 64K fp32: the default "team" launch mode (torch's OpenMP team), the
    iree.runtime modes ("adaptive", which keeps a launch this small on the calling thread, the
    task system always, the calling thread always), and `torch.add(out=)` as the peer."""
    from turbine_triton.runtime import launch
    n, block = 1 << 16, 4096
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    benchmark.group = "launch kernel[(16,)] add 64K fp32"
    if impl == "torch":
        benchmark(lambda: torch.add(x, y, out=out))
    else:
        # the mode is fixed when a launch's argument list is first cached (these tensors' own)
        monkeypatch.setattr(launch, "LAUNCH_MODE", impl)
        grid = (n // block,)
        for _ in range(16):   # compile, cache the launch and let "adaptive" choose
            _add_kernel[grid](x, y, out, n, BLOCK=block)
        benchmark(lambda: _add_kernel[grid](x, y, out, n, BLOCK=block))
    torch.testing.assert_close(out, x + y)
