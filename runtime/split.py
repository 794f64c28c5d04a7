"""Launches shared between the calling thread and IREE's workers.

A launch on IREE's workers leaves the calling thread asleep: it pays a wake-up to start the
workers and another to be woken when they are done (85-105 us a launch on a 2-vCPU VM, where a
halted vCPU is woken through the host), and one core of the machine runs the caller's wait
instead of programs.  Torch's OpenMP team, which Inductor's C++ kernels run on, pays neither:
its master thread works, and its workers are still spinning from the last region.

A split launch works the same way.  It hands the programs from `k` on, along the grid's longest
axis, to the workers through the module's `launch_async` (which signals a fence when they are
done and returns at once), runs programs `[0, k)` on the calling thread through the local-sync
module, and then waits on the fence, which is usually signalled by then.  The task device has
one worker fewer than there are cores (`runtime/device.py`), since the caller is the last one.

`k` is balanced per launch shape (`Balance`).  A caller that finds the workers done takes fewer
programs next time; one that has to wait takes more, in bigger steps, so that the caller is
usually the one to finish last: an idle worker costs nothing, a sleeping caller a wake-up.

Split launches are opt-in (`TURBINE_TRITON_SPLIT=1`).  On their own they win: an in-place ReLU
over 16 MB took 0.41-0.43 ms against 0.45-0.53 ms on two workers, and softmax 4096x1024 rose
from 1.22x to 1.33x Inductor C++ in one pair of reports.  But next to torch they do not: inside
a compiled transformer block torch's OpenMP worker spins on the other core after every matmul,
our one worker shares that core with it, and the block's kernels took as long as on two workers
or longer; `tl.dot` 1024^3 fell from 0.67x to 0.61x `torch.mm` (a static split balances worse
than IREE's dynamic hand-out).  docs/PERFORMANCE.md (session 15) has the measurements.
"""
from __future__ import annotations

import ctypes
import os

ENABLED = (os.environ.get("TURBINE_TRITON_SPLIT", "0") == "1"
           and os.environ.get("TURBINE_TRITON_LAUNCH_MODE", "adaptive") not in ("task", "inline"))


class Placement:
    """Keeps IREE's workers off the calling thread's core.

    A woken worker that finds no idle core (torch's OpenMP workers spin on them after each
    parallel op) is put on the core of the thread that woke it, and with its short scheduler slice
    (`runtime/sched.py`) it then runs its whole part while the caller waits: a split launch no
    faster than the caller alone.  So the workers are pinned to the cores the caller is not on,
    and re-pinned when the caller moves (`sched_getcpu` each launch, a syscall only on a move)."""

    def __init__(self):
        self.cpu, self.getcpu = None, False   # looked up on first use, not at import

    def __call__(self):
        getcpu = self.getcpu
        if getcpu is False:
            getcpu = self.getcpu = _getcpu()
        if getcpu is None:
            return
        cpu = getcpu()
        if cpu != self.cpu and cpu >= 0:
            self.cpu = cpu
            from .device import allowed_cpus, worker_threads
            others = set(allowed_cpus()) - {cpu}
            for tid in worker_threads():
                try:
                    os.sched_setaffinity(tid, others)
                except OSError:   # the thread exited, or the caller may not run there
                    pass


def _getcpu():
    try:
        return ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):   # pragma: no cover - not glibc
        return None


place_workers = Placement()


class Balance:
    """How many programs along the split axis the calling thread runs, adjusted per launch."""
    __slots__ = ("share", "n", "up", "down")

    def __init__(self, n: int):
        self.n = n
        self.share = (n + 1) // 2
        # grow by ~3% of the axis when the caller waited, shrink by ~0.4% when it did not: it
        # waits in about one launch in nine once balanced
        self.up, self.down = max(1, n // 32), max(1, n // 256)

    def update(self, caller_waited: bool) -> None:
        """Record whether the calling thread had to wait for the workers."""
        if caller_waited:
            self.share = min(self.n - 1, self.share + self.up)
        else:
            self.share = max(1, self.share - self.down)


def split_axis(grid) -> int:
    """The axis a grid is split along: its longest (the first of equals)."""
    return max(range(3), key=lambda d: (grid[d], -d))


def parts(grid, axis: int, share: int):
    """(workgroups, program offsets) of the calling thread's part and of the workers' part of
    `grid` when the caller runs the first `share` programs along `axis`."""
    mine, theirs, offset = list(grid), list(grid), [0, 0, 0]
    mine[axis], theirs[axis], offset[axis] = share, grid[axis] - share, share
    return (tuple(mine), (0, 0, 0)), (tuple(theirs), tuple(offset))


class SplitCall:
    """One launch, bound to its arguments, run by the calling thread and the workers together.

    `refs` are the buffer views and `words` the element offsets and scalars, in the host
    function's order; `task` is the module on IREE's workers and `inline` the same module on
    local-sync.  Used by one thread at a time (launch-cache entries are taken out while in use),
    so the semaphore it signals through is its own."""
    __slots__ = ("rt", "task", "inline", "refs", "words", "grid", "axis", "balance", "sem",
                 "value", "out")

    def __init__(self, task, inline, refs, words, grid, balance: Balance):
        import iree.runtime as rt
        self.rt = rt
        self.task = (task.context, task.async_function)
        self.inline = (inline.context, inline.function)
        self.refs, self.words, self.grid = tuple(refs), tuple(words), tuple(grid)
        self.axis = split_axis(grid)
        self.balance = balance
        self.sem, self.value = task.device.create_semaphore(0), 0
        self.out = rt.VmVariantList(0)

    def _args(self, workgroups, offsets, fence=None):
        rt = self.rt
        args = rt.VmVariantList(len(self.refs) + len(self.words) + 10)
        for r in self.refs:
            args.push_ref(r)
        for w in (*self.words, *workgroups, *offsets, *self.grid):
            args.push_int(w)
        if fence is not None:
            args.push_ref(fence)
        return args

    def __call__(self):
        place_workers()
        balance = self.balance
        (mine, zero), (theirs, offset) = parts(self.grid, self.axis, balance.share)
        self.value += 1
        fence = self.rt.HalFence.create_at(self.sem, self.value)
        context, function = self.task
        context.invoke(function, self._args(theirs, offset, fence), self.out)
        try:
            context, function = self.inline
            context.invoke(function, self._args(mine, zero), self.out)
        finally:
            # the workers may still be writing the caller's buffers: never return before them
            waited = self.sem.query() < self.value
            if waited:
                fence.wait()
        balance.update(waited)
