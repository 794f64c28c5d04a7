"""tl.dot_scaled (MX formats) against a torch reference that decodes the formats itself."""
import pytest
import torch
import triton
import triton.language as tl

E2M1 = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], dtype=torch.float64)


@triton.jit
def dot_scaled_kernel(a_ptr, a_scale, b_ptr, b_scale, out_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr,
                      AR: tl.constexpr, AC: tl.constexpr, BR: tl.constexpr, BC: tl.constexpr,
                      fa: tl.constexpr, fb: tl.constexpr, k_pack: tl.constexpr):
    a = tl.load(a_ptr + tl.arange(0, AR)[:, None] * AC + tl.arange(0, AC)[None, :])
    b = tl.load(b_ptr + tl.arange(0, BR)[:, None] * BC + tl.arange(0, BC)[None, :])
    G: tl.constexpr = K // 32
    if a_scale is not None:
        a_scale = tl.load(a_scale + tl.arange(0, M)[:, None] * G + tl.arange(0, G)[None, :])
    if b_scale is not None:
        b_scale = tl.load(b_scale + tl.arange(0, N)[:, None] * G + tl.arange(0, G)[None, :])
    acc = tl.full((M, N), 1.0, tl.float32)
    c = tl.dot_scaled(a, a_scale, fa, b, b_scale, fb, acc=acc, lhs_k_pack=k_pack, rhs_k_pack=k_pack)
    tl.store(out_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :], c)


def _decode(x: torch.Tensor, fmt: str, axis: int) -> torch.Tensor:
    if fmt == "e2m1":
        b = x.to(torch.int64)
        nib = torch.stack([b & 0xF, b >> 4], dim=axis + 1).flatten(axis, axis + 1)
        return torch.where(nib & 8 != 0, -E2M1[nib & 7], E2M1[nib & 7])
    dtype = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2, "bf16": torch.bfloat16,
             "fp16": torch.float16}[fmt]
    return x.view(dtype).to(torch.float64)


def _scale(s: torch.Tensor, keep_tiny: bool) -> torch.Tensor:
    v = torch.pow(2.0, s.to(torch.float64) - 127)
    if not keep_tiny:
        v = torch.where(s == 0, 0.0, v)
    return torch.where(s == 255, float("nan"), v)


def _make(shape, fmt):
    if fmt in ("bf16", "fp16"):
        return torch.randn(shape, dtype=torch.bfloat16 if fmt == "bf16" else torch.float16)
    x = torch.randint(0, 256, shape, dtype=torch.uint8)
    if fmt == "e4m3":
        x = torch.where(x & 0x7F == 0x7F, x ^ 1, x)          # no NaN inputs
    if fmt == "e5m2":
        x = torch.where(x & 0x7C == 0x7C, x & 0x83, x)       # no inf/NaN inputs
    return x


CASES = [  # (lhs format, rhs format, lhs scaled, rhs scaled, k_pack)
    ("e2m1", "bf16", True, False, True),
    ("bf16", "e2m1", False, True, True),
    ("e4m3", "e5m2", True, True, True),
    ("e2m1", "e2m1", True, True, False),
    ("fp16", "e4m3", False, True, True),
]


@pytest.mark.parametrize("fa, fb, sa_on, sb_on, k_pack", CASES)
def test_dot_scaled_matches_decoded_matmul(fa, fb, sa_on, sb_on, k_pack):
    M, N, K = 16, 32, 64
    pack_a = 2 if fa == "e2m1" else 1
    pack_b = 2 if fb == "e2m1" else 1
    a_shape = (M, K // pack_a) if k_pack else (M // pack_a, K)
    b_shape = (K // pack_b, N) if k_pack else (K, N // pack_b)
    a, b = _make(a_shape, fa), _make(b_shape, fb)
    sa = torch.randint(110, 140, (M, K // 32), dtype=torch.uint8) if sa_on else None
    sb = torch.randint(110, 140, (N, K // 32), dtype=torch.uint8) if sb_on else None
    if sa is not None:
        sa[0, 0] = 0          # E8M0 zero: 2**-127
        sa[1, 1] = 255        # NaN scale poisons row 1
    out = torch.empty(M, N)
    dot_scaled_kernel[(1,)](a, sa, b, sb, out, M, N, K, *a_shape, *b_shape, fa, fb, k_pack)

    keep_tiny = "fp16" not in (fa, fb)
    ra = _decode(a, fa, 1 if k_pack else 0)
    rb = _decode(b, fb, 0 if k_pack else 1)
    if sa is not None:
        ra = ra * _scale(sa, keep_tiny).repeat_interleave(32, dim=1)
    if sb is not None:
        rb = rb * _scale(sb, keep_tiny).repeat_interleave(32, dim=1).T
    ref = ra @ rb + 1.0
    # f32 accumulation in any order: error bounded by K ulps of the sum of |products|
    bound = K * 2.0 ** -24 * (ra.abs() @ rb.abs() + 1.0)
    assert torch.equal(out.isnan(), ref.isnan())
    finite = ~ref.isnan()
    assert ((out.double() - ref).abs()[finite] <= bound[finite]).all()
    if sa is not None:
        assert out[1].isnan().all()
