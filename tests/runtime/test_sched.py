"""Scheduler slices: what `sched_getattr` reads back for our workers and for helper threads."""
import ctypes
import os
import threading

import pytest

from turbine_triton.runtime import device, sched

pytestmark = pytest.mark.skipif(sched._LIBC is None or not os.path.isdir("/proc/self/task"),
                                reason="needs Linux sched_setattr and /proc")


class _Idle:
    """A helper thread parked on an event, for its thread id."""

    def __enter__(self):
        self.go, ready = threading.Event(), threading.Event()
        self.tid = None

        def park():
            ctypes.CDLL(None).prctl(15, b"slice-helper", 0, 0, 0)   # PR_SET_NAME: /proc's comm
            self.tid = threading.get_native_id()
            ready.set()
            self.go.wait()
        self.thread = threading.Thread(target=park, name="slice-helper")
        self.thread.start()
        ready.wait()
        return self

    def __exit__(self, *exc):
        self.go.set()
        self.thread.join()


def _custom_slices() -> bool:
    """Whether this kernel keeps a fair thread's requested slice (Linux 6.12+)."""
    with _Idle() as t:
        return sched.set_slice(t.tid, 300_000) and sched.get_slice(t.tid) == 300_000


def test_set_slice_keeps_policy_and_nice():
    if not _custom_slices():
        pytest.skip("the kernel does not keep custom slices for fair threads")
    with _Idle() as t:
        os.setpriority(os.PRIO_PROCESS, t.tid, 5)   # raising nice needs no privilege
        assert sched.set_slice(t.tid, 200_000)
        assert sched.get_slice(t.tid) == 200_000
        assert os.getpriority(os.PRIO_PROCESS, t.tid) == 5
        assert os.sched_getscheduler(t.tid) == os.SCHED_OTHER


def test_an_idle_policy_thread_is_left_alone():
    with _Idle() as t:
        before = sched.get_slice(t.tid)
        os.sched_setscheduler(t.tid, os.SCHED_IDLE, os.sched_param(0))
        assert not sched.set_slice(t.tid, 150_000)
        assert sched.get_slice(t.tid) == before
        assert os.sched_getscheduler(t.tid) == os.SCHED_IDLE


def test_new_threads_finds_only_the_new_ones():
    before = sched.thread_ids("slice-helper")
    with _Idle() as t:
        assert sched.new_threads("slice-helper", before, 1) == {t.tid}
        assert sched.new_threads("slice-helper", {t.tid} | before, 1, timeout=0.01) == set()


def test_the_workers_have_the_short_slice():
    if device.WORKER_SLICE_US <= 0:
        pytest.skip("TURBINE_TRITON_WORKER_SLICE_US=0 keeps the default slice")
    if not _custom_slices():
        pytest.skip("the kernel does not keep custom slices for fair threads")
    tids = device.worker_threads()
    assert len(tids) == len(device.allowed_cpus()) or "TURBINE_TRITON_THREADS" in os.environ
    for tid in tids:
        with open(f"/proc/self/task/{tid}/comm") as f:
            assert f.read().startswith("iree-worker")
        assert sched.get_slice(tid) == device.WORKER_SLICE_US * 1000
