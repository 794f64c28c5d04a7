"""Split launches: part of the grid on the calling thread, the rest on IREE's workers.

Each program must run exactly once, see its own id and the whole grid's size, and write the
caller's memory in place, whatever share of the grid the calling thread takes.  Checked against
numpy's enumeration of the grid and against torch.
"""
import itertools
import os

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime import device, launch, split

from ._grid_ids import expected_ids, ids_kernel


@triton.jit
def scale_add_kernel(x_ptr, y_ptr, out_ptr, n, a, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, a * tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


@pytest.fixture
def forced_split(monkeypatch):
    """Every multi-program launch split, with the calling thread's share set by the test."""
    device.get_config()   # the workers as configured for this process, not for split launches
    pinned = {tid: os.sched_getaffinity(tid) for tid in device.worker_threads()}
    monkeypatch.setattr(split, "ENABLED", True)
    monkeypatch.setattr(launch, "LAUNCH_MODE", "adaptive")
    monkeypatch.setattr(launch.LaunchChooser, "__call__", lambda self: self.calls[0]())
    ran = []
    orig = split.SplitCall.__call__

    def call(self):
        share = shares[0](self.balance.n) if shares else None
        if share is not None:
            self.balance.share = share
        ran.append((self.axis, self.balance.share, self.balance.n))
        return orig(self)
    shares = []
    monkeypatch.setattr(split.SplitCall, "__call__", call)
    yield shares, ran
    # split launches pin the workers away from the caller; the other tests expect the device's own
    for tid, cpus in pinned.items():
        os.sched_setaffinity(tid, cpus)
    split.place_workers.cpu = None


@pytest.mark.parametrize("grid", [(7, 1, 1), (3, 5, 1), (2, 3, 4), (1, 1, 6)])
@pytest.mark.parametrize("share", ["first", "last", "middle"])
def test_each_program_runs_once_with_its_id_and_the_whole_grid(forced_split, grid, share):
    shares, ran = forced_split
    shares.append({"first": lambda n: 1, "last": lambda n: n - 1, "middle": lambda n: n // 2}[share])
    out = torch.zeros(int(np.prod(grid)) * 8, dtype=torch.int32)
    ids_kernel[grid](out)
    assert ran and ran[-1][0] == split.split_axis(grid)
    np.testing.assert_array_equal(out.numpy(), expected_ids(grid))


def test_split_launch_writes_a_view_in_place(forced_split):
    shares, ran = forced_split
    shares.append(lambda n: n // 3)
    n, block = 10_000, 256
    x, y = torch.randn(n), torch.randn(n + 3)[3:]   # a view with a storage offset
    base = torch.full((n + 5,), float("nan"))
    out = base[5:]
    scale_add_kernel[(triton.cdiv(n, block),)](x, y, out, n, 1.5, BLOCK=block)
    assert ran
    torch.testing.assert_close(out, 1.5 * x + y)
    assert torch.isnan(base[:5]).all()   # nothing written before the view


def test_balance_converges_and_results_stay_right(forced_split):
    """Left to its own balancing, many launches in a row all give torch's answer."""
    shares, ran = forced_split
    n, block = 1 << 16, 512
    x, y = torch.randn(n), torch.randn(n)
    out = torch.empty(n)
    for i in range(20):
        scale_add_kernel[(n // block,)](x, y, out, n, float(i), BLOCK=block)
        torch.testing.assert_close(out, float(i) * x + y)
    assert len(ran) == 20 and all(1 <= s <= m - 1 for _, s, m in ran)


@pytest.mark.parametrize("grid", [(5, 1, 1), (2, 9, 3), (4, 4, 1), (1, 1, 2)])
def test_parts_cover_the_grid_once(grid):
    axis = split.split_axis(grid)
    assert grid[axis] == max(grid)
    for share in range(1, grid[axis]):
        seen = []
        for counts, offsets in split.parts(grid, axis, share):
            assert min(counts) >= 1
            seen += [tuple(o + i for o, i in zip(offsets, p))
                     for p in itertools.product(*(range(c) for c in counts))]
        assert sorted(seen) == sorted(itertools.product(*(range(g) for g in grid)))


def test_balance_moves_work_to_the_side_that_finished_last():
    b = split.Balance(100)
    start = b.share
    b.update(caller_waited=True)
    assert b.share > start
    grown = b.share
    b.update(caller_waited=False)
    assert start < b.share < grown
    for _ in range(1000):
        b.update(caller_waited=False)
    assert b.share == 1
    for _ in range(1000):
        b.update(caller_waited=True)
    assert b.share == 99


def test_workers_are_kept_off_the_calling_threads_core(forced_split):
    if len(device.allowed_cpus()) < 2 or not hasattr(os, "sched_getaffinity"):
        pytest.skip("needs two CPUs and Linux affinity")
    n = 4096
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    scale_add_kernel[(8,)](x, y, out, n, 2.0, BLOCK=512)
    torch.testing.assert_close(out, 2.0 * x + y)
    caller = split.place_workers.cpu
    assert caller in device.allowed_cpus()
    for tid in device.worker_threads():
        assert caller not in os.sched_getaffinity(tid)


@triton.jit
def reads_only_kernel(x_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.load(x_ptr + offs, mask=offs < n)


def test_async_launch_of_a_kernel_that_writes_nothing_still_signals():
    """A module whose kernel stores nothing dispatches nothing; its `launch_async` must still
    signal the caller's fence, or a caller waiting on it would hang."""
    import iree.runtime as rt
    from turbine_triton.runtime.compile import compile_kernel
    from turbine_triton.triton_frontend.capture import capture_jit
    x = torch.randn(100)
    compiled = compile_kernel(capture_jit(reads_only_kernel, x, 100, BLOCK=64))
    launcher = launch.Launcher(compiled.abi, vmfb=compiled.vmfb)
    module = launcher.module
    assert module.async_function is not None and not launcher._writes
    view, offset, _owner = module.views.bind(x, "x_ptr", "reads_only_kernel", "*fp32")
    sem = module.device.create_semaphore(0)
    fence = rt.HalFence.create_at(sem, 1)
    args = rt.VmVariantList(14)
    args.push_ref(view)
    for w in (offset, 100, 2, 1, 1, 0, 0, 0, 2, 1, 1):
        args.push_int(w)
    args.push_ref(fence)
    module.context.invoke(module.async_function, args, rt.VmVariantList(0))
    assert fence.wait(timeout=5_000_000_000)
    assert sem.query() >= 1
