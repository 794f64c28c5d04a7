"""Versions that change what a cached kernel means."""
import functools
import hashlib
import os

# Environment switches that change what the lowering emits (for debugging and A/B runs); a
# kernel compiled with one setting must not be served under another.
LOWERING_SWITCHES = ("TURBINE_TRITON_CHUNKING", "TURBINE_TRITON_VERSIONING", "TURBINE_TRITON_ORIENT")


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """A digest of the pinned toolchain, our own lowering code and the host CPU.

    Our sources are hashed (not just our version string) so that a change to
    a lowering rule can never be served a stale compiled kernel.
    """
    import triton
    import turbine_triton
    from ..lowering import host
    parts = ["turbine-triton", turbine_triton.__version__, "triton", triton.__version__,
             "iree", _iree_version(), _source_digest(), "host", host.fingerprint()]
    parts += [f"{k}={os.environ.get(k, '')}" for k in LOWERING_SWITCHES]
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _iree_version() -> str:
    try:
        from iree.compiler import version
        return version.VERSION
    except Exception:  # pragma: no cover - older layouts
        return "unknown"


def _source_digest() -> str:
    # the code that decides what a compiled module contains (the runtime's
    # compile flags are part of the cache key separately)
    from .. import lowering
    from . import parser
    h = hashlib.sha256()
    for pkg_dir in (os.path.dirname(lowering.__file__), os.path.dirname(parser.__file__)):
        for root, dirs, files in os.walk(pkg_dir):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    with open(os.path.join(root, name), "rb") as f:
                        h.update(name.encode())
                        h.update(f.read())
    return h.hexdigest()
