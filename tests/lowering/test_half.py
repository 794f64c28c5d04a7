"""f16 vector arithmetic (computed in f32, rounded per op) and the integer f16<->f32 conversions, vs torch."""
import torch
import triton
import triton.language as tl


@triton.jit
def f16_to_f32_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs).to(tl.float32))


@triton.jit
def f32_to_f16_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs).to(tl.float16))


def test_every_f16_bit_pattern_widens_exactly():
    bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16)
    x = bits.view(torch.float16)
    out = torch.empty(65536)
    f16_to_f32_kernel[(64,)](x, out, BLOCK=1024)
    torch.testing.assert_close(out, x.float(), atol=0, rtol=0, equal_nan=True)


def test_f32_to_f16_rounds_to_nearest_even():
    special = torch.tensor([0.0, -0.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e9, float("inf"), float("-inf"),
                            2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -26, 2.0 ** -14,
                            2.0 ** -14 - 2.0 ** -25, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1e-10])
    # random bit patterns cover every exponent, including f32 subnormals and NaNs
    rand = torch.randint(-2 ** 31, 2 ** 31 - 1, (8192 - special.numel(),), dtype=torch.int32).view(torch.float32)
    x = torch.cat([special, rand])
    out = torch.empty(8192, dtype=torch.float16)
    f32_to_f16_kernel[(8,)](x, out, BLOCK=1024)
    ref = x.half()
    assert torch.equal(out.isnan(), ref.isnan())
    finite = ~ref.isnan()
    assert torch.equal(out[finite].view(torch.int16), ref[finite].view(torch.int16))


@triton.jit
def f16_math_kernel(x_ptr, y_ptr, out_ptr, R: tl.constexpr, C: tl.constexpr):
    offs = tl.arange(0, R)[:, None] * C + tl.arange(0, C)[None, :]
    x = tl.load(x_ptr + offs)
    y = tl.load(y_ptr + offs)
    n = R * C
    tl.store(out_ptr + offs, x + y)
    tl.store(out_ptr + n + offs, x * y - x)
    tl.store(out_ptr + 2 * n + offs, x / y)
    tl.store(out_ptr + 3 * n + offs, tl.maximum(x, y))
    tl.store(out_ptr + 4 * n + offs, tl.where(x > y, x, -y))
    tl.store(out_ptr + 5 * n + offs, tl.abs(x) - tl.exp(y.to(tl.float32) * 0.1).to(tl.float16))
    tl.store(out_ptr + 6 * n + offs, (offs % 7).to(tl.float16) * x)


def test_f16_tile_arithmetic_rounds_per_op_like_torch():
    R, C = 16, 64
    x = (torch.randn(R, C) * 8).half()
    y = (torch.randn(R, C) * 8).half()
    out = torch.empty(7, R, C, dtype=torch.float16)
    f16_math_kernel[(1,)](x, y, out, R=R, C=C)
    idx = torch.arange(R * C).reshape(R, C)
    ref = [x + y, x * y - x, x / y, torch.maximum(x, y), torch.where(x > y, x, -y), x.abs() - (y.float() * 0.1).exp().half(),
           (idx % 7).half() * x]
    for got, want in zip(out, ref):
        torch.testing.assert_close(got, want, atol=0, rtol=0)
