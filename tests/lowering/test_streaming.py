"""Streaming (non-temporal) stores: chosen by destination size and cache policy, and always
the same result as plain stores, for aligned and unaligned destinations."""
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.lowering import host
from turbine_triton.lowering.pipeline import lower
from turbine_triton.runtime.compile import compile_mlir
from turbine_triton.runtime.launch import Launcher
from turbine_triton.triton_frontend.capture import capture_jit


@triton.jit
def scaled_copy_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr, POLICY: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    v = tl.load(x_ptr + offs, mask=m) * 2.0
    if POLICY == 1:
        tl.store(out_ptr + offs, v, mask=m, cache_modifier=".cs")
    elif POLICY == 2:
        tl.store(out_ptr + offs, v, mask=m, eviction_policy="evict_last")
    else:
        tl.store(out_ptr + offs, v, mask=m)


@pytest.fixture
def threshold(monkeypatch):
    """Set the streaming threshold for modules lowered in this test."""
    def set_to(nbytes):
        monkeypatch.setattr(host, "streaming_store_min_bytes", lambda: nbytes)
    return set_to


def _lowered(x, out, policy, block=256):
    return lower(capture_jit(scaled_copy_kernel, x, out, out.numel(), BLOCK=block, POLICY=policy))


@pytest.mark.parametrize("policy, threshold_bytes, streams", [
    (0, 1, True),          # every destination is large enough
    (0, 0, False),         # turned off
    (0, 1 << 62, True),    # plain stores still check: the test is at run time
    (1, 0, True),          # cache_modifier=".cs" streams even when auto-streaming is off
    (2, 1, False),         # evict_last never streams
])
def test_streaming_stores_follow_policy(threshold, policy, threshold_bytes, streams):
    threshold(threshold_bytes)
    x = torch.randn(1000)
    mlir = _lowered(x, torch.empty(1000), policy).mlir
    assert ("nontemporal = true" in mlir) == streams
    if policy == 0 and threshold_bytes > 1:
        assert str(threshold_bytes) in mlir   # compared with the binding's size at run time


@pytest.mark.parametrize("offset", [0, 1, 3, 16, 17])
@pytest.mark.parametrize("policy", [0, 1])
def test_streamed_results_match_torch_at_any_alignment(threshold, offset, policy):
    # Destination views starting off a 64-byte line take the plain-store path per store;
    # aligned ones stream.  Both must write exactly the masked lanes.
    threshold(1)
    n = 1000
    x = torch.randn(n)
    base = torch.full((n + offset + 40,), -7.0)
    out = base[offset:offset + n]
    low = _lowered(x, out, policy)
    launcher = Launcher(low.abi, vmfb=compile_mlir(low.mlir, "scaled_copy_kernel"))
    launcher((triton.cdiv(n, 256),), x, out, n)
    torch.testing.assert_close(out, x * 2.0)
    assert (base[:offset] == -7.0).all() and (base[offset + n:] == -7.0).all()


def test_large_output_through_kernel_launch():
    # Above the host's threshold the default path streams; the result is the same.
    n = max(host.streaming_store_min_bytes() // 4, 1 << 16) + 77
    x = torch.randn(n)
    out = torch.empty(n)
    scaled_copy_kernel[(triton.cdiv(n, 1024),)](x, out, n, BLOCK=1024, POLICY=0)
    torch.testing.assert_close(out, x * 2.0)


def test_host_fingerprint_tracks_the_threshold(monkeypatch):
    before = host.fingerprint()
    monkeypatch.setattr(host, "streaming_store_min_bytes", lambda: 12345)
    assert host.fingerprint() != before
    assert host.last_level_cache_bytes() > 0


@triton.jit
def inplace_relu_kernel(io_ptr, n, BLOCK: tl.constexpr, POLICY: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    v = tl.maximum(tl.load(io_ptr + offs, mask=m), 0.0)
    if POLICY == 1:
        tl.store(io_ptr + offs, v, mask=m, cache_modifier=".cs")
    else:
        tl.store(io_ptr + offs, v, mask=m)


@triton.jit
def loop_carried_kernel(x_ptr, out_ptr, other_ptr, n, FLIP: tl.constexpr, BLOCK: tl.constexpr):
    # out is read through a loop-carried pointer (FLIP=1) or a select (FLIP=2); other never is
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    src = x_ptr
    if FLIP == 2:
        src = tl.where(n > 0, out_ptr, x_ptr)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    p = src + offs
    for _ in range(2):
        acc += tl.load(p, mask=m, other=0.0)
        if FLIP == 1:
            p = out_ptr + offs
    tl.store(out_ptr + offs, acc, mask=m)
    tl.store(other_ptr + offs, acc, mask=m)


def test_in_place_outputs_keep_plain_stores(threshold):
    # The loaded lines are in cache already: no read to save, and the result should stay.
    threshold(1)
    n = 1000
    base = torch.randn(n)
    io = base.clone()
    low = lower(capture_jit(inplace_relu_kernel, io, n, BLOCK=256, POLICY=0))
    assert "nontemporal = true" not in low.mlir
    launcher = Launcher(low.abi, vmfb=compile_mlir(low.mlir, "inplace_relu_kernel"))
    launcher((triton.cdiv(n, 256),), io, n)
    torch.testing.assert_close(io, torch.relu(base))
    # an explicit cache_modifier=".cs" still streams
    assert "nontemporal = true" in lower(capture_jit(inplace_relu_kernel, io, n, BLOCK=256, POLICY=1)).mlir


@pytest.mark.parametrize("flip, loaded", [(0, {0}), (1, {0, 1}), (2, {0, 1})])
def test_loaded_arguments_are_traced_through_loops_and_selects(flip, loaded):
    from turbine_triton.lowering.ops.streaming import loaded_args
    n = 512
    x, out, other = torch.randn(n), torch.zeros(n), torch.zeros(n)
    cap = capture_jit(loop_carried_kernel, x, out, other, n, FLIP=flip, BLOCK=256)
    from turbine_triton.triton_frontend.parser import parse_ttir
    assert loaded_args(parse_ttir(cap.ttir).function()) == frozenset(loaded)
