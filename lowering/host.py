"""What a module compiled for this host depends on: the CPU and its caches.

Kernels are compiled with `--iree-llvmcpu-target-cpu=host`, so a cached module is only
valid on the same CPU model and features (an AVX-512 module faults on an AVX2 machine):
`fingerprint()` goes into every cache key.  The last-level cache size decides when plain
stores become streaming stores (`streaming_store_min_bytes`).
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform

# When the cache size cannot be read (non-Linux).
_DEFAULT_LLC = 32 * 1024 * 1024
# The most last-level cache assumed ours: a guest reads the host's whole shared L3 (480 MiB on
# a 2-vCPU Xeon VM, where plain stores still won at 32 MB outputs and streaming stores from 64 MB).
_LLC_ASSUMED_MAX = 128 * 1024 * 1024


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _size(text: str) -> int:
    text = text.strip().upper()
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text) if text.isdigit() else 0


@functools.lru_cache(maxsize=1)
def last_level_cache_bytes() -> int:
    """Size of the largest data/unified cache of CPU 0 (sysfs), else 32 MiB."""
    best, root = 0, "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return _DEFAULT_LLC
    for e in entries:
        if e.startswith("index") and _read(f"{root}/{e}/type").strip() in ("Data", "Unified"):
            best = max(best, _size(_read(f"{root}/{e}/size")))
    return best or _DEFAULT_LLC


@functools.lru_cache(maxsize=1)
def streaming_store_min_bytes() -> int:
    """Destination buffers at least this large get non-temporal stores (0: never); read once
    per process, as it is part of every cache key.

    A launch whose output is half the last-level cache or more also reads about as much, so
    its output will not be in cache for the next kernel anyway; a plain store would first
    read every destination line (a third more memory traffic for a copy or add).  The cache
    counted is at most `_LLC_ASSUMED_MAX`.  Set `TURBINE_TRITON_STREAMING_STORES` to a byte
    count to override, or to 0 to turn it off.
    """
    env = os.environ.get("TURBINE_TRITON_STREAMING_STORES")
    if env is not None and env.strip() != "":
        return max(int(env), 0)
    return min(last_level_cache_bytes(), _LLC_ASSUMED_MAX) // 2


@functools.lru_cache(maxsize=1)
def _cpu_identity() -> str:
    info = _read("/proc/cpuinfo")
    keep = []
    for line in info.splitlines():
        key = line.split(":", 1)[0].strip()
        if key in ("vendor_id", "cpu family", "model", "model name", "flags") and line not in keep:
            keep.append(line)
        if key == "flags":
            break   # the first CPU describes them all
    return "\n".join(keep) or f"{platform.machine()} {platform.processor()}"


@functools.lru_cache(maxsize=1)
def vector_bytes() -> int:
    """Width of the host's widest vector registers (`target-cpu=host` code uses them): 64 with
    AVX-512, 32 with AVX, else 16 (SSE, NEON)."""
    flags = set()
    for line in _cpu_identity().splitlines():
        if line.split(":", 1)[0].strip() == "flags":
            flags = set(line.split(":", 1)[1].split())
    if "avx512f" in flags:
        return 64
    return 32 if "avx" in flags else 16


def fingerprint() -> str:
    """A digest of the host CPU and the host-dependent lowering settings."""
    parts = (_cpu_identity(), str(streaming_store_min_bytes()))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
