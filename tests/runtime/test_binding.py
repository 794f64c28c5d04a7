"""ViewCache.bind: a new storage imported from its address alone names the same range and
offset as the flat view `storage_view` builds, and odd storages still take that path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from turbine_triton.runtime.binding import ViewCache, storage_view
from turbine_triton.runtime.device import get_config


def _fresh_cache() -> ViewCache:
    return ViewCache(get_config().device)


@pytest.mark.parametrize("make, ttype", [
    (lambda: torch.randn(1000), "*fp32"),
    (lambda: torch.randn(1000)[37:], "*fp32"),                     # a storage offset
    (lambda: torch.randn(64, 48).t(), "*fp32"),                   # a strided view
    (lambda: torch.randint(0, 255, (333,), dtype=torch.uint8)[5:], "*i8"),   # signless
    (lambda: torch.rand(100) > 0.5, "*i1"),
    (lambda: torch.randn(256).view(torch.int32)[3:], "*i32"),     # another dtype's storage
], ids=["plain", "offset", "strided", "uint8-as-i8", "bool", "int32-view"])
def test_bind_names_the_whole_storage_at_the_tensor_offset(make, ttype):
    t = make()
    flat, off = storage_view(t, "x", "k", ttype)
    view, bound_off, keep = _fresh_cache().bind(t, "x", "k", ttype)
    assert keep is None and bound_off == off
    assert list(view.shape) == [flat.numel()]
    # the imported range holds the storage's bytes, read back through IREE
    got = np.asarray(view.map()).view(np.uint8)
    want = flat.view(torch.uint8).numpy() if flat.dtype != torch.bool else flat.to(torch.uint8).numpy()
    np.testing.assert_array_equal(got, want)


def test_unaligned_storage_takes_the_flat_view_path():
    """numpy's 16-byte aligned memory: imported from the 64-byte boundary below, offset past it."""
    raw = np.zeros(1000 + 16, dtype=np.float32)
    arr = raw[next(i for i in range(16) if (raw[i:].ctypes.data % 64) != 0):][:1000]
    t = torch.from_numpy(arr)
    assert t.untyped_storage().data_ptr() % 64
    t.copy_(torch.arange(1000, dtype=torch.float32))
    view, off, _ = _fresh_cache().bind(t, "x", "k", "*fp32")
    got = np.asarray(view.map()).view(np.float32)
    np.testing.assert_array_equal(got[off:off + 1000], np.arange(1000, dtype=np.float32))
