"""The f32 `exp`/`exp2`/`erf` expansions: error in ulps against float64 references over the
whole range, and the edge cases (overflow, underflow, infinities, NaN, exact points)."""
import numpy as np
import pytest
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice


@triton.jit
def exp_kernel(x_ptr, out_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    if FN == "exp":
        y = tl.exp(x)
    elif FN == "exp2":
        y = tl.exp2(x)
    else:
        y = libdevice.exp(x)
    tl.store(out_ptr + offs, y, mask=m)


REFERENCE = {"exp": torch.exp, "exp2": torch.exp2, "libdevice_exp": torch.exp}
# inputs whose results span every binade from the flush threshold to overflow
RANGE = {"exp": (-86.9, 88.7), "exp2": (-125.4, 127.99), "libdevice_exp": (-86.9, 88.7)}


def _run(fn, x):
    out = torch.empty_like(x)
    exp_kernel[(triton.cdiv(x.numel(), 1024),)](x, out, x.numel(), FN=fn, BLOCK=1024)
    return out


def _ulps(ours, exact):
    spacing = torch.from_numpy(np.spacing(exact.float().abs().numpy())).double()
    return ((ours.double() - exact) / spacing).abs()


@pytest.mark.parametrize("fn", ["exp", "exp2", "libdevice_exp"])
def test_error_in_ulps(fn):
    lo, hi = RANGE[fn]
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.rand(1 << 18, generator=g) * (hi - lo) + lo,
                   torch.randn(1 << 16, generator=g), torch.randn(1 << 12, generator=g) * 1e-4])
    exact = REFERENCE[fn](x.double())
    err = _ulps(_run(fn, x), exact)
    assert err.max().item() <= 2.0, f"{fn}: {err.max().item():.2f} ulp at x={x[err.argmax()].item()!r}"


@pytest.mark.parametrize("fn", ["exp", "exp2"])
def test_edges(fn):
    ref = REFERENCE[fn]
    top = 88.72283 if fn == "exp" else 127.99
    x = torch.tensor([0.0, -0.0, 1.0, -1.0, 1e-30, top, top + 0.01, 200.0, float("inf"), float("-inf"),
                      -200.0, float("nan")])
    out = _run(fn, x)
    exact = ref(x.double()).float()
    assert out[0].item() == 1.0 and out[1].item() == 1.0     # exp(0) is exactly 1
    assert torch.isfinite(out[5]) and abs(out[5].item() / exact[5].item() - 1) < 1e-6
    assert torch.isinf(out[6:9]).all() and (out[6:9] > 0).all()  # overflow gives +inf
    assert (out[9:11] == 0).all()
    assert torch.isnan(out[11])
    torch.testing.assert_close(out[2:5], exact[2:5], rtol=2e-7, atol=0)


def test_exp2_of_integers_is_exact():
    k = torch.arange(-125, 128, dtype=torch.float32)
    assert torch.equal(_run("exp2", k), torch.exp2(k.double()).float())


def test_underflow_flushes_only_below_the_normal_range():
    # results under 2**-125.5 may flush to zero (IREE flushes subnormals anyway); above, they are accurate
    x = torch.linspace(-90.0, -86.0, 4001)
    out, exact = _run("exp", x), torch.exp(x.double())
    normal = exact >= 2.0 ** -125.5
    assert _ulps(out[normal], exact[normal]).max().item() <= 2.0
    assert (out[~normal] <= 2.0 ** -125.5).all() and (out >= 0).all()


@triton.jit
def erf_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, libdevice.erf(tl.load(x_ptr + offs, mask=m)), mask=m)


def _erf(x):
    out = torch.empty_like(x)
    erf_kernel[(triton.cdiv(x.numel(), 1024),)](x, out, x.numel(), BLOCK=1024)
    return out


def test_erf_error():
    import math
    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.rand(1 << 16, generator=g) * 10 - 5, torch.randn(1 << 14, generator=g),
                   torch.randn(1 << 12, generator=g) * 1e-20])
    exact = torch.tensor([math.erf(v) for v in x.double().tolist()], dtype=torch.float64)
    out = _erf(x)
    # a few ulp where erf is near +-1 (absolute error under 5e-7), and exact in sign and symmetry
    assert _ulps(out, exact).max().item() <= 8.0
    assert (out.double() - exact).abs().max().item() <= 5e-7
    assert torch.equal(_erf(-x), -out)


def test_erf_edges():
    x = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 4.0, 10.0, -10.0])
    out = _erf(x)
    assert out[0].item() == 0.0 and not out[0].signbit() and out[1].item() == 0.0 and out[1].signbit()
    assert out[2:4].tolist() == [1.0, -1.0] and out[5:].tolist() == [1.0, 1.0, -1.0]
    assert torch.isnan(out[4])


@triton.jit
def scalar_kernel(out_ptr, a):
    tl.store(out_ptr, tl.exp(a))
    tl.store(out_ptr + 1, tl.exp2(a))
    tl.store(out_ptr + 2, tl.erf(a))


@pytest.mark.parametrize("a", [-3.25, 0.0, 0.7, 40.0])
def test_scalar_operands(a):
    import math
    out = torch.zeros(3)
    scalar_kernel[(1,)](out, a)
    want = torch.tensor([math.exp(a), 2.0 ** a, math.erf(a)], dtype=torch.float32)
    torch.testing.assert_close(out, want, rtol=4e-7, atol=0)
