"""How the caller waits on IREE's workers: SCHED_BATCH for the wait only, read back from the OS.

The policy the kernel reports (`os.sched_getscheduler`, `/proc/.../stat`) is the reference: a
launch on the workers must wait in SCHED_BATCH and leave the thread exactly as it found it.
"""
import os
import threading

import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime import launch, wait

pytestmark = pytest.mark.skipif(not wait.ENABLED, reason="SCHED_BATCH is off or not available here")


def _policy_of(tid: int) -> int:
    """A thread's scheduling policy as the kernel reports it (field 41 of its stat line)."""
    with open(f"/proc/self/task/{tid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[38])


def test_the_wait_runs_in_sched_batch_and_restores_the_policy():
    seen = []
    wait.yielding(lambda: seen.append(os.sched_getscheduler(0)))()
    assert seen == [os.SCHED_BATCH]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_the_policy_is_restored_when_the_call_raises():
    def boom():
        raise RuntimeError("dispatch failed")
    with pytest.raises(RuntimeError, match="dispatch failed"):
        wait.yielding(boom)()
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_a_thread_with_its_own_policy_is_left_alone():
    # SCHED_BATCH set by the user must still be SCHED_BATCH afterwards (not "restored" to
    # SCHED_OTHER); a helper thread, so the test runner's own thread is never touched
    def in_thread(out):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        wait.yielding(lambda: out.append(os.sched_getscheduler(0)))()
        out.append(os.sched_getscheduler(0))
    out = []
    t = threading.Thread(target=in_thread, args=(out,))
    t.start()
    t.join()
    assert out == [os.SCHED_BATCH, os.SCHED_BATCH]


def test_the_nice_value_survives_the_wait():
    def nice_in_thread(out):
        os.setpriority(os.PRIO_PROCESS, 0, 5)   # this thread only (Linux)
        wait.yielding(lambda: out.append(os.getpriority(os.PRIO_PROCESS, 0)))()
        out.append(os.getpriority(os.PRIO_PROCESS, 0))
    out = []
    t = threading.Thread(target=nice_in_thread, args=(out,))
    t.start()
    t.join()
    assert out == [5, 5]


@triton.jit
def _spin_kernel(x_ptr, y_ptr, n_iter, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    acc = x
    for _ in range(n_iter):
        acc = acc * 0.5 + x
    tl.store(y_ptr + offs, acc)


def test_a_launch_on_the_workers_waits_in_sched_batch(monkeypatch):
    """Another thread watches the launching thread's policy through /proc while a long kernel runs."""
    monkeypatch.setattr(launch, "LAUNCH_MODE", "task")
    block, n_iter = 256, 2_000_000
    x = torch.rand(2 * block)
    y = torch.empty_like(x)
    _spin_kernel[(2,)](x, y, 1, BLOCK=block)   # compile and warm outside the watched launch
    tid, seen, done = threading.get_native_id(), set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.add(_policy_of(tid))
            done.wait(0.0005)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(3):
            _spin_kernel[(2,)](x, y, n_iter, BLOCK=block)
    finally:
        done.set()
        watcher.join()
    assert os.SCHED_BATCH in seen
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    # the recurrence's fixed point: acc = 2x (within rounding after many halvings)
    torch.testing.assert_close(y, 2 * x)
