"""`torch.compile(backend="turbine_triton")`: Inductor's Triton kernels run through IREE.

Every test compares the compiled result with eager torch.  Sizes are small;
each distinct kernel costs about a second of `iree-compile` once, then comes
from the disk cache.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

BACKEND = "turbine_triton"


@pytest.fixture(autouse=True)
def _reset_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def compiled(fn, **kwargs):
    return torch.compile(fn, backend=BACKEND, **kwargs)


def check(fn, *args, rtol=1e-4, atol=1e-4, **compile_kwargs):
    """Compile `fn` through us, run it, compare with eager; returns the compiled result."""
    expected = fn(*args)
    actual = compiled(fn, **compile_kwargs)(*args)
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)
    return actual


def triton_code(fn, *args, **compile_kwargs):
    """The Inductor output code of compiling `fn` through us, and its result."""
    from torch._inductor.utils import run_and_get_code
    result, codes = run_and_get_code(compiled(fn, **compile_kwargs), *args)
    return result, "\n".join(codes)


# -- registration -----------------------------------------------------------------------------

def test_backend_is_registered_by_entry_point():
    from torch._dynamo.backends.registry import list_backends, lookup_backend
    from turbine_triton.plugin.inductor import turbine_triton
    assert BACKEND in list_backends()
    assert lookup_backend(BACKEND) is turbine_triton


def test_no_global_configuration_is_edited():
    from torch._inductor import config
    before = config.cpu_backend
    x = torch.randn(8, 8)
    _, code = triton_code(lambda t: t.cos() * 3, x)
    assert "@triton.jit" in code, "Inductor did not emit Triton kernels"
    assert config.cpu_backend == before
    # plain torch.compile still uses Inductor's C++ backend afterwards
    torch._dynamo.reset()
    from torch._inductor.utils import run_and_get_code
    _, codes = run_and_get_code(torch.compile(lambda t: t.cos() * 4), x)
    assert "@triton.jit" not in "\n".join(codes)


def _count_launches(monkeypatch) -> list:
    """A list that gets one entry per launch through the launchers our driver builds from now on."""
    import triton
    active = triton.runtime.driver.active
    make, calls = active.launcher_cls, []

    def counting_launcher_cls(src, metadata):
        launch = make(src, metadata)

        def counting(*args):
            calls.append(launch)
            return launch(*args)
        return counting

    monkeypatch.setattr(active, "launcher_cls", counting_launcher_cls)
    return calls


def test_kernels_run_through_our_driver(monkeypatch):
    import triton
    from turbine_triton.plugin import driver as drv
    assert isinstance(triton.runtime.driver.active, drv.CPUDriverBase)
    calls = _count_launches(monkeypatch)
    x = torch.randn(33, 17)
    check(lambda t: torch.sigmoid(t) + t.abs(), x)
    assert calls, "no kernel ran through the turbine_triton launcher"


# -- pointwise and broadcast ------------------------------------------------------------------

def test_pointwise_chain():
    x, y = torch.randn(64, 33), torch.randn(64, 33)
    check(lambda a, b: torch.relu(a * 2 + b.sin()) - torch.tanh(a) / (b.abs() + 1), x, y)


def test_broadcast():
    check(lambda a, b, c: (a + b) * c.exp(), torch.randn(5, 1, 7), torch.randn(1, 6, 7), torch.randn(7))


def test_strided_views():
    # Small on purpose: a transposing copy is a 2-D tile with a strided access, whose
    # compile time grows steeply with the tile (see test_transpose_tile_64x64).
    x = torch.randn(12, 10)
    check(lambda a: a.t().contiguous() * 2 + a[::2].sum(0).unsqueeze(0).t()[:10, :1], x)


def test_math_ops():
    x = torch.rand(257) + 0.1
    check(lambda a: torch.erf(a) + torch.log1p(a) + torch.rsqrt(a) + torch.pow(a, 1.7) + torch.floor(a * 7),
          x, rtol=1e-4, atol=1e-5)


# -- reductions -------------------------------------------------------------------------------

def test_persistent_reduction():
    _, code = triton_code(lambda a: a.sum(1), torch.randn(8, 100))
    assert "triton_per_" in code
    check(lambda a: a.sum(1), torch.randn(8, 100))


def test_looped_reduction():
    x = torch.randn(4, 50000)
    result, code = triton_code(lambda a: a.sum(1), x)
    assert "triton_red_" in code, "expected a looped (red) reduction kernel"
    torch.testing.assert_close(result, x.sum(1), rtol=1e-4, atol=1e-3)


def test_looped_reduction_max_min():
    x = torch.randn(3, 20000)
    check(lambda a: (a.amax(1), a.amin(1), a.mean(1)), x)


def test_softmax():
    check(lambda a: torch.softmax(a, -1), torch.randn(16, 300))


def test_logsumexp():
    check(lambda a: torch.logsumexp(a, -1), torch.randn(16, 300))


def test_layernorm():
    w, b = torch.randn(64), torch.randn(64)
    check(lambda a: F.layer_norm(a, (64,), w, b), torch.randn(16, 64))


def test_rmsnorm():
    w = torch.randn(64)
    check(lambda a: a * torch.rsqrt(a.pow(2).mean(-1, keepdim=True) + 1e-6) * w, torch.randn(16, 64))


def test_variance():
    check(lambda a: (a.var(1), a.var(0, unbiased=False)), torch.randn(16, 1000), rtol=1e-4, atol=1e-4)


def test_cumsum():
    check(lambda a: a.cumsum(1), torch.randn(8, 100), rtol=1e-4, atol=1e-4)


def test_argmax():
    x = torch.randn(8, 100)
    check(lambda a: (a.argmax(1), a.argmin(0)), x)


# -- indexing and atomics ---------------------------------------------------------------------

def test_embedding():
    w = torch.randn(50, 16)
    check(lambda i: F.embedding(i, w) * 2, torch.randint(0, 50, (4, 7)))


def test_gather_indexing():
    x, i = torch.randn(30, 8), torch.randint(0, 30, (12,))
    check(lambda a, idx: a[idx] + a[idx.flip(0)], x, i)


def test_index_put_accumulate():
    """Inductor lowers `index_put(accumulate=True)` to `tl.atomic_add`."""
    x, i, v = torch.zeros(20), torch.randint(0, 20, (50,)), torch.randn(50)
    fn = lambda a, idx, val: a.index_put((idx,), val, accumulate=True)
    result, code = triton_code(fn, x, i, v)
    assert "atomic_add" in code
    torch.testing.assert_close(result, fn(x, i, v))


def test_index_add():
    x, i, v = torch.zeros(10, 4), torch.randint(0, 10, (30,)), torch.randn(30, 4)
    fn = lambda a, idx, val: a.index_add(0, idx, val)
    result, code = triton_code(fn, x, i, v)
    assert "atomic_add" in code
    torch.testing.assert_close(result, fn(x, i, v))


def test_out_of_bounds_index_is_reported():
    """Inductor's `tl.device_assert` on indirect indexing fires instead of reading out of bounds."""
    w = torch.randn(10, 4)
    fn = compiled(lambda i: F.embedding(i, w))
    torch.testing.assert_close(fn(torch.tensor([1, 9])), w[[1, 9]])
    with pytest.raises(Exception, match="index out of bounds"):
        fn(torch.tensor([1, 12]))


