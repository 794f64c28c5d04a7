"""Run an exported module in-process: torch tensors in, torch tensors out, through `iree.runtime`."""
from __future__ import annotations

import numpy as np
import torch

# Vulkan imports host memory only at this alignment (minImportedHostPointerAlignment).
STAGING_ALIGNMENT = 4096


class LoadedExport:
    """A `.vmfb` loaded on a driver's device, with its entry function."""

    def __init__(self, vmfb: bytes, driver: str, function: str):
        import iree.runtime as rt
        self._rt = rt
        self.driver = driver
        if driver == "local-task":
            from ..runtime.device import get_config
            self.config = get_config()
        else:
            self.config = rt.Config(driver)
        self.vm_module = rt.VmModule.copy_buffer(self.config.vm_instance, vmfb)
        self.context = rt.SystemContext(vm_modules=[self.vm_module], config=self.config)
        self.fn = self.context.modules[self.vm_module.name][function]

    def call(self, tensors):
        # Export's convenience runner: graph inputs go in by value through IREE's
        # function invoker, which copies numpy inputs anyway (shared/FINDINGS.md);
        # `.contiguous()` is a no-op for the contiguous tensors export traces with.
        # Kernel launches (runtime/launch.py) never take this path.
        args = [t.detach().contiguous().numpy() for t in tensors]
        res = self.fn(*args)
        if not isinstance(res, (tuple, list)):
            res = (res,)
        return [self._to_torch(r) for r in res]

    def _to_torch(self, r) -> torch.Tensor:
        if self.driver == "local-task" or self.driver == "local-sync":
            return torch.from_numpy(np.array(r.to_host(), copy=True))
        return torch.from_numpy(read_back_aligned(self.config.device, r))


def aligned_empty(nbytes: int, alignment: int = STAGING_ALIGNMENT) -> np.ndarray:
    """A byte array whose data starts on an `alignment` boundary (and spans whole pages)."""
    size = max(alignment, -(-nbytes // alignment) * alignment)
    raw = np.empty(size + alignment, dtype=np.uint8)
    off = (-raw.ctypes.data) % alignment
    return raw[off:off + size]


def read_back_aligned(device, array) -> np.ndarray:
    """Copy a device result into a 4096-byte-aligned host staging buffer, then to numpy.

    `DeviceArray.to_host()` maps device memory through a host-pointer import
    that Mesa's Vulkan driver refuses unless the pointer is 4096-byte aligned
    (minImportedHostPointerAlignment); we import our own page-aligned staging
    buffer instead and let the device queue copy into it.
    """
    import iree.runtime as rt
    bv = array._buffer_view
    src = bv.get_buffer()
    dtype = np.dtype(array.dtype)
    shape = tuple(array.shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes == 0:
        return np.empty(shape, dtype)
    staging = aligned_empty(src.byte_length())
    dst = device.allocator.import_host_allocation(
        staging, memory_type=int(rt.MemoryType.HOST_LOCAL) | int(rt.MemoryType.DEVICE_VISIBLE),
        allowed_usage=int(rt.BufferUsage.TRANSFER) | int(rt.BufferUsage.MAPPING))
    sem = device.create_semaphore(0)
    device.queue_copy(src, dst, [], [(sem, 1)])
    sem.wait(1)
    return staging[:nbytes].view(dtype).reshape(shape).copy()


def load_module(vmfb: bytes, driver: str, function: str) -> LoadedExport:
    return LoadedExport(vmfb, driver, function)


def find_iree_run_module() -> str:
    """The `iree-run-module` binary of iree-base-runtime (or the one on PATH)."""
    import os
    import shutil
    try:
        import iree._runtime_libs as libs
        cand = os.path.join(os.path.dirname(libs.__file__), "iree-run-module")
        if os.access(cand, os.X_OK):
            return cand
    except ImportError:  # pragma: no cover
        pass
    found = shutil.which("iree-run-module")
    if not found:
        raise FileNotFoundError("iree-run-module not found; pip install iree-base-runtime")
    return found


def run_module_command(vmfb_path: str, inputs, outputs, device: str = "local-task",
                       function: str = "main") -> list:
    """The `iree-run-module` command line for `.npy` inputs and outputs."""
    cmd = [find_iree_run_module(), f"--device={device}", f"--module={vmfb_path}", f"--function={function}"]
    cmd += [f"--input=@{p}" for p in inputs]
    cmd += [f"--output=@{p}" for p in outputs]
    return cmd
