"""Atomics: every rmw kind on tensors and scalars with masks, and compare-and-swap."""
import pytest
import torch
import triton
import triton.language as tl


@triton.jit
def histogram_add_kernel(idx_ptr, val_ptr, out_ptr, old_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    idx = tl.load(idx_ptr + offs, mask=m, other=0)
    v = tl.load(val_ptr + offs, mask=m, other=0)
    old = tl.atomic_add(out_ptr + idx, v, mask=m)
    tl.store(old_ptr + offs, old, mask=m)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int32])
def test_atomic_add_from_many_programs(dtype):
    n, bins = 5000, 17
    idx = torch.randint(0, bins, (n,))
    vals = torch.randint(-3, 4, (n,)).to(dtype)  # small ints: float sums are exact
    out = torch.zeros(bins, dtype=dtype)
    old = torch.zeros(n, dtype=dtype)
    histogram_add_kernel[(triton.cdiv(n, 128),)](idx, vals, out, old, n, BLOCK=128)
    torch.testing.assert_close(out, torch.zeros(bins, dtype=dtype).index_add_(0, idx, vals))


@triton.jit
def rmw_kernel(ptr, val_ptr, n, OP: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    v = tl.load(val_ptr + offs, mask=m, other=0)
    target = ptr + offs % 4
    if OP == "max":
        tl.atomic_max(target, v, mask=m)
    elif OP == "min":
        tl.atomic_min(target, v, mask=m)
    elif OP == "and":
        tl.atomic_and(target, v, mask=m)
    elif OP == "or":
        tl.atomic_or(target, v, mask=m)
    elif OP == "xor":
        tl.atomic_xor(target, v, mask=m)
    else:
        tl.atomic_xchg(ptr + offs, v, mask=m)


@pytest.mark.parametrize("op", ["max", "min", "and", "or", "xor", "xchg"])
def test_rmw_kinds(op):
    n = 30
    vals = torch.randint(-100, 100, (n,), dtype=torch.int32)
    start = torch.randint(-100, 100, (n,), dtype=torch.int32)
    got = start.clone()
    rmw_kernel[(1,)](got, vals, n, OP=op, BLOCK=32)
    ref = start.clone()
    for i in range(n):
        j = i if op == "xchg" else i % 4
        a, b = ref[j].item(), vals[i].item()
        ref[j] = {"max": max(a, b), "min": min(a, b), "and": a & b, "or": a | b, "xor": a ^ b, "xchg": b}[op]
    torch.testing.assert_close(got, ref)


@triton.jit
def float_max_kernel(ptr, val_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    # float atomic max (via a block max, then one scalar atomic per program)
    tl.atomic_max(ptr, tl.max(tl.load(val_ptr + offs, mask=offs < n, other=-1e30), axis=0))


def test_scalar_pointer_float_atomic_max():
    vals = torch.randn(1000)
    out = torch.full((1,), -1e30)
    float_max_kernel[(8,)](out, vals, 1000, BLOCK=128)
    assert out.item() == vals.max().item()


@triton.jit
def cas_counter_kernel(lock_ptr, count_ptr):
    # every program increments a shared counter under a spin lock built from CAS
    while tl.atomic_cas(lock_ptr, 0, 1) == 1:
        pass
    c = tl.load(count_ptr)
    tl.store(count_ptr, c + 1)
    tl.atomic_xchg(lock_ptr, 0)


def test_atomic_cas_spin_lock():
    lock = torch.zeros(1, dtype=torch.int32)
    count = torch.zeros(1, dtype=torch.int32)
    cas_counter_kernel[(64,)](lock, count)
    assert count.item() == 64 and lock.item() == 0


@triton.jit
def half_atomic_add_kernel(z_ptr, x_ptr, N: tl.constexpr):
    offs = tl.program_id(0) * N + tl.arange(0, N)
    tl.atomic_add(z_ptr + offs % 4, tl.load(x_ptr + offs))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_atomic_add_across_programs(dtype):
    """bf16 adds run as a compare-and-swap loop in f32 (IREE stores bf16 as i16); small integers
    keep every partial sum exact, so any order gives torch's answer."""
    x = torch.randint(-8, 9, (8 * 64,)).to(dtype)
    z = torch.zeros(4, dtype=dtype)
    half_atomic_add_kernel[(8,)](z, x, N=64)
    assert torch.equal(z, x.float().view(-1, 4).sum(0).to(dtype))
