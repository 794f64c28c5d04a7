"""How the calling thread waits for a dispatch on IREE's workers.

IREE's semaphore wait, once woken, spins (`pause`) until the worker that signalled it has
finished its callback.  With as many workers as cores, the woken caller usually lands on a
core whose worker is still inside that callback and, being the fresher thread, preempts it:
it then spins for up to a scheduler slice (4-8 ms spikes among 1-2 ms softmax calls, and
0.4-0.9 ms of the caller's CPU per call; `perf` puts 60% of the caller's samples on that
spin).  `SCHED_BATCH` removes the wake-up preemption, so the caller runs when a core frees
up, which the worker does right after its callback.  The policy is switched for the wait
only (two syscalls, about 3.5 us here) and only from plain `SCHED_OTHER`, so a thread the
user gave another policy is left alone.  `TURBINE_TRITON_WAIT=plain` turns it off.
"""
from __future__ import annotations

import os

MODE = os.environ.get("TURBINE_TRITON_WAIT", "batch")


def _probe() -> bool:
    """Whether this thread may switch to SCHED_BATCH and back (Linux; not always in a sandbox)."""
    try:
        param = os.sched_param(0)
        if os.sched_getscheduler(0) != os.SCHED_OTHER:
            return True   # switching is decided per call; nothing to try here
        os.sched_setscheduler(0, os.SCHED_BATCH, param)
        os.sched_setscheduler(0, os.SCHED_OTHER, param)
        return True
    except (AttributeError, OSError):
        return False


ENABLED = MODE == "batch" and _probe()


def yielding(invoke):
    """`invoke` (a no-argument call that blocks on IREE's workers) run with the calling thread in
    `SCHED_BATCH` while it waits; `invoke` itself where that is off or unavailable."""
    if not ENABLED:
        return invoke
    get, set_, other, batch = os.sched_getscheduler, os.sched_setscheduler, os.SCHED_OTHER, os.SCHED_BATCH
    param = os.sched_param(0)

    def call():
        if get(0) != other:
            return invoke()
        set_(0, batch, param)
        try:
            return invoke()
        finally:
            set_(0, other, param)
    return call
