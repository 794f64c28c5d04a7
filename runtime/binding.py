"""Torch tensors and Python scalars to launch arguments, checked before launch.

A pointer argument binds the tensor's whole base storage (imported zero-copy)
plus the element offset of `data_ptr()` into it, so views with storage
offsets and any strides address the caller's memory exactly as on a GPU.
Scalars travel as i64 words (floats as their bit patterns).

`ViewCache` keeps the imported buffer views of a device.  A cached view owns
nothing: it names an address range, and its key is that same range (storage
address, byte length, element type), so a hit is exactly the caller's live
memory, whatever object owns it now.  Nothing is kept alive and a freed and
reused address can only ever be seen through a view of the new storage.

Views of dead storages are kept for a while, since the allocator often hands
the same range to the next buffer (Inductor allocates its buffers afresh each
forward), but only `DEAD_KEEP` of them: IREE's buffer objects are small heap
blocks, sometimes placed right after the storage they name, and a live one
there keeps the freed storage from merging with its neighbours.  glibc then
cannot reuse it, and with every dead view kept, a graph whose output was
allocated afresh each call took fresh pages every call (2048 page faults and
8 MB more resident memory a call for an 8 MB output).
"""
from __future__ import annotations

import collections
import ctypes
import functools
import struct
import threading
import warnings
import weakref
from typing import Optional

import torch

from .errors import ArgumentError

TORCH_DTYPES = {
    "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64,
    "i8": torch.int8, "i16": torch.int16, "i32": torch.int32, "i64": torch.int64,
    "u8": torch.uint8, "u16": torch.uint16, "u32": torch.uint32, "u64": torch.uint64,
    "i1": torch.bool, "u1": torch.bool,
    "fp8e4nv": torch.float8_e4m3fn, "fp8e5": torch.float8_e5m2,
}
# Storage views for import: the kernel's buffers are signless integers.
_STORAGE_DTYPE = {torch.bool: torch.int8, torch.uint8: torch.int8, torch.uint16: torch.int16,
                  torch.uint32: torch.int32, torch.uint64: torch.int64}
ALIGNMENT = 64


def unwrap(t):
    """Triton's `TensorWrapper` (a tensor reinterpreted as another dtype) binds its base."""
    base = getattr(t, "base", None)
    if isinstance(base, torch.Tensor) and not isinstance(t, torch.Tensor):
        return base
    return t


def check_tensor(t, name: str, triton_type: str, kernel: str, reinterpreted: bool = False) -> None:
    """Refuse tensors that cannot be bound: wrong device, dtype or alignment.

    A `reinterpreted` tensor (Triton's `TensorWrapper`) only needs the kernel's element size.
    """
    if not isinstance(t, torch.Tensor):
        if hasattr(t, "data_ptr"):
            raise ArgumentError(f"{kernel}: argument `{name}` ({type(t).__name__}) is not a torch tensor; "
                                f"pass a CPU torch.Tensor")
        raise ArgumentError(f"{kernel}: argument `{name}` expects a tensor ({triton_type}) "
                            f"but got {type(t).__name__}")
    if t.device.type == "meta":
        raise ArgumentError(f"{kernel}: argument `{name}` is a meta tensor, which has no data to compute on; "
                            f"pass a CPU tensor with real storage (for example "
                            f"`torch.empty({tuple(t.shape)}, dtype={t.dtype}, device=\"cpu\")`).")
    if t.device.type != "cpu":
        raise ArgumentError(f"{kernel}: argument `{name}` is on device `{t.device}`; turbine-triton runs "
                            f"kernels on CPU tensors. Move it with `.cpu()` first.")
    want = TORCH_DTYPES.get(triton_type.lstrip("*"))
    if reinterpreted and want is not None and want.itemsize == t.element_size():
        return
    if want is not None and t.dtype != want and _SIGNLESS.get(t.dtype) != want:
        raise ArgumentError(f"{kernel}: argument `{name}` has dtype {t.dtype} but the kernel was "
                            f"compiled for {want} ({triton_type}); pass a {want} tensor or recompile.")
    if t.dtype not in _SUPPORTED:
        raise ArgumentError(f"{kernel}: argument `{name}` has dtype {t.dtype}, which turbine-triton does not "
                            f"bind yet; convert it (for example with `.to(torch.float32)`).")


_SUPPORTED = set(TORCH_DTYPES.values())
# TTIR integers are signless: a `*i8` parameter takes int8 and uint8 alike.
_SIGNLESS = {torch.uint8: torch.int8, torch.uint16: torch.int16, torch.uint32: torch.int32,
             torch.uint64: torch.int64}


