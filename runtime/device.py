"""The process-wide IREE runtime device (local-task on every core)."""
from __future__ import annotations

import functools
import os
import threading

from . import sched

_lock = threading.Lock()

# Stack a kernel may allocate (the compiler's limit), and each worker's stack: as big as a main
# thread's, because LLVM also spills whole-tile vectors there (a grid_sampler kernel overflowed
# IREE's 128 KiB default); untouched stack pages cost nothing.
STACK_LIMIT = 1024 * 1024
WORKER_STACK = 8 * 1024 * 1024


def allowed_cpus() -> list:
    """The logical CPU ids this process may run on, in order (all of them off Linux)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return list(range(os.cpu_count() or 1))


def core_count() -> int:
    """Cores this process may run on."""
    return len(allowed_cpus())


def topology_flags(workers: int, cpus: list, pin: bool) -> list:
    """IREE's task-topology flags for `workers` workers on `cpus`.

    With one worker per allowed CPU, worker i is pinned to the i-th CPU.  Left to the kernel's
    scheduler, two workers woken after an idle spell often share one vCPU while the other sits
    idle (`perf sched timehist`: one worker ran 1.8-2.3 ms of a softmax alone, against 1.0 ms
    each when they were spread).  IREE hands workgroups out dynamically, so a worker held up
    behind another process simply takes fewer of them.  Fewer workers than CPUs float."""
    if pin and 1 < workers == len(cpus):
        return ["--task_topology_cpu_ids=" + ",".join(map(str, cpus))]
    return [f"--task_topology_group_count={workers}"]


DEFAULT_DRIVER = os.environ.get("TURBINE_TRITON_DRIVER", "local-task")
# The workers' scheduler slice (see runtime/sched.py); 0 keeps the kernel's default.
WORKER_SLICE_US = int(os.environ.get("TURBINE_TRITON_WORKER_SLICE_US", "100"))
_workers = {}   # driver -> the ids of the worker threads its device started


def get_config(driver: str = DEFAULT_DRIVER):
    """The `iree.runtime.Config` for `driver`, created once per process (see `_config`)."""
    return _config(driver)


@functools.lru_cache(maxsize=None)
def _config(driver: str):
    """The `iree.runtime.Config` for `driver`, created once per process.

    local-task defaults to one worker per physical core; we ask for one per
    available core so every core runs workgroups, less the one the calling thread takes in split
    launches (`default_workers`; `TURBINE_TRITON_THREADS` overrides the count), each pinned to its
    core unless `TURBINE_TRITON_PIN=0` (see `topology_flags`), with a scheduler slice of
    `TURBINE_TRITON_WORKER_SLICE_US` (100 us; see `sched.py`).
    """
    import iree.runtime as rt
    _quiet_teardown()
    with _lock:
        if driver == "local-task":
            cpus = allowed_cpus()
            workers = int(os.environ.get("TURBINE_TRITON_THREADS", default_workers(len(cpus))))
            pin = os.environ.get("TURBINE_TRITON_PIN", "1") != "0"
            rt.flags.parse_flags(*topology_flags(workers, cpus, pin),
                                 f"--task_worker_stack_size={WORKER_STACK}")
            before = sched.thread_ids("iree-worker")
            config = rt.Config(driver)
            _workers[driver] = sched.new_threads("iree-worker", before, workers)
            if WORKER_SLICE_US > 0:
                for tid in _workers[driver]:
                    sched.set_slice(tid, WORKER_SLICE_US * 1000)
            return config
        return rt.Config(driver)


def default_workers(cores: int) -> int:
    """IREE workers for `cores` cores: one per core, less the calling thread's when launches are
    split between it and the workers (`runtime/split.py`)."""
    from . import split
    return cores - 1 if split.ENABLED and cores > 1 else cores


def worker_threads(driver: str = DEFAULT_DRIVER) -> set:
    """The thread ids of the IREE workers that `get_config(driver)` started (empty for local-sync)."""
    get_config(driver)
    return set(_workers.get(driver, ()))


def _quiet_teardown():
    """Kernels cached by Triton outlive nanobind's teardown check; that is not a leak."""
    try:
        from iree._runtime_libs import _runtime
        _runtime.disable_leak_checker()
    except (ImportError, AttributeError):  # pragma: no cover
        pass
