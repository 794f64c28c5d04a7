"""Compile targets of `turbine_triton.export`: IREE flags, body style and how (if) to run here.

`target` strings:

* ``llvm-cpu`` (or ``llvm-cpu:host``): this machine's CPU; runs in-process.
* ``llvm-cpu:<triple>``, or the shortcuts ``aarch64`` / ``riscv64``: a Linux cross-compile
  (``--iree-llvmcpu-target-triple``); compile-only unless the triple is the host's.
* ``vulkan-spirv`` (or ``vulkan``): SPIR-V for any Vulkan device (Mesa's software device
  included); kernels use the SIMT body.
* ``rocm`` or ``rocm:<chip>`` (default gfx942): AMDGPU code objects, compile-only here;
  kernels use the SIMT body.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Optional, Tuple

_COMMON = (
    # Triton kernels mean f64 when they say f64
    "--iree-input-demote-f64-to-f32=false",
)

_TRIPLES = {
    "aarch64": "aarch64-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "x86_64": "x86_64-linux-gnu",
}

_TRIPLE_FLAGS = {
    # the Linux distributions' default ABI; scalar+FP extensions (RVA20 level)
    "riscv64": ("--iree-llvmcpu-target-abi=lp64d", "--iree-llvmcpu-target-cpu-features=+m,+a,+f,+d,+c"),
}


@dataclass(frozen=True)
class Target:
    """One compile target: its IREE flags, the kernel body style and the runtime driver."""
    name: str
    flags: Tuple[str, ...]
    body: str                 # "cpu" (vector bodies) or "simt" (one element per thread)
    driver: Optional[str]     # the iree.runtime driver that runs it here; None: compile-only
    elf_machine: Optional[int] = None  # e_machine of the embedded executables, when ELF

    @property
    def runnable(self) -> bool:
        return self.driver is not None


def _host_arch() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


_EM = {"x86_64": 62, "aarch64": 183, "riscv64": 243}


def resolve_target(target) -> Target:
    """A `Target` from its name (see the module docstring)."""
    if isinstance(target, Target):
        return target
    t = str(target).strip()
    kind, _, arg = t.partition(":")
    if kind in _TRIPLES and not arg:
        kind, arg = "llvm-cpu", _TRIPLES[kind]
    if kind == "llvm-cpu":
        cpu = ("--iree-hal-target-device=local", "--iree-hal-local-target-device-backends=llvm-cpu",
               "--iree-llvmcpu-fail-on-large-vector=false")
        host = _host_arch()
        if not arg or arg == "host":
            return Target("llvm-cpu", cpu + ("--iree-llvmcpu-target-cpu=host",) + _COMMON, "cpu",
                          "local-task", _EM.get(host))
        arch = arg.split("-")[0]
        extra = _TRIPLE_FLAGS.get(arch, ())
        return Target(f"llvm-cpu:{arg}", cpu + (f"--iree-llvmcpu-target-triple={arg}",) + extra + _COMMON,
                      "cpu", "local-task" if arch == host else None, _EM.get(arch))
    if kind in ("vulkan", "vulkan-spirv"):
        flags = ("--iree-hal-target-device=vulkan",)
        if arg:
            flags += (f"--iree-vulkan-target={arg}",)
        return Target("vulkan-spirv", flags + _COMMON, "simt", "vulkan")
    if kind in ("rocm", "hip"):
        chip = arg or "gfx942"
        return Target(f"rocm:{chip}", ("--iree-hal-target-device=hip", f"--iree-rocm-target={chip}") + _COMMON,
                      "simt", None, 224)
    raise ValueError(f"unknown export target {target!r}; use llvm-cpu, llvm-cpu:<triple>, aarch64, "
                     f"riscv64, vulkan-spirv or rocm[:<chip>]")
