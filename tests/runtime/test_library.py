"""The IREE executable library inside a compiled kernel (`runtime/library.py`): found in the
`.vmfb`, stored checksummed, loaded, and its layout read; anything unexpected is refused with a
reason rather than guessed at."""
import os

import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime import library
from turbine_triton.runtime.cache import KernelCache
from turbine_triton.runtime.compile import compile_kernel
from turbine_triton.triton_frontend.capture import capture_jit


@triton.jit
def axpy_kernel(x_ptr, y_ptr, out_ptr, a, n, big, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    r = a * tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m) + big.to(tl.float32)
    tl.store(out_ptr + offs, r, mask=m)


@pytest.fixture(scope="module")
def compiled():
    x = torch.randn(64)
    return compile_kernel(capture_jit(axpy_kernel, x, x, x, 1.5, 64, 1 << 40, BLOCK=64))


def test_the_embedded_library_and_its_layout(compiled, tmp_path):
    elf, why = library.embedded_elf(compiled.vmfb)
    assert why == "" and elf[:4] == b"\x7fELF"
    export, why = library._load(elf, "digest", KernelCache(str(tmp_path)))
    assert why == "", why
    assert export.name == "axpy_kernel"
    # three pointers (element count and offset, i64 each), f32 a, i32 n, i64 big, 6 grid words
    assert export.constant_count == 3 * 4 + 1 + 1 + 2 + 6
    assert export.binding_count == 3
    assert export.local_bytes == 0


def test_a_corrupt_stored_library_is_replaced(compiled, tmp_path):
    elf, _ = library.embedded_elf(compiled.vmfb)
    cache = KernelCache(str(tmp_path))
    library._load(elf, "abc", cache)
    path = os.path.join(cache.path("library-abc"), "executable.so")
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\0" * 64)
    export, why = library._load(elf, "abc", cache)
    assert why == "" and export.binding_count == 3
    with open(path, "rb") as f:
        assert f.read() == elf


@pytest.mark.parametrize("mangle, reason", [
    (lambda v, e: b"no executable here", "embeds no ELF"),
    (lambda v, e: v + e, "several ELF"),
    (lambda v, e: v.replace(e, e[:4] + b"\x01" + e[5:]), "64-bit"),
    (lambda v, e: v.replace(e, e[:0x28] + (10 ** 9).to_bytes(8, "little") + e[0x30:]), "size"),
])
def test_unexpected_modules_are_refused_with_a_reason(compiled, mangle, reason):
    elf, _ = library.embedded_elf(compiled.vmfb)
    found, why = library.embedded_elf(mangle(compiled.vmfb, elf))
    assert found is None and reason in why


def test_a_library_that_does_not_load_is_refused(tmp_path):
    cache = KernelCache(str(tmp_path))
    export, why = library._load(b"\x7fELF" + b"\0" * 200, "bad", cache)
    assert export is None and "did not load" in why
