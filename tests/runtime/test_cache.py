"""The on-disk cache: atomic checksummed entries that heal, across processes and crashes.

Every test points `TURBINE_TRITON_CACHE_DIR` (and Triton's cache) at its own
tmp dir so the shared cache is never touched.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import triton
import triton.language as tl

import turbine_triton.runtime.compile as rcompile
from turbine_triton.runtime.cache import MANIFEST, KernelCache
from turbine_triton.runtime.launch import Launcher
from turbine_triton.triton_frontend.capture import capture_jit


@triton.jit
def scale_add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, 3.0 * tl.load(x_ptr + offs, mask=m) - tl.load(y_ptr + offs, mask=m), mask=m)


N = 300


def _captured():
    x = torch.randn(N)
    return capture_jit(scale_add_kernel, x, x, x, N, BLOCK=128)


def _run_and_check(compiled):
    x, y, out = torch.randn(N), torch.randn(N), torch.full((N,), -1.0)
    Launcher(compiled.abi, vmfb=compiled.vmfb)((triton.cdiv(N, 128),), x, y, out, N)
    torch.testing.assert_close(out, 3.0 * x - y)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TURBINE_TRITON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """One compiled entry, built once; tests copy it into their own cache dir."""
    root = tmp_path_factory.mktemp("pristine")
    compiled = rcompile.compile_kernel(_captured(), KernelCache(str(root)))
    return root, compiled


def _copy_cache(pristine, dest):
    root, compiled = pristine
    shutil.copytree(root, dest)
    return KernelCache(str(dest)), compiled


@pytest.fixture
def compile_calls(monkeypatch):
    calls = []
    original = rcompile.compile_mlir

    def counting(text, name, *a, **k):
        calls.append(name)
        return original(text, name, *a, **k)

    monkeypatch.setattr(rcompile, "compile_mlir", counting)
    return calls


def test_entry_is_checksummed_and_renamed_into_place_complete(tmp_path, monkeypatch):
    cache = KernelCache(str(tmp_path / "c"))
    files = {"kernel.vmfb": os.urandom(1000), "abi.json": b"{}"}
    seen = []
    real_rename = os.rename

    def watching_rename(src, dst):
        # at the moment the entry becomes visible, the temp dir already holds every file
        seen.append((src, dst, sorted(os.listdir(src))))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", watching_rename)
    cache.put("k" * 64, files)
    (src, dst, listing), = seen
    assert os.path.dirname(src) == cache.root and os.path.basename(src).startswith(".tmp-")
    assert dst == cache.path("k" * 64)
    assert listing == sorted([*files, MANIFEST])
    assert not os.path.exists(src)
    assert os.listdir(cache.root) == ["k" * 64]  # no temp dir left behind
    with open(os.path.join(dst, MANIFEST)) as f:
        manifest = json.load(f)
    assert manifest["files"] == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    assert cache.get("k" * 64) == files


def test_hit_compiles_nothing(tmp_path, pristine, compile_calls):
    cache, first = _copy_cache(pristine, tmp_path / "c")
    again = rcompile.compile_kernel(_captured(), cache)
    assert compile_calls == [] and again.vmfb == first.vmfb and again.key == first.key
    _run_and_check(again)


def _flip_byte(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x40
    open(path, "wb").write(bytes(data))


def _truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])


def _corrupt_manifest(path):
    open(os.path.join(os.path.dirname(path), MANIFEST), "w").write('{"files": {')


@pytest.mark.parametrize("damage", [_flip_byte, _truncate, os.unlink, _corrupt_manifest],
                         ids=["flipped_byte", "truncated", "missing_file", "corrupt_manifest"])
def test_damaged_entry_is_detected_and_rebuilt(tmp_path, pristine, compile_calls, damage):
    cache, first = _copy_cache(pristine, tmp_path / "c")
    vmfb = os.path.join(cache.path(first.key), "kernel.vmfb")
    damage(vmfb)
    assert cache.get(first.key) is None  # detected, and the bad entry is gone
    assert not os.path.exists(cache.path(first.key))
    damage_again = rcompile.compile_kernel(_captured(), cache)
    assert compile_calls == ["scale_add_kernel"]  # rebuilt
    assert damage_again.vmfb == first.vmfb
    _run_and_check(damage_again)
    assert cache.get(first.key)["kernel.vmfb"] == first.vmfb  # healed on disk
    assert sorted(os.listdir(cache.root)) == [first.key]


def test_rebuild_through_compile_kernel_without_explicit_get(tmp_path, pristine, compile_calls):
    """The bad entry is found by `compile_kernel` itself (the next run after the damage)."""
    cache, first = _copy_cache(pristine, tmp_path / "c")
    _flip_byte(os.path.join(cache.path(first.key), "kernel.vmfb"))
    compiled = rcompile.compile_kernel(_captured(), KernelCache(cache.root))
    assert compile_calls == ["scale_add_kernel"]
    _run_and_check(compiled)


_WORKER = textwrap.dedent('''
    import os, sys, time
    import torch, triton, triton.language as tl
    from turbine_triton.runtime.compile import compile_kernel
    from turbine_triton.runtime.launch import Launcher
    from turbine_triton.triton_frontend.capture import capture_jit

    @triton.jit
    def worker_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        m = offs < n
        x = tl.load(x_ptr + offs, mask=m)
        tl.store(out_ptr + offs, tl.where(x > 0, x * x, -x) + 1.0, mask=m)

    mode, go = sys.argv[1], sys.argv[2]
    n = 1000
    x = torch.randn(n)
    kernel = capture_jit(worker_kernel, x, x, n, BLOCK=256)
    if mode == "stall":  # stop for good after part of the temp dir is written
        import turbine_triton.runtime.cache as cache_mod
        real = cache_mod._digest
        def slow_digest(data, _n=[0]):
            _n[0] += 1
            if _n[0] == 2:
                print("PARTIAL", flush=True)
                time.sleep(600)
            return real(data)
        cache_mod._digest = slow_digest
    print("READY", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    if mode in ("compile", "stall"):
        print("COMPILING", flush=True)
    compiled = compile_kernel(kernel)
    out = torch.full((n,), -5.0)
    Launcher(compiled.abi, vmfb=compiled.vmfb)((triton.cdiv(n, 256),), x, out, n)
    expected = torch.where(x > 0, x * x, -x) + 1.0
    assert torch.allclose(out, expected), (out - expected).abs().max()
    print("OK", compiled.key, flush=True)
''')


def _spawn(tmp_path, mode, go, cache_dir):
    script = tmp_path / "worker.py"
    if not script.exists():
        script.write_text(_WORKER)
    env = dict(os.environ, TURBINE_TRITON_CACHE_DIR=str(cache_dir), TRITON_CACHE_DIR=str(tmp_path / "triton"))
    # a session of its own, so a SIGKILL reaches the iree-compile child too
    return subprocess.Popen([sys.executable, str(script), mode, str(go)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for(proc, word, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"worker exited before {word}: {proc.stderr.read()[-3000:]}")
        if line.startswith(word):
            return line
    raise AssertionError(f"no {word} within {timeout}s")


def _finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def test_two_processes_compile_the_same_kernel_at_once(tmp_path):
    cache_dir, go = tmp_path / "shared_cache", tmp_path / "go"
    procs = [_spawn(tmp_path, "run", go, cache_dir) for _ in range(2)]
    for p in procs:
        _wait_for(p, "READY")
    go.touch()  # both are up; they now race to compile and store the same key
    keys = {_finish(p).split()[-1] for p in procs}
    assert len(keys) == 1
    key, = keys
    assert sorted(os.listdir(cache_dir)) == [key]  # one entry, no temp dirs left
    assert KernelCache(str(cache_dir)).get(key) is not None


def _kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()


def test_sigkill_while_writing_the_entry_leaves_nothing_harmful(tmp_path):
    cache_dir, go = tmp_path / "cache_k", tmp_path / "go"
    go.touch()
    p = _spawn(tmp_path, "stall", go, cache_dir)
    _wait_for(p, "PARTIAL")  # compiled, and two files of the entry are in the temp dir
    _kill(p)
    leftovers = os.listdir(cache_dir)
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-")
    partial = os.listdir(cache_dir / leftovers[0])  # half an entry, never visible under its key
    assert 0 < len(partial) < 4 and MANIFEST not in partial
    out = _finish(_spawn(tmp_path, "run", go, cache_dir))  # the next run compiles and computes correctly
    key = out.split()[-1]
    assert KernelCache(str(cache_dir)).get(key) is not None
    # the crashed writer's temp dir is swept once it is stale
    old = time.time() - 2 * 3600
    os.utime(cache_dir / leftovers[0], (old, old))
    KernelCache(str(cache_dir)).put("other", {"f": b"x"})
    assert sorted(os.listdir(cache_dir)) == sorted([key, "other"])


def test_sigkill_during_iree_compile_leaves_nothing_harmful(tmp_path):
    cache_dir, go = tmp_path / "cache_c", tmp_path / "go"
    go.touch()
    p = _spawn(tmp_path, "compile", go, cache_dir)
    _wait_for(p, "COMPILING")
    time.sleep(0.5)
    _kill(p)
    entries = os.listdir(cache_dir) if cache_dir.exists() else []
    assert all(e.startswith(".tmp-") or KernelCache(str(cache_dir)).get(e) is not None for e in entries)
    out = _finish(_spawn(tmp_path, "run", go, cache_dir))
    assert KernelCache(str(cache_dir)).get(out.split()[-1]) is not None


def test_unwritable_cache_warns_and_still_returns_a_working_kernel(tmp_path, monkeypatch, compile_calls):
    import errno
    import tempfile

    def disk_full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", disk_full)
    cache = KernelCache(str(tmp_path / "full"))
    with pytest.warns(RuntimeWarning, match="could not write cache entry.*TURBINE_TRITON_CACHE_DIR"):
        compiled = rcompile.compile_kernel(_captured(), cache)
    _run_and_check(compiled)
    assert cache.get(compiled.key) is None and compile_calls == ["scale_add_kernel"]
