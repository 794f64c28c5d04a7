"""The process-wide IREE runtime device (local-task on every core)."""
from __future__ import annotations

import functools
import os
import threading

_lock = threading.Lock()

# Stack a kernel may allocate (the compiler's limit), and each worker's stack: as big as a main
# thread's, because LLVM also spills whole-tile vectors there (a grid_sampler kernel overflowed
# IREE's 128 KiB default); untouched stack pages cost nothing.
STACK_LIMIT = 1024 * 1024
WORKER_STACK = 8 * 1024 * 1024


def core_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=None)
def get_config(driver: str = os.environ.get("TURBINE_TRITON_DRIVER", "local-task")):
    """The `iree.runtime.Config` for `driver`, created once per process.

    local-task defaults to one worker per physical core; we ask for one per
    available core so every core runs workgroups.
    """
    import iree.runtime as rt
    _quiet_teardown()
    with _lock:
        if driver == "local-task":
            workers = int(os.environ.get("TURBINE_TRITON_THREADS", core_count()))
            rt.flags.parse_flags(f"--task_topology_group_count={workers}",
                                 f"--task_worker_stack_size={WORKER_STACK}")
        return rt.Config(driver)


def _quiet_teardown():
    """Kernels cached by Triton outlive nanobind's teardown check; that is not a leak."""
    try:
        from iree._runtime_libs import _runtime
        _runtime.disable_leak_checker()
    except (ImportError, AttributeError):  # pragma: no cover
        pass