def storage_view(t: torch.Tensor, name: str, kernel: str, triton_type: str = None):
    """(flat tensor over t's whole storage, element offset of t in it).

    The flat view has the kernel's element type (signless), so a tensor
    reinterpreted by Triton's `TensorWrapper` binds like any other.
    """
    storage = t.untyped_storage()
    base = storage.data_ptr()
    want = TORCH_DTYPES.get(triton_type.lstrip("*")) if triton_type else None
    dtype = want if want is not None and want.itemsize == t.element_size() else t.dtype
    item = dtype.itemsize
    byte_off = t.data_ptr() - base
    if base % item:
        raise ArgumentError(f"{kernel}: argument `{name}` lives in storage at address {base:#x}, which is not "
                            f"aligned to its {item}-byte elements; loads and stores need element-aligned "
                            f"memory. Pass `{name}.clone()` (torch allocations are aligned).")
    if byte_off % item:
        raise ArgumentError(f"{kernel}: argument `{name}` starts {byte_off} bytes into its storage, "
                            f"not a whole number of {t.dtype} elements; pass a contiguous copy.")
    n = storage.nbytes() // item
    signless = _STORAGE_DTYPE.get(dtype)
    if base % ALIGNMENT:
        flat, pre = _aligned_down(base, storage.nbytes(), signless or dtype)
        return flat, (pre + byte_off) // item
    # one view op: the whole storage from offset 0 (cheaper than empty().set_())
    flat = torch.as_strided(t if t.dtype == dtype else t.view(dtype), (n,), (1,), 0)
    return (flat.view(signless) if signless is not None else flat), byte_off // item


def _aligned_down(base: int, nbytes: int, dtype: torch.dtype):
    """A flat view starting at the 64-byte boundary below `base` (numpy allocates on 16-byte
    boundaries; IREE imports only 64-byte aligned host memory).  The extra head bytes share
    `base`'s 64-byte block, hence its page; the kernel addresses past them through the offset."""
    import ctypes
    pre = base % ALIGNMENT
    total = (pre + nbytes) // dtype.itemsize * dtype.itemsize
    raw = (ctypes.c_char * total).from_address(base - pre)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # frombuffer: "non-writable buffer" does not apply to ctypes
        flat = torch.frombuffer(raw, dtype=torch.uint8)
    return flat.view(dtype), pre


def scalar_word(v, triton_type: str, name: str, kernel: str) -> int:
    """A scalar argument as the i64 word the host function expects."""
    t = triton_type
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise ArgumentError(f"{kernel}: argument `{name}` expects a scalar ({t}) but got a tensor")
        v = v.item()
    if t in ("fp32", "fp16", "bf16", "fp64"):
        try:
            if t == "fp64":
                return struct.unpack("<q", struct.pack("<d", float(v)))[0]
            return struct.unpack("<i", struct.pack("<f", float(v)))[0]
        except (TypeError, ValueError, OverflowError):
            raise ArgumentError(f"{kernel}: argument `{name}` expects a scalar ({t}) but got {v!r} "
                                f"({type(v).__name__}); pass a Python float within {t}'s range") from None
    if isinstance(v, float) and not float(v).is_integer():
        raise ArgumentError(f"{kernel}: argument `{name}` expects an integer ({t}) but got {v!r}")
    try:
        iv = int(v)
    except (TypeError, ValueError):
        raise ArgumentError(f"{kernel}: argument `{name}` expects a scalar ({t}) but got "
                            f"{type(v).__name__}") from None
    if (1 << 63) <= iv < (1 << 64):
        # TTIR integers are signless: a u64 value (Triton types 2**63..2**64-1 as u64, the
        # kernel's parameter as i64) travels as its two's-complement bit pattern
        iv -= 1 << 64
    if not -(1 << 63) <= iv < (1 << 64):
        raise ArgumentError(f"{kernel}: argument `{name}` = {iv} does not fit in 64 bits")
    return iv


class Imported:
    """One imported address range: its buffer view and the element offset of the storage's
    start in it (`delta`); `watch` is a weak reference to the storage that owned the range."""
    __slots__ = ("view", "delta", "watch")

    def __init__(self, view, delta: int):
        self.view, self.delta, self.watch = view, delta, None


