"""The IREE executable library inside a compiled kernel, loaded for direct calls.

An `llvm-cpu` module carries its dispatch code as an embedded ELF shared object that exports
`iree_hal_executable_library_query` (IREE's HAL executable-library ABI, version 0.6).  The
ELF needs no libc, so the dynamic loader maps it like any library.  `load_export` takes it out
of the `.vmfb`, stores it in the kernel cache (checksummed, so a corrupt file is rebuilt),
loads it, and reads the one export's dispatch function and its layout: how many 32-bit push
constants and buffer bindings it takes.  `runtime/team.py` calls that function directly.

Anything unexpected (no or several embedded libraries, another ABI version, imports the
library wants from its host, a layout other than the kernel ABI's) gives None and a reason,
and the kernel keeps launching through `iree.runtime`.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import struct
import threading
from dataclasses import dataclass
from typing import Optional, Tuple

from .cache import KernelCache, library_root

LIBRARY_VERSION = 6          # IREE_HAL_EXECUTABLE_LIBRARY_VERSION_0_6 (iree-base-compiler 3.13)
_ELF_MAGIC = b"\x7fELF"
_MACHINES = {"x86_64": 62, "AMD64": 62, "aarch64": 183, "arm64": 183}   # ELF e_machine
_ENVIRONMENT_BYTES = 4 * 8 + 8 * 8   # four pointers, then eight words of processor data
# iree_hal_executable_dispatch_attrs_v0_t: flags (8), local pages (2), constants (1),
# bindings (1), workgroup size (4, 4, 2), reserved (2), five words of parameter metadata
_ATTRS = struct.Struct("<QHBBIIHH40x")
_PAGE = 4096


class _Library(ctypes.Structure):
    # iree_hal_executable_library_v0_t (0.6): header, imports, exports, constants
    _fields_ = [("header", ctypes.c_void_p),
                ("import_count", ctypes.c_uint32), ("import_symbols", ctypes.c_void_p),
                ("export_count", ctypes.c_uint32), ("export_ptrs", ctypes.POINTER(ctypes.c_void_p)),
                ("export_attrs", ctypes.c_void_p), ("export_params", ctypes.c_void_p),
                ("export_occupancy", ctypes.c_void_p), ("export_names", ctypes.POINTER(ctypes.c_char_p)),
                ("export_tags", ctypes.c_void_p), ("export_parameter_names", ctypes.c_void_p),
                ("export_source_locations", ctypes.c_void_p), ("export_stage_locations", ctypes.c_void_p),
                ("constant_count", ctypes.c_uint32)]


@dataclass(frozen=True)
class DispatchExport:
    """One dispatch function of a loaded executable library and the layout it expects."""
    name: str
    function: int          # address of the dispatch function
    environment: object    # the ctypes buffer passed as its environment; kept alive here
    constant_count: int    # 32-bit push constants
    binding_count: int
    local_bytes: int       # workgroup local memory per workgroup
    library: object        # the ctypes.CDLL, so the code stays mapped


def embedded_elf(vmfb: bytes) -> Tuple[Optional[bytes], str]:
    """(the one ELF shared object embedded in `vmfb`, "") or (None, why not)."""
    at = vmfb.find(_ELF_MAGIC)
    if at < 0:
        return None, "the module embeds no ELF executable"
    if vmfb.find(_ELF_MAGIC, at + 1) >= 0:
        return None, "the module embeds several ELF executables"
    if len(vmfb) < at + 64 or vmfb[at + 4] != 2 or vmfb[at + 5] != 1:
        return None, "the embedded executable is not a little-endian 64-bit ELF"
    e_type, e_machine = struct.unpack_from("<HH", vmfb, at + 16)
    if e_type != 3 or e_machine != _MACHINES.get(platform.machine()):
        return None, "the embedded executable is not a shared object for this machine"
    shoff, = struct.unpack_from("<Q", vmfb, at + 0x28)
    shentsize, shnum = struct.unpack_from("<HH", vmfb, at + 0x3A)
    end = at + shoff + shentsize * shnum   # the section headers close the file
    if shnum == 0 or end > len(vmfb):
        return None, "the embedded executable's size cannot be read"
    return vmfb[at:end], ""


_loaded = {}   # ELF digest -> (DispatchExport or None, reason)
_lock = threading.Lock()


def load_export(vmfb: bytes, cache: Optional[KernelCache] = None) -> Tuple[Optional[DispatchExport], str]:
    """(the only dispatch function of `vmfb`'s executable library, "") or (None, why not).
    Loaded once per process and library."""
    elf, why = embedded_elf(vmfb)
    if elf is None:
        return None, why
    digest = hashlib.sha256(elf).hexdigest()
    with _lock:
        hit = _loaded.get(digest)
        if hit is None:
            hit = _loaded[digest] = _load(elf, digest, cache or KernelCache(library_root()))
    return hit


def _load(elf: bytes, digest: str, cache: KernelCache):
    key, name = f"library-{digest}", "executable.so"
    if cache.get(key) is None:
        cache.put(key, {name: elf})
        if cache.get(key) is None:
            return None, f"the executable library could not be stored under {cache.root}"
    try:
        lib = ctypes.CDLL(os.path.join(cache.path(key), name), mode=ctypes.RTLD_LOCAL)
        query = lib.iree_hal_executable_library_query
    except (OSError, AttributeError) as e:
        return None, f"the executable library did not load ({e})"
    query.restype = ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32))
    query.argtypes = [ctypes.c_uint32, ctypes.c_void_p]
    environment = ctypes.create_string_buffer(_ENVIRONMENT_BYTES)
    header = query(LIBRARY_VERSION, environment)
    if not header or header[0][0] != LIBRARY_VERSION:
        return None, f"the executable library does not offer ABI version 0.{LIBRARY_VERSION}"
    library = ctypes.cast(header, ctypes.POINTER(_Library)).contents
    if library.import_count or library.constant_count:
        return None, "the executable library needs imports or specialization constants"
    if library.export_count != 1 or not library.export_attrs:
        return None, f"the executable library has {library.export_count} exports, not one"
    _, pages, constants, bindings, *_ = _ATTRS.unpack(ctypes.string_at(library.export_attrs, _ATTRS.size))
    export_name = library.export_names[0].decode() if library.export_names else ""
    return DispatchExport(export_name, library.export_ptrs[0], environment, constants, bindings,
                          pages * _PAGE, lib), ""
