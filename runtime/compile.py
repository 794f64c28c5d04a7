"""Compile a captured kernel to an IREE module, through the on-disk cache."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Optional

from ..lowering.abi import KernelAbi
from ..triton_frontend.capture import CapturedKernel
from ..triton_frontend.versions import fingerprint
from .cache import KernelCache
from .errors import CompileError
from .inprocess import compile_text

from .device import STACK_LIMIT

# Flags for the host CPU; part of every cache key.
CPU_FLAGS = (
    "--iree-hal-target-device=local",
    "--iree-hal-local-target-device-backends=llvm-cpu",
    "--iree-llvmcpu-target-cpu=host",
    "--iree-llvmcpu-fail-on-large-vector=false",
    # Triton kernels mean f64 when they say f64
    "--iree-input-demote-f64-to-f32=false",
    # Big tiles (scans through a stack copy, wide dot/attention tiles) need more than IREE's
    # 32 KiB default; workers get a stack to match (runtime/device.py).
    f"--iree-llvmcpu-stack-allocation-limit={STACK_LIMIT}",
)


@dataclass(frozen=True)
class CompiledKernel:
    """A compiled kernel: the `.vmfb`, its ABI, and the key it is cached under."""
    name: str
    vmfb: bytes
    abi: KernelAbi
    key: str
    mlir: Optional[str] = None


def cache_key(kernel: CapturedKernel, flags=CPU_FLAGS) -> str:
    """Digest of everything that changes the compiled module."""
    h = hashlib.sha256()
    for part in (kernel.ttir, json.dumps(kernel.signature, sort_keys=True),
                 kernel.options.hash(), fingerprint(), " ".join(flags)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def dump_dir() -> Optional[str]:
    """Where every stage's IR is written, if `TURBINE_TRITON_DUMP_DIR` is set."""
    return os.environ.get("TURBINE_TRITON_DUMP_DIR") or None


def _dump(name: str, key: str, stages: dict) -> None:
    d = dump_dir()
    if not d:
        return
    os.makedirs(d, exist_ok=True)
    for ext, data in stages.items():
        if data is None:
            continue
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(d, f"{name}.{key[:8]}.{ext}"), mode) as f:
            f.write(data)


def compile_kernel(kernel: CapturedKernel, cache: Optional[KernelCache] = None) -> CompiledKernel:
    """Lower and compile `kernel`, or load it from the cache when present."""
    cache = cache or KernelCache()
    key = cache_key(kernel)
    hit = cache.get(key)
    if hit is not None:
        abi = KernelAbi.from_json(hit["abi.json"].decode())
        mlir = hit.get("kernel.mlir", b"").decode() or None
        _dump(kernel.name, key, {"ttir": kernel.ttir, "mlir": mlir, "vmfb": hit["kernel.vmfb"]})
        return CompiledKernel(kernel.name, hit["kernel.vmfb"], abi, key, mlir)
    from ..lowering.pipeline import lower
    lowered = lower(kernel)
    vmfb = compile_mlir(lowered.mlir, kernel.name)
    cache.put(key, {"kernel.vmfb": vmfb, "abi.json": lowered.abi.to_json().encode(),
                    "kernel.mlir": lowered.mlir.encode(), "kernel.ttir": kernel.ttir.encode()})
    _dump(kernel.name, key, {"ttir": kernel.ttir, "mlir": lowered.mlir, "vmfb": vmfb})
    return CompiledKernel(kernel.name, vmfb, lowered.abi, key, lowered.mlir)


def compile_mlir(text: str, name: str, flags=CPU_FLAGS) -> bytes:
    """Compile a module for the host (in process, else `iree-compile`); failures raise
    `CompileError` with IREE's diagnostic and a reproducer."""
    import iree.compiler as ic
    vmfb = compile_text(text, flags)
    if vmfb is not None:
        return vmfb
    try:
        return ic.compile_str(text, extra_args=list(flags))
    except ic.CompilerToolError as e:
        fd, path = tempfile.mkstemp(prefix=f"turbine_triton_{name}_", suffix=".mlir")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        raise CompileError(name, _short_diagnostic(str(e)), path) from None


def _short_diagnostic(text: str, limit: int = 40) -> str:
    lines = [l for l in text.splitlines() if "error" in l or "note" in l] or text.splitlines()
    return "\n".join(lines[:limit])