class ViewCache:
    """Buffer views of one IREE device over host storage, imported once per address range.

    `lookup(key)` is the launch fast path (an `Imported` or None); `bind(t, ...)` checks and
    imports on a miss and returns `(view, element offset, keep)`, where `keep` must outlive
    the launch.  At most `DEAD_KEEP` views of dead storages stay (see the module docstring).
    """
    SIZE = 1024   # entries are ~100 bytes of Python objects; the memory is never pinned
    DEAD_KEEP = 16

    def __init__(self, device):
        self.device = device
        self.views = {}
        self.lookup = self.views.get
        self._dead = collections.deque()   # (key, entry) of dead storages, oldest first
        self._etypes = {}
        self._usage = None
        self._lock = threading.Lock()

    def bind(self, t: torch.Tensor, name: str, kernel: str, triton_type: str):
        """Check `t` (unwrapped), import its storage, and cache the view when a later hit can
        recompute the offset as `storage_offset() + pre` (the kernel's element size)."""
        want = TORCH_DTYPES.get(triton_type.lstrip("*"))
        key = None
        if want is not None and t.element_size() == want.itemsize:
            s = t.untyped_storage()
            key = (s.data_ptr(), s.nbytes(), want)
            hit = self.views.get(key)
            if hit is not None:
                return hit.view, t.storage_offset() + hit.delta, None
        imported = self._import_aligned(t, key) if key is not None else None
        if imported is not None:
            view, off = imported
        else:
            flat, off = storage_view(t, name, kernel, triton_type)
            etype = self._etype(flat.dtype)
            if etype is None or flat.numel() == 0:
                # no HAL element type to name (or nothing to name): DLPack import owning `flat`
                view = self.device.from_dlpack_capsule(torch.utils.dlpack.to_dlpack(flat))
                return view, off, flat
            view = self._import(flat.data_ptr(), flat.numel(), flat.element_size(), etype)
        if key is not None:
            self._remember(key, s, view, off - t.storage_offset())
        return view, off, None

    def adopt(self, t: torch.Tensor, key) -> Optional[Imported]:
        """The entry of `t`'s storage, `key` = (address, bytes, kernel dtype of `t`'s element
        size), imported from its address alone when not cached yet; None where `bind` must
        decide.  For a launch path that has already checked `t` (a CPU tensor of an accepted
        dtype): Inductor's fresh buffers each forward come here instead of the checked path."""
        hit = self.views.get(key)
        if hit is not None:
            return hit
        imported = self._import_aligned(t, key)
        if imported is None:
            return None
        view, off = imported
        return self._remember(key, t.untyped_storage(), view, off - t.storage_offset())

    def _remember(self, key, storage, view, delta: int) -> Imported:
        views = self.views
        if len(views) >= self.SIZE:
            with self._lock:
                for k in list(views)[:self.SIZE // 4]:   # oldest first
                    views.pop(k, None)
        entry = Imported(view, delta)
        try:
            entry.watch = weakref.ref(storage, functools.partial(self._storage_died, key, entry))
        except TypeError:
            pass   # a storage without weak references: its view leaves by age only
        views[key] = entry
        return entry

    def _import_aligned(self, t: torch.Tensor, key):
        """(view, element offset) of `t`'s storage imported whole, computed from the storage's
        address alone, or None where `storage_view` must decide (an unaligned storage or
        offset, an element type without a HAL name, an empty storage).  A fresh Inductor
        buffer each forward lands here: the flat tensor `storage_view` builds costs more
        than the import itself."""
        base, nbytes, want = key
        item = want.itemsize
        off = t.data_ptr() - base
        if base % ALIGNMENT or off % item or nbytes < item:
            return None
        etype = self._etype(_STORAGE_DTYPE.get(want, want))
        if etype is None:
            return None
        return self._import(base, nbytes // item, item, etype), off // item

    def _storage_died(self, key, entry: Imported, ref) -> None:
        """Keep the view of a dead storage, dropping the oldest such view beyond `DEAD_KEEP`."""
        dead = self._dead
        dead.append((key, entry))
        while len(dead) > self.DEAD_KEEP:
            try:
                k, e = dead.popleft()
            except IndexError:   # another thread emptied it
                break
            if self.views.get(k) is e:
                self.views.pop(k, None)

    def _import(self, addr: int, n: int, item: int, etype):
        import iree.runtime as rt
        if self._usage is None:
            probe = self.device.from_dlpack_capsule(torch.utils.dlpack.to_dlpack(torch.zeros(16)))
            buf = probe.get_buffer()
            self._usage = (buf.memory_type(), buf.allowed_usage())
        # a ctypes array over the range: IREE keeps it (not the storage) alive with the buffer
        raw = (ctypes.c_char * (n * item)).from_address(addr)
        buf = self.device.allocator.import_host_allocation(raw, *self._usage)
        return rt.HalBufferView(buf, [n], etype)

    def _etype(self, dtype: torch.dtype):
        """The HAL element type DLPack gives `dtype` (fp8 has no DLPack code: named directly)."""
        e = self._etypes.get(dtype, False)
        if e is False:
            import iree.runtime as rt
            try:
                e = self.device.from_dlpack_capsule(
                    torch.utils.dlpack.to_dlpack(torch.zeros(1, dtype=dtype))).element_type
            except (ValueError, RuntimeError, TypeError, BufferError):
                e = {torch.float8_e4m3fn: rt.HalElementType.FLOAT_8_E4M3_FN,
                     torch.float8_e5m2: rt.HalElementType.FLOAT_8_E5M2}.get(dtype)
            self._etypes[dtype] = e
        return e


_caches = {}


def view_cache(device) -> ViewCache:
    """The `ViewCache` of an IREE device (one per process and device)."""
    c = _caches.get(id(device))
    if c is None or c.device is not device:
        c = _caches[id(device)] = ViewCache(device)
    return c
