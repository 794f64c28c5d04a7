"""Scheduler slices for IREE's worker threads (Linux `sched_setattr`).

Linux's EEVDF scheduler (6.6+) lets a task that wakes up preempt the running one only once it
is due, and from 6.12 a task with a shorter slice (`sched_attr.sched_runtime`, 0.1-100 ms) is due
sooner.  Next to torch, whose OpenMP workers keep spinning on the cores after each parallel op,
an IREE worker woken for our dispatch otherwise waits for the spinner's slice (1.4 ms on this
2-vCPU VM) before it runs.  The workers' slices are shortened; the calling thread is left alone.
"""
from __future__ import annotations

import ctypes
import os
import platform
import time

# sched_setattr / sched_getattr syscall numbers
_SYSCALLS = {"x86_64": (314, 315), "aarch64": (274, 275), "arm64": (274, 275)}


class _SchedAttr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("policy", ctypes.c_uint32), ("flags", ctypes.c_uint64),
                ("nice", ctypes.c_int32), ("priority", ctypes.c_uint32), ("runtime", ctypes.c_uint64),
                ("deadline", ctypes.c_uint64), ("period", ctypes.c_uint64),
                ("util_min", ctypes.c_uint32), ("util_max", ctypes.c_uint32)]


def _libc():
    if platform.system() != "Linux" or platform.machine() not in _SYSCALLS:
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover
        return None


_LIBC = _libc()


def get_slice(tid: int) -> int:
    """Thread `tid`'s scheduler slice in ns (`sched_runtime`); raises OSError where unsupported."""
    if _LIBC is None:
        raise OSError("sched_getattr is Linux-only here")
    attr = _SchedAttr()
    if _LIBC.syscall(_SYSCALLS[platform.machine()][1], tid, ctypes.byref(attr), ctypes.sizeof(attr), 0):
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return attr.runtime


def set_slice(tid: int, ns: int) -> bool:
    """Give thread `tid` a slice of `ns` (its policy and nice value kept); False where refused."""
    if _LIBC is None:
        return False
    attr = _SchedAttr()
    setattr_, getattr_ = _SYSCALLS[platform.machine()]
    if _LIBC.syscall(getattr_, tid, ctypes.byref(attr), ctypes.sizeof(attr), 0):
        return False
    if attr.policy not in (os.SCHED_OTHER, os.SCHED_BATCH):
        return False   # someone gave it a real-time or idle policy: theirs to keep
    attr.size, attr.flags, attr.runtime = ctypes.sizeof(attr), 0, ns
    return _LIBC.syscall(setattr_, tid, ctypes.byref(attr), 0) == 0


def thread_ids(prefix: str) -> set:
    """Ids of this process's threads whose name starts with `prefix`."""
    found = set()
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().startswith(prefix):
                    found.add(int(tid))
        except OSError:
            continue   # the thread exited
    return found


def new_threads(prefix: str, before: set, count: int, timeout: float = 0.5) -> set:
    """The threads named `prefix*` that are not in `before`, waiting up to `timeout` s for
    `count` of them (IREE starts its workers asynchronously)."""
    if not os.path.isdir("/proc/self/task"):
        return set()   # no way to name threads here
    deadline = time.monotonic() + timeout
    while True:
        found = thread_ids(prefix) - before
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.001)
