"""The `cpu` Triton driver: target, launcher, and a timing device interface.

Triton calls `utils.load_binary` to load a `.vmfb` and `launcher_cls(src,
metadata)` to build the launcher, then calls the launcher with the grid,
the loaded function and every bound argument (constexprs included).
`do_bench` and `@triton.autotune` time launches with `get_device_interface()`,
whose events read `time.perf_counter` because launches are synchronous.
"""
from __future__ import annotations

import operator
import time

from triton.backends.driver import DriverBase

from ..triton_frontend.target import cpu_target


class CPUEvent:
    """A timing event; launches complete before returning, so a clock read suffices."""

    def __init__(self, enable_timing: bool = True):
        self.t = None

    def record(self, stream=None):
        self.t = time.perf_counter()

    def elapsed_time(self, end: "CPUEvent") -> float:
        """Milliseconds from this event to `end`."""
        return (end.t - self.t) * 1e3

    def synchronize(self):
        pass

    def query(self) -> bool:
        return True


class CPUDeviceInterface:
    """The subset of torch's device interface that Triton's benchmarking uses."""
    Event = CPUEvent

    @staticmethod
    def synchronize(device=None):
        pass

    @staticmethod
    def current_device():
        return 0

    @staticmethod
    def device_count():
        return 1

    @staticmethod
    def is_available():
        return True


class CPUUtils:
    """`driver.active.utils`: binary loading and device properties."""

    @staticmethod
    def load_binary(name, kernel, shared, device):
        from ..runtime.launch import LoadedModule
        module = LoadedModule(kernel)
        # Triton reloads while `module` is None; n_max_threads covers num_warps up to 32.
        return module, module, 0, 0, 32 * 32

    @staticmethod
    def unload_module(module):
        pass

    @staticmethod
    def get_device_properties(device):
        from ..runtime.device import core_count
        return {"max_shared_mem": 1 << 30, "multiprocessor_count": core_count(),
                "max_num_regs": 1 << 16, "warpSize": 32, "sm_clock_rate": 0, "mem_clock_rate": 0,
                "mem_bus_width": 0}


def CPULauncher(src, metadata):
    """Triton's launcher for one compiled kernel (`launcher_cls(src, metadata)`).

    Returns a plain function, called with the grid, stream, the loaded module, metadata, the
    launch hooks and every bound argument (constexprs too).  Warm launches run inside it
    (`Launcher.triton_entry`, generated per kernel); a plain function rather than an object
    with `__call__` saves a call layer on every launch.  `launch.launcher` is our `Launcher`.
    """
    from ..lowering.abi import KernelAbi
    from ..runtime.launch import Launcher
    abi = KernelAbi.from_json(metadata.turbine_abi)
    signature = getattr(src, "signature", None) or {}
    types = list(signature.values())
    positions = [i for i, ty in enumerate(types) if ty != "constexpr"] if types else None
    nargs = len(types)
    launcher = Launcher.__new__(Launcher)
    Launcher.__init__(launcher, abi, module=_NO_MODULE)
    warm, general = launcher._warm, launcher._run_general
    expand = any(str(t).startswith("tensordesc") for t in types)
    # Triton passes constexprs too: pick the runtime arguments with one C call
    pick = None
    if positions is not None and positions != list(range(nargs)):
        getter = operator.itemgetter(*positions) if positions else (lambda a: ())
        pick = getter if len(positions) != 1 else (lambda a, g=getter: (g(a),))

    def slow(function, gx, gy, gz, launch_metadata, exit_hook, args):
        if pick is not None:
            args = pick(args) if len(args) == nargs else [args[i] for i in positions if i < len(args)]
        if expand:
            args = _expand_descriptors(args)
        if not warm(function, gx, gy, gz, args):
            general(function, (gx, gy, gz), args)
        if exit_hook is not None:
            exit_hook(launch_metadata)

    launch = None
    if positions is not None and not expand:
        launch = launcher.triton_entry((positions, nargs, slow))
    if launch is None:
        def launch(gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter_hook, exit_hook, *args):
            if enter_hook is not None:
                enter_hook(launch_metadata)
            slow(function, gx, gy, gz, launch_metadata, exit_hook, args)
    launch.launcher = launcher
    return launch


_NO_MODULE = object()


def _expand_descriptors(args) -> list:
    """A host `TensorDescriptor` becomes the arguments its TTIR function takes:
    base, shape (i64), strides, padding-is-nan, round-to-tf32, shape (i32), strides."""
    from triton.tools.tensor_descriptor import TensorDescriptor
    out = []
    for a in args:
        if isinstance(a, TensorDescriptor):
            shape, strides = [int(x) for x in a.shape], [int(x) for x in a.strides]
            out += [a.base, *shape, *strides, a.padding == "nan", bool(a.round_f32_to_tf32), *shape, *strides]
        else:
            out.append(a)
    return out


class CPUDriverBase(DriverBase):
    """Driver `cpu`: active on machines without a CUDA device."""

    def __init__(self):
        super().__init__()
        self.utils = CPUUtils()
        self.launcher_cls = CPULauncher
        from .threads import install
        install()   # kernels may be compiled from several threads at once

    @classmethod
    def is_active(cls):
        try:
            import torch
            return not torch.cuda.is_available()
        except ImportError:  # pragma: no cover
            return True

    def map_python_to_cpp_type(self, ty: str) -> str:
        return {"i1": "bool", "i8": "int8_t", "i16": "int16_t", "i32": "int32_t", "i64": "int64_t",
                "u8": "uint8_t", "u32": "uint32_t", "u64": "uint64_t", "fp16": "double",
                "bf16": "double", "fp32": "double", "fp64": "double"}.get(ty, "void*")

    def get_current_target(self):
        return cpu_target()

    def get_active_torch_device(self):
        import torch
        return torch.device("cpu")

    def get_current_device(self):
        return 0

    def set_current_device(self, device):
        pass

    def get_current_stream(self, device=None):
        return 0

    def get_device_interface(self):
        return CPUDeviceInterface

    def get_benchmarker(self):
        from triton.testing import do_bench
        return do_bench

    def get_empty_cache_for_benchmark(self):
        import torch
        # larger than the last-level cache, so each timed run starts cold
        return torch.empty(64 * 1024 * 1024 // 4, dtype=torch.int32)

    def clear_cache(self, cache):
        cache.zero_()
