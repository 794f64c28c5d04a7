"""Kernels launched from several Python threads at once, on shared and on separate tensors."""
import threading

import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime.compile import compile_kernel
from turbine_triton.runtime.launch import Launcher
from turbine_triton.triton_frontend.capture import capture_jit

THREADS = 6
ROUNDS = 25


@triton.jit
def fma_kernel(x_ptr, y_ptr, out_ptr, a, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    tl.store(out_ptr + offs, a * x + tl.load(y_ptr + offs, mask=m) + tl.sum(x, axis=0) * 0.0, mask=m)


@triton.jit
def rowmax_kernel(x_ptr, out_ptr, M, N, sxm, BN: tl.constexpr):
    row = tl.program_id(0)
    rn = tl.arange(0, BN)
    x = tl.load(x_ptr + row * sxm + rn, mask=rn < N, other=float("-inf"))
    tl.store(out_ptr + row, tl.max(x, axis=0))


def _in_threads(work):
    """Run work(i) in THREADS threads released together; re-raise the first failure."""
    barrier = threading.Barrier(THREADS)
    errors = []

    def body(i):
        try:
            barrier.wait()
            work(i)
        except BaseException as e:  # noqa: BLE001 - collected and re-raised below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a launch thread hung"
    if errors:
        raise errors[0]


def test_shared_inputs_disjoint_output_slices_kernel_grid():
    chunk = 777
    n = chunk * THREADS
    x, y = torch.randn(n), torch.randn(n)
    out = torch.full((n,), float("nan"))
    fma_kernel[(triton.cdiv(chunk, 256),)](x[:chunk], y[:chunk], out[:chunk], 2.0, chunk, BLOCK=256)  # warm

    def work(i):
        sl = slice(i * chunk, (i + 1) * chunk)
        for r in range(ROUNDS):
            a = float(i + r)
            fma_kernel[(triton.cdiv(chunk, 256),)](x[sl], y[sl], out[sl], a, chunk, BLOCK=256)
            torch.testing.assert_close(out[sl], a * x[sl] + y[sl])

    _in_threads(work)
    expected = torch.cat([(i + ROUNDS - 1) * x[i * chunk:(i + 1) * chunk] + y[i * chunk:(i + 1) * chunk]
                          for i in range(THREADS)])
    torch.testing.assert_close(out, expected)


def test_separate_tensors_one_launcher_shared_by_threads():
    m, n = 64, 100
    x0 = torch.randn(m, n)
    compiled = compile_kernel(capture_jit(rowmax_kernel, x0, x0, m, n, n, BN=128))
    launcher = Launcher(compiled.abi, vmfb=compiled.vmfb)  # one module and VM context for every thread

    def work(i):
        g = torch.Generator().manual_seed(i)
        for _ in range(ROUNDS):
            x = torch.randn(m, n, generator=g)
            out = torch.empty(m)
            launcher((m,), x, out, m, n, x.stride(0))
            torch.testing.assert_close(out, x.amax(dim=1))

    _in_threads(work)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_separate_tensors_kernel_grid_mixed_specializations(dtype):
    """Threads launch differently specialized kernels (dtype, size) at the same time."""
    sizes = [100 + 37 * i for i in range(THREADS)]
    for size in sizes:  # compile outside the threads; the launches are what is under test
        t = torch.randn(size).to(dtype)
        fma_kernel[(triton.cdiv(size, 128),)](t, t, t.clone(), 1.0, size, BLOCK=128)

    def work(i):
        size = sizes[i]
        for r in range(ROUNDS):
            x, y = torch.randn(size).to(dtype), torch.randn(size).to(dtype)
            out = torch.zeros(size, dtype=dtype)
            fma_kernel[(triton.cdiv(size, 128),)](x, y, out, 0.5, size, BLOCK=128)
            torch.testing.assert_close(out, (0.5 * x.float() + y.float()).to(dtype))

    _in_threads(work)


def test_first_launches_of_new_specializations_from_threads():
    """Each thread's first launch compiles its own specialization (its own TAG), so Triton's
    frontend runs in several threads at once (CPython < 3.12 shares ast.parse's recursion counter)."""
    sizes = [1000 + 37 * i for i in range(THREADS)]

    def work(i):
        n = sizes[i]
        x, y = torch.randn(n), torch.randn(n)
        out = torch.empty(n)
        reduce_then_scale_kernel[(1,)](x, y, out, float(i + 1), n, BLOCK=2048, TAG=i)
        torch.testing.assert_close(out, (i + 1) * x / x.abs().sum() + y)

    _in_threads(work)


@triton.jit
def reduce_then_scale_kernel(x_ptr, y_ptr, out_ptr, a, n, BLOCK: tl.constexpr, TAG: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    s = tl.sum(tl.abs(x), axis=0)      # tl.sum: a nested @jit function that Triton parses per compile
    tl.store(out_ptr + offs, a * x / s + tl.load(y_ptr + offs, mask=m), mask=m)
