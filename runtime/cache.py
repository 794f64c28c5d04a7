"""The on-disk kernel cache: atomic, checksummed entries that heal when corrupt.

An entry is a directory `<root>/<key>/` holding its files and a
`manifest.json` with a sha256 per file.  Entries are built in a private
temporary directory and renamed into place in one step, so a reader never
sees half an entry, two processes compiling the same kernel both succeed,
and a process killed mid-compile leaves only a stale temporary directory
that the next writer sweeps away.  A file whose checksum does not match
makes the whole entry count as missing; it is removed and rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from typing import Dict, Optional

MANIFEST = "manifest.json"
_STALE_TMP_SECONDS = 3600


def default_root() -> str:
    """`TURBINE_TRITON_CACHE_DIR`, else `$TRITON_CACHE_DIR/turbine_triton`, else `~/.triton/cache/turbine_triton`."""
    explicit = os.environ.get("TURBINE_TRITON_CACHE_DIR")
    if explicit:
        return explicit
    triton_dir = os.environ.get("TRITON_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".triton", "cache")
    return os.path.join(triton_dir, "turbine_triton")


def library_root() -> str:
    """Where loadable code lives (executable libraries, runtime/team.c built): beside the kernel
    cache, `<cache root>-libraries`, so the kernel cache holds kernel entries only."""
    return os.path.normpath(default_root()) + "-libraries"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class KernelCache:
    """A directory of compiled kernels keyed by content hash."""

    def __init__(self, root: Optional[str] = None):
        self.root = root or default_root()

    def path(self, key: str) -> str:
        return os.path.join(self.root, key)

    def get(self, key: str) -> Optional[Dict[str, bytes]]:
        """The entry's files, or None when absent or corrupt (a corrupt entry is removed)."""
        entry = self.path(key)
        try:
            with open(os.path.join(entry, MANIFEST)) as f:
                manifest = json.load(f)
            files = {}
            for name, digest in manifest["files"].items():
                with open(os.path.join(entry, name), "rb") as f:
                    data = f.read()
                if _digest(data) != digest:
                    raise ValueError(f"checksum mismatch in {name}")
                files[name] = data
            return files
        except FileNotFoundError:
            if os.path.isdir(entry):
                self._discard(entry)
            return None
        except (ValueError, KeyError, OSError):
            self._discard(entry)
            return None

    def put(self, key: str, files: Dict[str, bytes]) -> None:
        """Store an entry atomically; if another process won the race, keep theirs.

        A cache that cannot be written (disk full, read-only) costs a recompile
        next time, never the caller's kernel: the failure is a warning.
        """
        try:
            self._put(key, files)
        except OSError as e:
            warnings.warn(f"turbine-triton: could not write cache entry {key[:16]} under {self.root} ({e}); "
                          f"the kernel will be recompiled next time. Set TURBINE_TRITON_CACHE_DIR to a "
                          f"writable directory.", RuntimeWarning, stacklevel=3)

    def _put(self, key: str, files: Dict[str, bytes]) -> None:
        os.makedirs(self.root, exist_ok=True)
        self._sweep_stale()
        tmp = tempfile.mkdtemp(prefix=f".tmp-{key[:16]}-", dir=self.root)
        try:
            manifest = {"files": {}, "created": time.time()}
            for name, data in files.items():
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(data)
                manifest["files"][name] = _digest(data)
            with open(os.path.join(tmp, MANIFEST), "w") as f:
                json.dump(manifest, f)
            try:
                os.rename(tmp, self.path(key))
            except OSError:
                # Someone else stored it first (or a corrupt one is in the way).
                if self.get(key) is None:
                    self._discard(self.path(key))
                    try:
                        os.rename(tmp, self.path(key))
                    except OSError:
                        if self.get(key) is None:  # a third writer did not fix it either
                            raise
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def _discard(self, entry: str) -> None:
        trash = entry + f".trash-{os.getpid()}-{time.time_ns()}"
        try:
            os.rename(entry, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _sweep_stale(self) -> None:
        now = time.time()
        try:
            names = os.listdir(self.root)
        except OSError:
            return
        for name in names:
            if name.startswith(".tmp-") or ".trash-" in name:
                p = os.path.join(self.root, name)
                try:
                    if now - os.path.getmtime(p) > _STALE_TMP_SECONDS:
                        shutil.rmtree(p, ignore_errors=True)
                except OSError:
                    pass
