"""Versions that change what a cached kernel means."""
import functools
import hashlib


@functools.lru_cache(maxsize=1)
def fingerprint() -> str:
    """A digest of the pinned toolchain plus our own version."""
    import triton
    import iree.compiler
    import turbine_triton
    parts = [
        "turbine-triton", getattr(turbine_triton, "__version__", "0"),
        "triton", triton.__version__,
        "iree", getattr(iree.compiler, "__version__", None) or _iree_version(),
    ]
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _iree_version() -> str:
    try:
        from iree.compiler import version
        return version.VERSION
    except Exception:  # pragma: no cover - older layouts
        return "unknown"
