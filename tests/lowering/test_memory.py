"""Loads and stores: masks, gathers/scatters, scalar pointers, loop-carried pointers, descriptors."""
import torch
import triton
import triton.language as tl
from triton.tools.tensor_descriptor import TensorDescriptor

from ..conftest import interpret


@triton.jit
def gather_scatter_kernel(x_ptr, idx_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    idx = tl.load(idx_ptr + offs, mask=m, other=0)
    v = tl.load(x_ptr + idx, mask=m, other=-1.0)          # gather
    tl.store(out_ptr + (n - 1 - offs), v, mask=m)          # reversed: not unit-stride


def test_indirect_gather_and_reversed_scatter():
    x = torch.randn(100)
    idx = torch.randint(0, 100, (77,), dtype=torch.int64)
    out = torch.zeros(77)
    gather_scatter_kernel[(1,)](x, idx, out, 77, BLOCK=128)
    torch.testing.assert_close(out, x[idx].flip(0))


@triton.jit
def scalar_ptr_kernel(x_ptr, out_ptr, flag):
    v = tl.load(x_ptr + 3, mask=flag > 0, other=42.0)
    tl.store(out_ptr, v)
    tl.store(out_ptr + 1, v + 1.0, mask=flag > 1)


def test_masked_scalar_loads_and_stores():
    x = torch.arange(8, dtype=torch.float32)
    for flag, expected in [(0, [42.0, -1.0]), (1, [3.0, -1.0]), (2, [3.0, 4.0])]:
        out = torch.full((2,), -1.0)
        scalar_ptr_kernel[(1,)](x, out, flag)
        assert out.tolist() == expected


@triton.jit
def ptr_increment_kernel(x_ptr, out_ptr, n_blocks, BLOCK: tl.constexpr):
    ptrs = x_ptr + tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], tl.float32)
    for _ in range(n_blocks):
        acc += tl.load(ptrs)
        ptrs += BLOCK
    tl.store(out_ptr + tl.arange(0, BLOCK), acc)


def test_pointers_carried_through_loops():
    x = torch.randn(6 * 32)
    out = torch.zeros(32)
    ptr_increment_kernel[(1,)](x, out, 6, BLOCK=32)
    torch.testing.assert_close(out, x.view(6, 32).sum(0), atol=1e-5, rtol=1e-5)


@triton.jit
def branchy_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    if pid % 2 == 0:
        y = x * 2.0
    else:
        y = tl.where(x > 0, x, -x)
    i = 0
    while i < pid:
        y = y + 1.0
        i += 1
    tl.store(out_ptr + offs, y, mask=m)


def test_if_else_and_while_against_interpreter():
    x = torch.randn(300)
    out = torch.zeros(300)
    branchy_kernel[(5,)](x, out, 300, BLOCK=64)
    ref = interpret(branchy_kernel, (5,), x, torch.zeros(300), 300, BLOCK=64)[1]
    torch.testing.assert_close(out, ref)


@triton.jit
def host_desc_kernel(in_desc, out_desc, BM: tl.constexpr, BN: tl.constexpr):
    pm, pn = tl.program_id(0), tl.program_id(1)
    out_desc.store([pm * BM, pn * BN], in_desc.load([pm * BM, pn * BN]) * 2.0 + 1.0)


def test_host_tensor_descriptors_zero_fill_and_drop_out_of_bounds():
    x = torch.randn(50, 72)
    out = torch.full((50, 72), -7.0)
    grid = (triton.cdiv(50, 16), triton.cdiv(72, 32))  # ragged on both dims
    host_desc_kernel[grid](TensorDescriptor.from_tensor(x, [16, 32]), TensorDescriptor.from_tensor(out, [16, 32]),
                           BM=16, BN=32)
    torch.testing.assert_close(out, x * 2.0 + 1.0)


@triton.jit
def device_desc_kernel(in_ptr, out_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    pm, pn = tl.program_id(0), tl.program_id(1)
    d = tl.make_tensor_descriptor(in_ptr, shape=[M, N], strides=[N, 1], block_shape=[BM, BN])
    o = tl.make_tensor_descriptor(out_ptr, shape=[M, N], strides=[N, 1], block_shape=[BM, BN])
    tile = d.load([pm * BM, pn * BN])
    o.store([pm * BM, pn * BN], tile + tl.sum(tile, axis=1)[:, None])


def test_device_tensor_descriptors():
    M, N = 40, 48
    x = torch.randn(M, N)
    out = torch.zeros(M, N)
    device_desc_kernel[(triton.cdiv(M, 16), triton.cdiv(N, 16))](x, out, M, N, BM=16, BN=16)
    tiles = x.view(M, N // 16, 16)  # N is a multiple of BN; out-of-bounds rows read as zero
    torch.testing.assert_close(out, (tiles + tiles.sum(-1, keepdim=True)).view(M, N), atol=1e-5, rtol=1e-5)
