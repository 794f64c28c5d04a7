"""Launch a compiled kernel on torch CPU tensors through `iree.runtime`.

The hot path binds arguments (one DLPack import per pointer argument),
fills a `VmVariantList` and calls `VmContext.invoke` on the host function,
which waits for the dispatch.  No IR is touched and nothing is copied.
"""
from __future__ import annotations

import threading

import torch

from .binding import check_tensor, scalar_word, storage_view
from .compile import CompiledKernel
from .device import get_config
from .errors import ArgumentError


class Launcher:
    """A loaded kernel; call it with `(grid, *args)` in Triton's argument order."""

    def __init__(self, compiled: CompiledKernel, driver: str = "local-task"):
        import iree.runtime as rt
        self._rt = rt
        self.compiled = compiled
        self.abi = compiled.abi
        config = get_config(driver)
        self.device = config.device
        self.vm_module = rt.VmModule.copy_buffer(config.vm_instance, compiled.vmfb)
        hal = rt.create_hal_module(config.vm_instance, config.device)
        self.context = rt.VmContext(config.vm_instance, modules=[hal, self.vm_module])
        self.function = self.vm_module.lookup_function(self.abi.host_function)
        self._params = self.abi.params
        self._n_ptr = len(self.abi.pointers)
        self._n_scalar = len(self.abi.scalars)
        self._lock = threading.Lock()

    def __call__(self, grid, *args):
        """Run the kernel on `grid` (1-3 ints) with every parameter, constexprs included."""
        name = self.abi.name
        params = self._params
        if len(args) != len(params):
            expected = ", ".join(p.name for p in params)
            raise ArgumentError(f"{name}: expected {len(params)} arguments ({expected}) but got {len(args)}")
        g = tuple(int(x) for x in grid) + (1,) * (3 - len(grid))
        if min(g) <= 0:
            return
        rt = self._rt
        views, offsets, scalars, keep = [], [], [], []
        for p, a in zip(params, args):
            if p.kind == "ptr":
                check_tensor(a, p.name, p.triton_type, name)
                flat, off = storage_view(a, p.name, name)
                keep.append(flat)
                views.append(self.device.from_dlpack_capsule(torch.utils.dlpack.to_dlpack(flat)))
                offsets.append(off)
            elif p.kind == "scalar":
                scalars.append(scalar_word(a, p.triton_type, p.name, name))
        arg_list = rt.VmVariantList(len(views) + len(offsets) + len(scalars) + 3)
        for v in views:
            arg_list.push_ref(v)
        for w in (*offsets, *scalars, *g):
            arg_list.push_int(w)
        self.context.invoke(self.function, arg_list, rt.VmVariantList(0))
