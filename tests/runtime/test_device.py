"""The shared IREE device: one worker per allowed CPU, pinned, as the OS reports the threads."""
import os

import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime import device


def test_one_worker_per_cpu_is_pinned():
    assert device.topology_flags(2, [0, 1], pin=True) == ["--task_topology_cpu_ids=0,1"]
    assert device.topology_flags(3, [2, 5, 7], pin=True) == ["--task_topology_cpu_ids=2,5,7"]


@pytest.mark.parametrize("workers, cpus, pin", [(2, [0, 1], False), (1, [0, 1], True), (2, [0, 1, 2, 3], True),
                                                (1, [3], True)])
def test_other_topologies_float(workers, cpus, pin):
    assert device.topology_flags(workers, cpus, pin) == [f"--task_topology_group_count={workers}"]


@triton.jit
def _inc(x_ptr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(x_ptr + offs, tl.load(x_ptr + offs) + 1)


def _thread_cpus() -> dict:
    """name -> list of each such thread's allowed-CPU list, from /proc."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/status") as f:
            fields = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
        out.setdefault(fields["Name"], []).append(fields["Cpus_allowed_list"].strip())
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_the_workers_run_pinned_one_per_cpu():
    cpus = device.allowed_cpus()
    if (len(cpus) < 2 or os.environ.get("TURBINE_TRITON_PIN", "1") == "0"
            or os.environ.get("TURBINE_TRITON_THREADS") or device.DEFAULT_DRIVER != "local-task"):
        pytest.skip("pinning applies to local-task with one worker per allowed CPU")
    x = torch.zeros(64)
    _inc[(4,)](x, BLOCK=16)   # four programs: the task system, so its workers exist
    torch.testing.assert_close(x, torch.ones(64))
    workers = sorted(v for name, vs in _thread_cpus().items() if name.startswith("iree-worker") for v in vs)
    assert workers == sorted(str(c) for c in cpus)