# -- dtypes -----------------------------------------------------------------------------------

def test_fp16_bf16_int_mix():
    a = torch.randn(32, 16).half()
    b = torch.randn(32, 16, dtype=torch.bfloat16)
    c = torch.randint(-5, 5, (32, 16))
    check(lambda x, y, z: (x.float() * y + z).to(torch.bfloat16), a, b, c, rtol=1e-2, atol=1e-2)


def test_low_precision_reduction():
    a = torch.randn(16, 64, dtype=torch.bfloat16)
    check(lambda x: torch.softmax(x, -1), a, rtol=2e-2, atol=2e-2)
    h = torch.randn(16, 64).half()
    check(lambda x: (x * 2).sum(-1), h, rtol=1e-2, atol=1e-2)


def test_integer_ops():
    a, b = torch.randint(-100, 100, (64,), dtype=torch.int32), torch.randint(1, 9, (64,), dtype=torch.int32)
    check(lambda x, y: (x // y, x % y, x * y + 3, (x > 0) & (y < 5), x.to(torch.int8)), a, b)


# -- dynamic shapes ---------------------------------------------------------------------------

def test_dynamic_true():
    fn = lambda a: torch.softmax(a * 2, -1).sum(0)
    c = compiled(fn, dynamic=True)
    for n in (5, 9):
        x = torch.randn(n, 3 + n)
        torch.testing.assert_close(c(x), fn(x), rtol=1e-4, atol=1e-4)


def test_dynamic_automatic():
    """The second size recompiles with symbolic shapes (`ks*` arguments); the third reuses it."""
    from torch._dynamo.testing import CompileCounterWithBackend
    counter = CompileCounterWithBackend(BACKEND)
    fn = lambda a: (a.sin() + 1).mean(1)
    c = torch.compile(fn, backend=counter)
    for n in (6, 10, 14):
        x = torch.randn(n, 7)
        torch.testing.assert_close(c(x), fn(x), rtol=1e-4, atol=1e-4)
    assert counter.frame_count == 2


# -- models -----------------------------------------------------------------------------------

def test_mlp():
    m = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 16))
    x = torch.randn(8, 32)
    torch.testing.assert_close(compiled(m)(x), m(x), rtol=1e-4, atol=1e-4)


