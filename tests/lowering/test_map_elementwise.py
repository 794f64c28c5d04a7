"""`tl.map_elementwise` (vector and per-lane forms, packs, several outputs), `tl.atomic_poll`,
`.item()` (tt.unsplat), each against torch."""
import torch
import triton
import triton.language as tl


@triton.jit
def _sign_of_difference(x, y):
    if x < y:          # branches: the region has several blocks, so it runs per lane
        return -1
    elif x == y:
        return 0
    else:
        return 1


@triton.jit
def _clamp_and_scale(x, lo):
    return tl.maximum(x, lo) * 2.0, x - lo


@triton.jit
def _divmod2(a0, a1, b0, b1):
    return a0 // b0, a1 // b1, a0 % b0, a1 % b1


@triton.jit
def map_kernel(x_ptr, y_ptr, s_ptr, c_ptr, d_ptr, q_ptr, r_ptr, a_ptr, b_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x, y = tl.load(x_ptr + offs), tl.load(y_ptr + offs)
    tl.store(s_ptr + offs, tl.map_elementwise(_sign_of_difference, x, y))
    xf = x.to(tl.float32)
    c, d = tl.map_elementwise(_clamp_and_scale, xf, tl.full([N], 0.5, tl.float32))
    tl.store(c_ptr + offs, c)
    tl.store(d_ptr + offs, d)
    a, b = tl.load(a_ptr + offs), tl.load(b_ptr + offs)
    q, r = tl.map_elementwise(_divmod2, a, b, pack=2)
    tl.store(q_ptr + offs, q)
    tl.store(r_ptr + offs, r)


def test_map_elementwise_forms():
    n = 64
    x = torch.randint(-4, 4, (n,), dtype=torch.int32)
    y = torch.randint(-4, 4, (n,), dtype=torch.int32)
    a = torch.randint(0, 1000, (n,), dtype=torch.int32)
    b = torch.randint(1, 30, (n,), dtype=torch.int32)
    s, q, r = (torch.empty(n, dtype=torch.int32) for _ in range(3))
    c, d = torch.empty(n), torch.empty(n)
    map_kernel[(1,)](x, y, s, c, d, q, r, a, b, N=n)
    assert torch.equal(s, (x > y).int() - (x < y).int())
    torch.testing.assert_close(c, torch.clamp(x.float(), min=0.5) * 2)
    torch.testing.assert_close(d, x.float() - 0.5)
    assert torch.equal(q, a // b) and torch.equal(r, a % b)


@triton.jit
def poll_kernel(flag_ptr, out_ptr, timeout_ns):
    tl.store(out_ptr, tl.atomic_poll(flag_ptr, 1, timeout_ns=timeout_ns))


@triton.jit
def poll_forever_kernel(flag_ptr, out_ptr, expected):
    tl.atomic_poll(flag_ptr, expected)
    tl.store(out_ptr, 7)


def test_atomic_poll():
    for init in (1, 0):
        flag = torch.full((1,), init, dtype=torch.int32)
        out = torch.empty(1, dtype=torch.bool)
        poll_kernel[(1,)](flag, out, 1000)
        assert out.item() == (init == 1) and flag.item() == init   # polling never writes
    flag, out = torch.full((1,), 5, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
    poll_forever_kernel[(1,)](flag, out, 5)
    assert out.item() == 7


@triton.jit
def item_kernel(x_ptr):
    cond = tl.load(x_ptr + tl.arange(0, 1)) > 42
    if cond.item():
        tl.store(x_ptr, 42)


def test_item_of_single_element_tensor():
    for v in (41, 43):
        x = torch.full((1,), v, dtype=torch.int32)
        item_kernel[(1,)](x)
        assert x.item() == min(v, 42)
