"""The hidden status buffer: one per thread for kernels with checks only (`ThreadStatus`), a fresh
one per launch for kernels that print; after the launch, raise or print what it holds.

See `lowering/ops/debug.py` for the layout the kernel writes.
"""
from __future__ import annotations

import struct
import threading

import torch

from ..lowering.abi import PRINT_RECORD_WORDS, STATUS_HEADER_WORDS
from .errors import KernelAssertionError, OutOfBoundsError


def new_status(abi) -> torch.Tensor:
    """A zeroed status buffer sized for the kernel's print records."""
    return torch.zeros(STATUS_HEADER_WORDS + PRINT_RECORD_WORDS * abi.print_records, dtype=torch.int64)


class ThreadStatus(threading.local):
    """One zeroed status buffer per thread for a kernel without print records: the kernel
    writes it only when a check fails, so it stays zero and imported, and a launch needs no
    new buffer (a fresh one per launch was a new storage to import every time).  Per thread,
    so concurrent launches never report each other's failures."""

    def __init__(self, abi):
        self.abi = abi
        self.tensor = new_status(abi)
        self.words = self.tensor.numpy()       # words[0] is the failed check's site, 0 if none
        s = self.tensor.untyped_storage()
        self.ptr, self.nbytes = s.data_ptr(), s.nbytes()

    def check(self, args) -> None:
        """Raise for a failed check (after re-zeroing the buffer); nothing when none failed."""
        if self.words[0]:
            try:
                check_status(self.abi, self.tensor, args)
            finally:
                self.tensor.zero_()


def check_status(abi, status: torch.Tensor, args) -> None:
    """Print device_print records, then raise for a failed assert or bounds check."""
    words = status.tolist()
    if abi.print_records:
        _print_records(abi, words)
    site_id = words[0]
    if not site_id:
        return
    kind, file, line, col, message, op_name = abi.sites[site_id - 1]
    pid = tuple(words[2:5])
    where = f"{file}:{line}:{col}"
    if kind == "assert":
        raise KernelAssertionError(
            f"{abi.name}: device assertion failed at {where}: {message!r} (program id {pid}, first failing "
            f"lane {words[1]}). Fix the kernel's inputs or indexing; assertions run because the kernel was "
            f"compiled with debug=True.")
    size = _extent(abi, message, args)
    raise OutOfBoundsError(
        f"{abi.name}: out-of-bounds {kind} at {where}: element offset {words[1]} of argument `{message}` "
        f"is outside its storage [0, {size}) (program id {pid}). Nothing was {'read' if kind == 'load' else 'written'} "
        f"there; check the offsets and mask of this {op_name}.")


def _extent(abi, name, args) -> str:
    for p, a in zip(abi.params, args):
        if p.name == name and isinstance(a, torch.Tensor):
            return str(a.untyped_storage().nbytes() // a.element_size())
    return "?"


def _print_records(abi, words) -> None:
    count = words[5]
    for r in range(min(count, abi.print_records)):
        base = STATUS_HEADER_WORDS + r * PRINT_RECORD_WORDS
        site_id, px, py, pz, lane, bits = words[base:base + PRINT_RECORD_WORDS]
        kind, _, _, _, prefix, _ = abi.sites[site_id - 1]
        value = struct.unpack("<d", struct.pack("<q", bits))[0] if kind == "print_f" else bits
        print(f"pid ({px}, {py}, {pz}) idx ({lane:>3}){prefix}{value}")
    if count > abi.print_records:
        print(f"[turbine-triton: {count - abi.print_records} more device_print records dropped]")