def test_transformer_encoder_block():
    m = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True).train()
    x = torch.randn(2, 10, 32)
    torch.testing.assert_close(compiled(m)(x), m(x), rtol=1e-4, atol=1e-4)


def test_training_step():
    m = nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 4))
    ref = copy.deepcopy(m)
    x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
    loss = F.cross_entropy(compiled(m)(x), y)
    ref_loss = F.cross_entropy(ref(x), y)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-4, atol=1e-4)
    loss.backward()
    ref_loss.backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-4)


def test_conv_batchnorm_relu():
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).eval()
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(compiled(m)(x), m(x), rtol=1e-4, atol=1e-4)


def test_conv_batchnorm_relu_train():
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).train()
    ref = copy.deepcopy(m)
    x = torch.randn(2, 3, 6, 6)
    out, ref_out = compiled(m)(x), ref(x)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-4)
    out.sum().backward()
    ref_out.sum().backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(m[1].running_mean, ref[1].running_mean)


# -- max-autotune: Triton mm templates, benchmarked on our kernels ----------------------------

def test_max_autotune_conv_with_bias_stays_correct():
    """Inductor's Triton conv templates drop a CPU conv's bias; we keep convs on ATen."""
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(compiled(m, mode="max-autotune")(x), m(x), rtol=1e-4, atol=1e-4)


def test_max_autotune_mm_template(monkeypatch):
    from torch._inductor import config
    launches = _count_launches(monkeypatch)
    a, b = torch.randn(256, 64), torch.randn(64, 128)    # big enough for distinct blocks
    fn = lambda x, y: torch.relu(x @ y)
    # Triton templates only, so the mm must come from a Triton kernel.
    # caches off: a cached autotune result would skip the benchmarking this test checks
    with config.patch(max_autotune_gemm_backends="TRITON", force_disable_caches=True):
        result, code = triton_code(fn, a, b, mode="max-autotune")
    assert "tl.dot" in code, "Inductor did not emit a Triton mm template"
    torch.testing.assert_close(result, fn(a, b), rtol=1e-4, atol=1e-4)
    # the template choices were benchmarked by launching our compiled kernels
    assert len(launches) > 1


