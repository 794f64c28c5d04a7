"""Language features: philox random streams, noinline calls, early return, fp8, f64, batched and int8 dot."""
import os
import subprocess
import sys

import torch
import triton
import triton.language as tl

from ._rand_kernels import rand_kernel


def test_rand_randn_randint_match_the_interpreters_philox(tmp_path):
    outs = [torch.zeros(64), torch.zeros(64), torch.zeros(64, dtype=torch.int32)]
    rand_kernel[(1,)](*outs, 1234, N=64)
    # the interpreter only follows nested @jit calls (tl.rand is one) when enabled at import
    script = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]);"
        "from _rand_kernels import rand_kernel;"
        "o = [torch.zeros(64), torch.zeros(64), torch.zeros(64, dtype=torch.int32)];"
        "rand_kernel[(1,)](*o, 1234, N=64); torch.save(o, sys.argv[2])")
    env = dict(os.environ, TRITON_INTERPRET="1")
    subprocess.run([sys.executable, "-c", script, os.path.dirname(__file__), str(tmp_path / "ref.pt")],
                   check=True, env=env)
    ref = torch.load(tmp_path / "ref.pt")
    torch.testing.assert_close(outs[2], ref[2])           # integer streams are bit-exact
    torch.testing.assert_close(outs[0], ref[0], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(outs[1], ref[1], atol=1e-5, rtol=1e-5)
    assert 0.0 <= outs[0].min() and outs[0].max() < 1.0


@triton.jit(noinline=True)
def _axpb(x, a, b):
    return x * a + b


@triton.jit
def call_kernel(x_ptr, out_ptr):
    x = tl.load(x_ptr)
    tl.store(out_ptr, _axpb(x, 3.0, 1.0))


def test_noinline_call():
    x, out = torch.tensor([2.5]), torch.zeros(1)
    call_kernel[(1,)](x, out)
    assert out.item() == 8.5


@triton.jit
def early_return_kernel(x_ptr, out_ptr, n, N: tl.constexpr):
    pid = tl.program_id(0)
    if pid * N >= n:
        return
    offs = pid * N + tl.arange(0, N)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs) + 1)


def test_early_return():
    x, out = torch.randn(64), torch.full((96,), -5.0)
    early_return_kernel[(6,)](x, out, 64, N=16)   # programs 4 and 5 return at once
    torch.testing.assert_close(out[:64], x + 1)
    assert torch.all(out[64:] == -5.0)


