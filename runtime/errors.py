"""Typed errors of the runtime; each message says what to do next."""


class TurbineTritonError(Exception):
    """Base class of every error turbine-triton raises on purpose."""


class ArgumentError(TurbineTritonError, TypeError):
    """A launch argument does not fit the kernel (count, dtype, device, layout)."""


class CompileError(TurbineTritonError, RuntimeError):
    """`iree-compile` rejected a lowered kernel; carries IREE's diagnostic and a reproducer path."""

    def __init__(self, kernel: str, diagnostic: str, reproducer: str):
        self.kernel = kernel
        self.diagnostic = diagnostic
        self.reproducer = reproducer
        super().__init__(
            f"IREE failed to compile kernel `{kernel}`.\n{diagnostic.strip()}\n"
            f"A reproducer was written to {reproducer}; run `iree-compile {reproducer} "
            f"--iree-hal-target-device=local --iree-hal-local-target-device-backends=llvm-cpu` "
            f"to see the failure, and please report it with that file.")


class KernelAssertionError(TurbineTritonError, AssertionError):
    """A `tl.device_assert` failed during a launch."""


class OutOfBoundsError(TurbineTritonError, IndexError):
    """Bounds-checked mode caught a load or store outside its tensor's storage."""
