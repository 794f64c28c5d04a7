"""Launch a kernel's workgroups on torch's OpenMP team.

Inductor's C++ kernels run on torch's OpenMP threads, which are still spinning from the last
parallel op when the next kernel starts.  IREE's workers are asleep by then; waking them costs
tens of microseconds, and on a small VM a woken worker shares its core with the spinning torch
thread.  Inside a compiled transformer block our kernels therefore got one core's worth of
time where Inductor's got two (docs/PERFORMANCE.md, session 16).

So a launch here calls the kernel's dispatch function (`runtime/library.py`) once per
workgroup itself, from a small C loop (`team.c`) that `GOMP_parallel` runs on torch's own
team: the workers torch's ops left spinning take workgroups at once, `torch.set_num_threads`
applies, and a one-program launch is one C call.  The IREE module is still loaded for every
kernel; launches this path cannot take (device asserts and prints, unaligned storages, a
layout it does not recognise) go through `iree.runtime` as before.

`team.c` is compiled once per machine with the C compiler torch's Inductor uses (`cc`, or
`$CC`), into the kernel cache.  Without one, or without an OpenMP build of torch, `Team`
reports why and every launch goes through `iree.runtime`.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from typing import Optional

from .cache import KernelCache, library_root
from .device import STACK_LIMIT

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "team.c")
MAX_CONSTANTS, MAX_BINDINGS = 64, 32   # team.c's TT_MAX_*
# A thread with less stack left than this takes no workgroups (team.c): the compiler's stack
# limit for the kernel's own allocations, and as much again for LLVM's spills.
STACK_NEED = 2 * STACK_LIMIT


class _DispatchState(ctypes.Structure):
    _fields_ = [("workgroup_size_x", ctypes.c_uint32), ("workgroup_size_y", ctypes.c_uint32),
                ("workgroup_size_z", ctypes.c_uint16), ("constant_count", ctypes.c_uint16),
                ("workgroup_count_x", ctypes.c_uint32), ("workgroup_count_y", ctypes.c_uint32),
                ("workgroup_count_z", ctypes.c_uint16), ("max_concurrency", ctypes.c_uint8),
                ("binding_count", ctypes.c_uint8), ("constants", ctypes.c_void_p),
                ("binding_ptrs", ctypes.c_void_p), ("binding_lengths", ctypes.c_void_p)]


class Job(ctypes.Structure):
    """team.c's `job_t`: one launch's dispatch state and its arrays."""
    _fields_ = [("fn", ctypes.c_void_p), ("environment", ctypes.c_void_p),
                ("local_bytes", ctypes.c_uint32), ("total", ctypes.c_uint32),
                ("next", ctypes.c_uint32), ("status", ctypes.c_int32),
                ("dispatch", _DispatchState),
                ("constants", ctypes.c_uint32 * MAX_CONSTANTS),
                ("binding_ptrs", ctypes.c_void_p * MAX_BINDINGS),
                ("binding_lengths", ctypes.c_size_t * MAX_BINDINGS)]


class TeamError(RuntimeError):
    """A launch on the team failed: a dispatch returned nonzero, or no thread had the stack."""


class Team:
    """torch's OpenMP team and the compiled `team.c`; `available` says whether launches can
    use them and `reason` why not."""

    def __init__(self):
        self.available, self.reason, self._launch = False, "", None
        try:
            self._setup()
        except (OSError, subprocess.SubprocessError, AttributeError, ValueError) as e:
            self.reason = self.reason or f"{type(e).__name__}: {e}"
            self.available = False

    def _setup(self):
        entries = _openmp_entries()
        if entries is None:
            self.reason = "torch is not built with OpenMP (its ATen parallel backend)"
            return
        stack = _omp_stack_bytes()
        if stack is not None and stack < STACK_NEED:
            self.reason = (f"OMP_STACKSIZE gives OpenMP threads {stack} bytes of stack, less than the "
                           f"{STACK_NEED} a kernel may need")
            return
        lib = _build_team()
        if lib is None:
            self.reason = "no C compiler to build runtime/team.c (set CC, or install cc)"
            return
        lib.tt_team_job_size.restype = ctypes.c_size_t
        lib.tt_team_dispatch_offset.restype = ctypes.c_size_t
        lib.tt_team_constants_offset.restype = ctypes.c_size_t
        if (lib.tt_team_job_size() != ctypes.sizeof(Job)
                or lib.tt_team_dispatch_offset() != Job.dispatch.offset
                or lib.tt_team_constants_offset() != Job.constants.offset):
            self.reason = "team.c's job layout differs from team.py's"
            return
        lib.tt_team_init.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_size_t]
        lib.tt_team_init(*entries, STACK_NEED)
        lib.tt_team_launch.argtypes = [ctypes.c_void_p]
        lib.tt_team_launch.restype = ctypes.c_int
        self._lib, self._launch = lib, lib.tt_team_launch
        self.available = True

    def job(self, export, bindings, lengths, constants, grid) -> "TeamCall":
        """A call that runs `grid` workgroups of `export` with these binding addresses and
        lengths and these 32-bit constants (the caller checked their counts)."""
        job = Job()
        job.fn, job.environment = export.function, ctypes.addressof(export.environment)
        job.local_bytes = export.local_bytes
        gx, gy, gz = grid
        job.total = gx * gy * gz
        d = job.dispatch
        d.workgroup_size_x = d.workgroup_size_y = d.workgroup_size_z = 1
        d.constant_count, d.binding_count = len(constants), len(bindings)
        d.workgroup_count_x, d.workgroup_count_y, d.workgroup_count_z = gx, gy, gz
        d.constants = ctypes.addressof(job.constants)
        d.binding_ptrs = ctypes.addressof(job.binding_ptrs)
        d.binding_lengths = ctypes.addressof(job.binding_lengths)
        job.constants[:len(constants)] = constants
        job.binding_ptrs[:len(bindings)] = bindings
        job.binding_lengths[:len(lengths)] = lengths
        return TeamCall(self._launch, job, export)


class TeamCall:
    """One filled launch: calling it runs every workgroup and returns when they are done."""
    __slots__ = ("launch", "job", "address", "export")

    def __init__(self, launch, job: Job, export):
        self.launch, self.job, self.export = launch, job, export   # export: keeps the code mapped
        self.address = ctypes.addressof(job)

    def __call__(self):
        status = self.launch(self.address)
        if status:
            raise TeamError(f"{self.export.name}: " + (
                "no OpenMP thread had the stack a kernel may need; raise OMP_STACKSIZE or ulimit -s"
                if status == -1 else f"the dispatch function returned {status}"))


def _omp_stack_bytes():
    """The OpenMP threads' stack size set by `OMP_STACKSIZE`/`GOMP_STACKSIZE` (a number with
    an optional B/K/M/G suffix, K when none), or None when unset or unreadable."""
    text = os.environ.get("OMP_STACKSIZE") or os.environ.get("GOMP_STACKSIZE")
    m = re.fullmatch(r"\s*(\d+)\s*([bkmgBKMG]?)\s*", text or "")
    if not m:
        return None
    return int(m.group(1)) * {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[(m.group(2) or "k").lower()]


def _openmp_entries():
    """(GOMP_parallel, omp_get_max_threads, omp_get_thread_num) of the OpenMP runtime torch
    loaded, as addresses, or None when torch does not run on OpenMP."""
    import torch
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    for path in _loaded_openmp_paths():
        try:
            lib = ctypes.CDLL(path)   # already mapped by torch: the same handle, the same team
            return tuple(ctypes.cast(getattr(lib, s), ctypes.c_void_p).value
                         for s in ("GOMP_parallel", "omp_get_max_threads", "omp_get_thread_num"))
        except (OSError, AttributeError):
            continue
    return None


def _loaded_openmp_paths() -> list:
    """Paths of the OpenMP runtimes mapped into this process (GNU first, then LLVM/Intel,
    which also export the GOMP entry points)."""
    found = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(None, 1)[-1] if "/" in line else ""
                base = os.path.basename(path)
                if base.startswith(("libgomp", "libiomp", "libomp")) and path not in found:
                    found.append(path)
    except OSError:
        return []
    return sorted(found, key=lambda p: not os.path.basename(p).startswith("libgomp"))


def compiler() -> Optional[str]:
    """The C compiler `team.c` is built with: `$CC`, else `cc`, else None."""
    cc = os.environ.get("CC") or "cc"
    return shutil.which(cc)


def _build_team(cache: Optional[KernelCache] = None):
    """`team.c` built as a shared library in the kernel cache (once per machine) and loaded,
    or None without a C compiler."""
    cc = compiler()
    if cc is None:
        return None
    with open(SOURCE, "rb") as f:
        source = f.read()
    # the compiler named by its resolved path, size and mtime: no process started per run
    st = os.stat(os.path.realpath(cc))
    compiler_id = f"{os.path.realpath(cc)}|{st.st_size}|{st.st_mtime_ns}".encode()
    key = "team-" + hashlib.sha256(source + b"\0" + compiler_id).hexdigest()
    cache = cache or KernelCache(library_root())
    if cache.get(key) is None:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "team.so")
            r = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", out, SOURCE, "-lpthread"],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise OSError(f"{cc} failed on team.c: {r.stderr.strip()[:400]}")
            with open(out, "rb") as f:
                cache.put(key, {"team.so": f.read()})
        if cache.get(key) is None:
            raise OSError(f"team.so could not be stored under {cache.root}")
    return ctypes.CDLL(os.path.join(cache.path(key), "team.so"))


@functools.lru_cache(maxsize=1)
def team() -> Team:
    """The process's `Team`, set up on first use; says once, as a warning, when it is
    unavailable (launches are then slower, never different)."""
    t = Team()
    if not t.available:
        warnings.warn(f"turbine-triton: kernels launch through iree.runtime, not on torch's OpenMP team: "
                      f"{t.reason}", RuntimeWarning, stacklevel=2)
    return t