@triton.jit
def fp8_roundtrip_kernel(x_ptr, e4_ptr, e5_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    tl.store(e4_ptr + offs, x.to(tl.float8e4nv).to(tl.float32))
    tl.store(e5_ptr + offs, x.to(tl.float8e5).to(tl.float32))


def test_fp8_conversions_round_like_torch():
    x = torch.randn(64) * 4
    e4, e5 = torch.zeros(64), torch.zeros(64)
    fp8_roundtrip_kernel[(1,)](x, e4, e5, N=64)
    torch.testing.assert_close(e4, x.to(torch.float8_e4m3fn).float(), atol=0, rtol=0)
    torch.testing.assert_close(e5, x.to(torch.float8_e5m2).float(), atol=0, rtol=0)


@triton.jit
def fp8_half_kernel(x_ptr, h_ptr, b_ptr, back_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs).to(tl.float8e4nv, bitcast=True)
    h = x.to(tl.float16)
    tl.store(h_ptr + offs, h)
    tl.store(b_ptr + offs, x.to(tl.bfloat16))
    tl.store(back_ptr + offs, h.to(tl.float8e5).to(tl.uint8, bitcast=True))


def test_fp8_to_and_from_16_bit_floats():
    """fp8 <-> f16/bf16 directly (IREE only emulates fp8 casts to and from f32)."""
    x = torch.arange(256, dtype=torch.uint8)
    x = torch.where(x & 0x7F == 0x7F, 0, x)    # no NaN patterns
    h, b = torch.zeros(256, dtype=torch.float16), torch.zeros(256, dtype=torch.bfloat16)
    back = torch.zeros(256, dtype=torch.uint8)
    fp8_half_kernel[(1,)](x, h, b, back, N=256)
    ref = x.view(torch.float8_e4m3fn)
    torch.testing.assert_close(h, ref.to(torch.float16), atol=0, rtol=0)
    torch.testing.assert_close(b, ref.to(torch.bfloat16), atol=0, rtol=0)
    torch.testing.assert_close(back.view(torch.float8_e5m2).float(), ref.to(torch.float16).to(torch.float8_e5m2).float(),
                               atol=0, rtol=0)


@triton.jit
def f64_kernel(x_ptr, out_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    tl.store(out_ptr + offs, tl.sqrt(x * x + 1e-300) * 3.0)


def test_f64_stays_f64():
    x = torch.randn(32, dtype=torch.float64) * 1e200
    out = torch.zeros(32, dtype=torch.float64)
    f64_kernel[(1,)](x, out, N=32)
    torch.testing.assert_close(out, torch.sqrt(x * x + 1e-300) * 3.0)


@triton.jit
def batched_dot_kernel(a_ptr, b_ptr, c_ptr, B: tl.constexpr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    ib = tl.arange(0, B)[:, None, None]
    a = tl.load(a_ptr + ib * M * K + tl.arange(0, M)[None, :, None] * K + tl.arange(0, K)[None, None, :])
    b = tl.load(b_ptr + ib * K * N + tl.arange(0, K)[None, :, None] * N + tl.arange(0, N)[None, None, :])
    tl.store(c_ptr + ib * M * N + tl.arange(0, M)[None, :, None] * N + tl.arange(0, N)[None, None, :],
             tl.dot(a, b))


def test_batched_3d_dot():
    a, b = torch.randn(2, 16, 32), torch.randn(2, 32, 16)
    c = torch.zeros(2, 16, 16)
    batched_dot_kernel[(1,)](a, b, c, B=2, M=16, N=16, K=32)
    torch.testing.assert_close(c, a @ b, atol=1e-4, rtol=1e-4)


@triton.jit
def int8_dot_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    a = tl.load(a_ptr + tl.arange(0, M)[:, None] * K + tl.arange(0, K)[None, :])
    b = tl.load(b_ptr + tl.arange(0, K)[:, None] * N + tl.arange(0, N)[None, :])
    tl.store(c_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :], tl.dot(a, b))


@triton.jit
def f16_acc_dot_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    a = tl.load(a_ptr + tl.arange(0, M)[:, None] * K + tl.arange(0, K)[None, :])
    b = tl.load(b_ptr + tl.arange(0, K)[:, None] * N + tl.arange(0, N)[None, :])
    tl.store(c_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :], tl.dot(a, b, out_dtype=tl.float16))


def test_f16_accumulator_dot_rounds_once():
    """An f16 accumulator sums in f32 and rounds at the end (as MMA units do), not after every step."""
    a, b = torch.randn(16, 256).half(), torch.randn(256, 16).half()
    c = torch.empty(16, 16, dtype=torch.float16)
    f16_acc_dot_kernel[(1,)](a, b, c, M=16, N=16, K=256)
    ref = (a.double() @ b.double()).half()
    torch.testing.assert_close(c, ref, atol=1e-2, rtol=2e-3)


def test_int8_dot_accumulates_in_int32():
    a = torch.randint(-128, 128, (16, 64), dtype=torch.int8)
    b = torch.randint(-128, 128, (64, 16), dtype=torch.int8)
    c = torch.zeros(16, 16, dtype=torch.int32)
    int8_dot_kernel[(1,)](a, b, c, M=16, N=16, K=64)
    torch.testing.assert_close(c, a.int() @ b.int())


@triton.jit
def loops_without_licm_kernel(out_ptr, n):
    i = 0
    total = 0
    while tl.condition(i < n, disable_licm=True):   # the loop carries a `loop_annotation`
        i = i + 1
        total += i
    tl.store(out_ptr, total)
    acc = 0
    for j in tl.range(0, n, disable_licm=True):
        acc += j * j
    tl.store(out_ptr + 1, acc)


def test_loops_with_disabled_licm():
    out = torch.zeros(2, dtype=torch.int32)
    loops_without_licm_kernel[(1,)](out, 10)
    assert out.tolist() == [sum(range(1, 11)), sum(j * j for j in range(10))]


@triton.jit
def two_accumulator_kernel(a_ptr, b_ptr, c_ptr, d_ptr, s_ptr, K, M: tl.constexpr, N: tl.constexpr,
                           BK: tl.constexpr):
    rm, rn, rk = tl.arange(0, M), tl.arange(0, N), tl.arange(0, BK)
    acc = tl.zeros([M, N], dtype=tl.float32)
    acc2 = tl.zeros([M, N], dtype=tl.float32)
    for k in range(0, K, BK):
        a = tl.load(a_ptr + rm[:, None] * K + (k + rk)[None, :])
        b = tl.load(b_ptr + (k + rk)[:, None] * N + rn[None, :])
        acc = tl.dot(a, b, acc)
        acc2 = tl.dot(a, b * 2.0, acc2)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc)
    tl.store(d_ptr + rm[:, None] * N + rn[None, :], acc2 - acc)   # each result read twice after the loop
    tl.store(s_ptr, tl.sum(tl.sum(acc2, 1), 0))


def test_two_dot_accumulators_in_one_loop_are_carried_as_tensors():
    """Both accumulators of the K loop travel as the matmuls' tensors (no vector round trip per
    step), and every use after the loop reads the right one back."""
    from turbine_triton.triton_frontend.capture import capture_jit
    from turbine_triton.lowering.pipeline import lower
    a, b = torch.randn(16, 64), torch.randn(64, 16)
    c, d, s = torch.empty(16, 16), torch.empty(16, 16), torch.empty(1)
    args = (a, b, c, d, s, 64)
    two_accumulator_kernel[(1,)](*args, M=16, N=16, BK=16)
    ref = a @ b
    torch.testing.assert_close(c, ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(d, ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s, (2 * ref).sum().reshape(1), atol=1e-3, rtol=1e-4)
    mlir = lower(capture_jit(two_accumulator_kernel, *args, M=16, N=16, BK=16)).mlir
    loop = next(line for line in mlir.splitlines() if "scf.for" in line)
    assert "-> (tensor<16x16xf32>, tensor<16x16xf32>)" in loop, loop


def test_lowering_a_dot_loop_does_not_import_the_linalg_package():
    """The `linalg` Python package (OpDSL) takes 0.2 s to import, a tenth of a cold `tl.dot`
    compile; the matmul is built from the generated op class and found by `walk`."""
    script = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]);"
        "from tests.lowering.test_language import two_accumulator_kernel as k;"
        "from turbine_triton.triton_frontend.capture import capture_jit;"
        "from turbine_triton.lowering.pipeline import lower;"
        "a, b, c = torch.randn(16, 64), torch.randn(64, 16), torch.empty(16, 16);"
        "text = lower(capture_jit(k, a, b, c, c, torch.empty(1), 64, M=16, N=16, BK=16)).mlir;"
        "assert 'linalg.matmul' in text;"
        "print('iree.compiler.dialects.linalg' in sys.modules)")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script, root], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "False"