def test_do_bench_times_our_kernels(monkeypatch):
    """`triton.testing.do_bench` takes its device interface from our driver."""
    import triton
    from turbine_triton.plugin import driver as drv
    records = []
    real_record = drv.CPUEvent.record

    def record(self, stream=None):
        records.append(self)
        return real_record(self, stream)

    monkeypatch.setattr(drv.CPUEvent, "record", record)
    x = torch.randn(256, 64)
    fn = compiled(lambda t: torch.softmax(t, -1))
    torch.testing.assert_close(fn(x), torch.softmax(x, -1))
    ms = triton.testing.do_bench(lambda: fn(x), warmup=1, rep=5)
    assert ms > 0 and records


# -- errors and fallback ----------------------------------------------------------------------

@pytest.fixture
def missing_sin_rule(monkeypatch, tmp_path):
    """`math.sin` without a lowering rule, compiled in this process with every cache cold."""
    from torch._inductor import config
    from turbine_triton.lowering import registry
    registry._load_families()
    monkeypatch.delitem(registry.LOWERINGS, "math.sin")
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    monkeypatch.setenv("TURBINE_TRITON_CACHE_DIR", str(tmp_path / "turbine"))
    with config.patch(compile_threads=1, force_disable_caches=True):
        yield


def test_lowering_failure_names_kernel_and_op(missing_sin_rule):
    from turbine_triton.plugin.inductor import InductorLoweringError
    with pytest.raises(Exception) as info:
        compiled(lambda t: torch.sin(t) * 1.25)(torch.randn(17))
    e, seen = info.value, set()
    while e is not None and not isinstance(e, InductorLoweringError) and id(e) not in seen:
        seen.add(id(e))  # dynamo's BackendCompilerFailed keeps the error as `inner_exception`
        e = getattr(e, "inner_exception", None) or e.__cause__ or e.__context__
    assert isinstance(e, InductorLoweringError), f"not an InductorLoweringError: {info.value!r}"
    assert e.op == "math.sin"
    assert e.kernel.startswith("triton_poi_fused") and "sin" in e.kernel
    assert e.kernel in str(info.value) and "math.sin" in str(info.value)


def test_lowering_failure_message_from_worker_process():
    """Inductor's compile workers send failures back as text; the kernel and op are still named."""
    from turbine_triton.plugin.inductor import lowering_failure
    text = ("An exception occurred in a subprocess:\n\nName=triton_poi_fused_sin_0\nTraceback ...\n"
            "turbine_triton.lowering.errors.UnsupportedOp: `math.sin` at /tmp/k.py:3:5: "
            "turbine-triton has no lowering for this op\n")
    named = lowering_failure(RuntimeError(text))
    assert named is not None and named.kernel == "triton_poi_fused_sin_0" and named.op == "math.sin"
    assert lowering_failure(RuntimeError("something unrelated")) is None


def test_fallback_to_cpp_warns(missing_sin_rule):
    from turbine_triton.plugin.inductor import TurbineTritonFallbackWarning
    x = torch.randn(17)
    fn = lambda t: torch.sin(t) * 1.5
    with pytest.warns(TurbineTritonFallbackWarning, match=r"triton_poi_fused\w*sin\w*.*math\.sin"):
        result = compiled(fn, options={"turbine_triton.fallback": True})(x)
    torch.testing.assert_close(result, fn(x))


def test_fallback_by_environment(missing_sin_rule, monkeypatch):
    from turbine_triton.plugin.inductor import TurbineTritonFallbackWarning
    monkeypatch.setenv("TURBINE_TRITON_INDUCTOR_FALLBACK", "1")
    x = torch.randn(17)
    fn = lambda t: torch.sin(t) * 1.75
    with pytest.warns(TurbineTritonFallbackWarning, match="math.sin"):
        result = compiled(fn)(x)
    torch.testing.assert_close(result, fn(x))


# -- caching across processes -----------------------------------------------------------------

_CACHE_SCRIPT = textwrap.dedent("""
    import torch, torch.nn as nn
    import turbine_triton.runtime.compile as rc
    calls = []
    real = rc.compile_mlir
    def counting(*a, **k):
        calls.append(a[1] if len(a) > 1 else k.get("name"))
        return real(*a, **k)
    rc.compile_mlir = counting
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.GELU())
    x = torch.randn(4, 8)
    out = torch.compile(m, backend="turbine_triton")(x)
    torch.testing.assert_close(out, m(x), rtol=1e-4, atol=1e-4)
    print("COMPILED", len(calls))
""")


def test_second_process_compiles_nothing_new(tmp_path):
    env = dict(os.environ, TURBINE_TRITON_CACHE_DIR=str(tmp_path / "turbine"),
               TRITON_CACHE_DIR=str(tmp_path / "triton"), TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"),
               TORCHINDUCTOR_COMPILE_THREADS="1")

    def run():
        out = subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        compiled_count = int(out.stdout.split("COMPILED")[-1])
        entries = sorted(n for n in os.listdir(tmp_path / "turbine") if not n.startswith("."))
        return compiled_count, entries

    first, entries_first = run()
    assert first >= 1 and entries_first
    second, entries_second = run()
    assert second == 0
    assert entries_second == entries_first


# -- Inductor's index patterns become vector loads, not gathers ---------------------------------

CONTIGUOUS_CASES = {
    # per-channel parameters at (x // HW) % C: one scalar load per chunk, broadcast
    "batchnorm_eval": (lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, False),
                       lambda: [torch.randn(2, 16, 32, 32), torch.randn(16), torch.rand(16) + 0.5,
                                torch.randn(16), torch.randn(16)]),
    # a row index read from memory (with Inductor's negative-index wrap)
    "embedding": (lambda i, w: w[i] * 2, lambda: [torch.randint(-100, 100, (256,)), torch.randn(100, 64)]),
    # pooling windows: every other element of a row
    "avg_pool": (lambda x: F.avg_pool2d(x, 2), lambda: [torch.randn(2, 8, 64, 64)]),
    # outer reductions: x contiguous, r strided
    "sum_dim0": (lambda x: x.sum(0), lambda: [torch.randn(512, 256)]),
    "mean_middle": (lambda x: x.mean(1), lambda: [torch.randn(4, 128, 256)]),
}


@pytest.mark.parametrize("case", sorted(CONTIGUOUS_CASES))
def test_index_patterns_lower_without_gathers(case, monkeypatch, tmp_path):
    """Each kernel Inductor generates for these ops lowers to vector loads in at least one of
    the configurations its autotuner compiles (a reduction config of 2 rows has only 2
    contiguous lanes to load): compiled in this process into empty Triton and kernel caches,
    so every lowered module is on disk to read.  Inductor's cache is empty too: with a cached
    autotune result it compiles only the configuration that won before."""
    fn, make = CONTIGUOUS_CASES[case]
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    monkeypatch.setenv("TURBINE_TRITON_CACHE_DIR", str(tmp_path / "kernels"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    args = make()
    with torch.no_grad():
        check(fn, *args, options={"compile_threads": 1, "fx_graph_cache": False})
    gathers = {}   # kernel name -> gather count of each compiled configuration
    for m in (tmp_path / "kernels").rglob("kernel.mlir"):
        text = m.read_text()
        name = text.split("func.func @", 1)[1].split("(", 1)[0]
        gathers.setdefault(name, []).append(text.count("vector.gather"))
    assert gathers, "no kernel was compiled in this process"
    for name, counts in gathers.items():
        assert min(counts) == 0, f"{case}: every configuration of {name} gathers ({counts})"
