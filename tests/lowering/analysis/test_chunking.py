"""Staged chunking: 1-D kernels with reductions and column loops run as loops over 32-lane chunks
(column loops: four host vector registers of fp32 per chunk).

Each kernel runs through our backend and is compared with torch or Triton's
interpreter; each also asserts which plan it got, so the chunked path is the one
under test (and the kernels that must not be chunked are not).
"""
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.lowering.analysis import chunking
from turbine_triton.lowering.analysis.chunking import CHUNK, chunk_plan
from turbine_triton.lowering.pipeline import lower
from turbine_triton.triton_frontend.capture import capture_jit
from turbine_triton.triton_frontend.parser import parse_ttir
from turbine_triton import demo, bench_kernels as bk

from ..test_reduce_scan import _welford_combine

from turbine_triton.fuzz import interpret  # runs tl.sum & co, which are jit functions


def _plan(fn, *args, **kw):
    kernel = capture_jit(fn, *args, **kw)
    return chunk_plan(parse_ttir(kernel.ttir).functions[0])


# Row lengths that are not multiples of 16, so Triton specializes these launches apart from
# `turbine-triton demo`'s (tests/test_cli.py expects the demo's launches to compile).
@pytest.mark.parametrize("cols", [1000, 100])
def test_softmax_three_stages(cols):
    x = torch.randn(9, cols) * 4
    out = torch.empty_like(x)
    demo.softmax(x, out)
    torch.testing.assert_close(out, torch.softmax(x, -1), atol=1e-6, rtol=1e-5)
    plan = _plan(demo.softmax_kernel, x, out, x.stride(0), out.stride(0), cols, BLOCK=triton.next_power_of_2(cols))
    # max, then sum of exp, then the stores
    assert [len(s.reductions) for s in plan.stages] == [1, 1, 0]


@pytest.mark.parametrize("cols", [1000, 3000])
def test_layernorm_and_rmsnorm_column_loops(cols):
    """A row wider than BLOCK walks its columns in an scf.for inside each chunk."""
    x, w, b = torch.randn(5, cols), torch.randn(cols), torch.randn(cols)
    out = torch.empty_like(x)
    demo.layernorm(x, w, b, 1e-5, out)
    torch.testing.assert_close(out, torch.nn.functional.layer_norm(x, (cols,), w, b, 1e-5), atol=1e-4, rtol=1e-4)
    bk.rmsnorm(x, w, 1e-6, out)
    ref = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    plan = _plan(demo.layernorm_kernel, x, w, b, out, x.stride(0), cols, 1e-5, BLOCK=1024)
    assert [len(s.reductions) for s in plan.stages] == [1, 1, 0]
    # a chunk that runs a column loop is four of the host's vector registers wide
    assert plan.lanes == max(CHUNK, chunking.loop_lanes())


@pytest.mark.parametrize("wide", [32, 64, 128])
def test_column_loop_chunks_follow_the_host(monkeypatch, wide):
    """Wider chunks for column loops on a host with wider registers; straight-line kernels keep
    CHUNK lanes; a block no wider than one wide chunk keeps CHUNK too.  (The launches in
    `test_layernorm_and_rmsnorm_column_loops` run at the width this host gets.)"""
    monkeypatch.setattr(chunking, "loop_lanes", lambda: wide)
    x, w, b = torch.randn(3, 1000), torch.randn(1000), torch.randn(1000)
    out = torch.empty_like(x)
    loop = _plan(demo.layernorm_kernel, x, w, b, out, x.stride(0), 1000, 1e-5, BLOCK=1024)
    assert loop.lanes == max(wide, CHUNK)
    narrow = _plan(demo.layernorm_kernel, x, w, b, out, x.stride(0), 1000, 1e-5, BLOCK=64)
    assert narrow.lanes == CHUNK          # 64 lanes is no more than one wide chunk
    straight = _plan(demo.softmax_kernel, x, out, x.stride(0), out.stride(0), 1000, BLOCK=1024)
    assert straight.lanes == CHUNK


@triton.jit
def arg_kernel(x_ptr, out_ptr, idx_ptr, N: tl.constexpr):
    x = tl.load(x_ptr + tl.program_id(0) * N + tl.arange(0, N))
    v, i = tl.max(x, axis=0, return_indices=True)
    j = tl.argmin(x, axis=0)
    s = tl.sum(x, axis=0)
    tl.store(out_ptr + tl.program_id(0) * N + tl.arange(0, N), x - v + s)
    tl.store(idx_ptr + 2 * tl.program_id(0) + tl.arange(0, 2), tl.where(tl.arange(0, 2) == 0, i, j))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int32])
def test_arg_reductions_break_ties_across_chunks(dtype):
    """Ties in different chunks: the first index wins, as in torch and Triton."""
    N = 256
    x = torch.randint(-3, 4, (6, N)).to(dtype)   # many ties, in every chunk
    out = torch.empty_like(x)
    idx = torch.empty(12, dtype=torch.int32)
    arg_kernel[(6,)](x, out, idx, N=N)
    torch.testing.assert_close(idx.view(6, 2)[:, 0], x.argmax(1).to(torch.int32))
    torch.testing.assert_close(idx.view(6, 2)[:, 1], x.argmin(1).to(torch.int32))
    torch.testing.assert_close(out, x - x.amax(1, keepdim=True) + x.sum(1, keepdim=True).to(dtype))
    plan = _plan(arg_kernel, x, out, idx, N=N)
    # the index tensor is 2 lanes wide: not one block size, so the kernel is lowered whole
    assert plan is None


@triton.jit
def arg_chunked_kernel(x_ptr, out_ptr, N: tl.constexpr):
    offs = tl.program_id(0) * N + tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    v, i = tl.max(x, axis=0, return_indices=True)
    j = tl.argmin(x, axis=0)
    tl.store(out_ptr + offs, x * 0 + (i * 1000 + j).to(x.dtype) + v)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int32])
def test_arg_reductions_chunked(dtype):
    N = 256
    x = torch.randint(-3, 4, (6, N)).to(dtype)
    out = torch.empty_like(x)
    arg_chunked_kernel[(6,)](x, out, N=N)
    expect = (x.argmax(1) * 1000 + x.argmin(1)).to(dtype) + x.amax(1)
    torch.testing.assert_close(out, expect[:, None].expand(6, N).contiguous())
    assert len(_plan(arg_chunked_kernel, x, out, N=N).stages) == 2


@triton.jit
def welford_norm_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + tl.program_id(0) * n + offs, mask=mask, other=0.0)
    m, v, c = tl.reduce((x, tl.zeros_like(x), mask.to(tl.float32)), 0, _welford_combine)
    tl.store(out_ptr + tl.program_id(0) * n + offs, (x - m) / tl.sqrt(v / c + 1e-5), mask=mask)


def test_multi_operand_combine_region():
    n = 700
    x = torch.randn(4, n) + 3
    out = torch.empty_like(x)
    welford_norm_kernel[(4,)](x, out, n, BLOCK=1024)
    ref = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    assert [len(s.reductions) for s in _plan(welford_norm_kernel, x, out, n, BLOCK=1024).stages] == [1, 0]


@triton.jit
def store_then_reduce_kernel(x_ptr, out_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    x = tl.load(x_ptr + offs)
    tl.store(x_ptr + offs, x * 2)             # written before the reduction reads it again
    s = tl.sum(tl.load(x_ptr + offs), axis=0)
    tl.store(out_ptr + offs, x + s)


def test_store_before_reduction_is_not_reordered():
    x = torch.randn(256)
    out = torch.empty(256)
    ref_x, ref_out = x.clone(), out.clone()
    interpret(store_then_reduce_kernel, (1,), ref_x, ref_out, N=256)
    store_then_reduce_kernel[(1,)](x, out, N=256)
    torch.testing.assert_close(x, ref_x)
    torch.testing.assert_close(out, ref_out, atol=1e-4, rtol=1e-5)
    assert _plan(store_then_reduce_kernel, x, out, N=256) is None


@triton.jit
def pointwise_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.exp(tl.load(x_ptr + offs, mask=m)) * 2, mask=m)


def test_pointwise_is_one_stage():
    x = torch.randn(5000)
    out = torch.empty_like(x)
    pointwise_kernel[(triton.cdiv(5000, 256),)](x, out, 5000, BLOCK=256)
    torch.testing.assert_close(out, torch.exp(x) * 2)
    plan = _plan(pointwise_kernel, x, out, 5000, BLOCK=256)
    assert plan.block == 256 and len(plan.stages) == 1 and 256 % CHUNK == 0


@triton.jit
def inductor_rows_kernel(in_out_ptr, in_ptr, w_ptr, b_ptr, xnumel, r0_numel, XBLOCK: tl.constexpr,
                         R0_BLOCK: tl.constexpr):
    # The shape of Inductor's persistent layer-norm reduction with XBLOCK=1: (1, R) row tiles,
    # (1, 1) per-row values, sums along axis 1.
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    xmask = xindex < xnumel
    r = tl.arange(0, R0_BLOCK)[None, :]
    rmask = r < r0_numel
    m = rmask & xmask
    a = tl.load(in_out_ptr + (r + r0_numel * xindex), m, other=0.0)
    c = tl.load(in_ptr + (r + r0_numel * xindex), m, other=0.0)
    w = tl.load(w_ptr + r, rmask, other=0.0)
    b = tl.load(b_ptr + r, rmask, other=0.0)
    s = a + c
    mean = tl.sum(tl.where(m, s, 0.0), 1)[:, None] / r0_numel
    d = s - mean
    var = tl.sum(tl.where(m, d * d, 0.0), 1)[:, None] / r0_numel
    y = d * libdevice_rsqrt(var + 1e-5) * w + b
    tl.store(in_out_ptr + (r + r0_numel * xindex), y, m)


@triton.jit
def libdevice_rsqrt(x):
    return 1.0 / tl.sqrt(x)


@triton.jit
def inductor_looped_kernel(in_ptr, out_ptr, xnumel, r0_numel, XBLOCK: tl.constexpr, R0_BLOCK: tl.constexpr):
    # Inductor's looped reduction: (1, R0_BLOCK) accumulators carried through column loops.
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    xmask = xindex < xnumel
    base = tl.arange(0, R0_BLOCK)[None, :]
    acc = tl.full([XBLOCK, R0_BLOCK], float("-inf"), tl.float32)
    for off in range(0, r0_numel, R0_BLOCK):
        r = off + base
        v = tl.load(in_ptr + (r + r0_numel * xindex), (r < r0_numel) & xmask, other=float("-inf"))
        acc = tl.maximum(acc, v)
    mx = tl.max(acc, 1)[:, None]
    tot = tl.zeros([XBLOCK, R0_BLOCK], tl.float32)
    for off in range(0, r0_numel, R0_BLOCK):
        r = off + base
        v = tl.load(in_ptr + (r + r0_numel * xindex), (r < r0_numel) & xmask, other=float("-inf"))
        tot += tl.exp(v - mx)
    s = tl.sum(tot, 1)[:, None]
    for off in range(0, r0_numel, R0_BLOCK):
        r = off + base
        msk = (r < r0_numel) & xmask
        v = tl.load(in_ptr + (r + r0_numel * xindex), msk, other=0.0)
        tl.store(out_ptr + (r + r0_numel * xindex), tl.exp(v - mx) / s, msk)


@pytest.mark.parametrize("cols", [512, 300])
def test_inductor_row_tiles_with_unit_leading_dim(cols):
    rows = 7
    a, c = torch.randn(rows, cols), torch.randn(rows, cols)
    w, b = torch.randn(cols), torch.randn(cols)
    expect = torch.nn.functional.layer_norm(a + c, (cols,), w, b, 1e-5)
    block = triton.next_power_of_2(cols)
    inductor_rows_kernel[(rows,)](a, c, w, b, rows, cols, XBLOCK=1, R0_BLOCK=block)
    torch.testing.assert_close(a, expect, atol=1e-4, rtol=1e-4)
    plan = _plan(inductor_rows_kernel, a, c, w, b, rows, cols, XBLOCK=1, R0_BLOCK=block)
    assert [len(s.reductions) for s in plan.stages] == [1, 1, 0]


@pytest.mark.parametrize("cols", [1000, 256])
def test_inductor_looped_reduction_with_unit_leading_dim(cols):
    rows = 5
    x = torch.randn(rows, cols) * 3
    out = torch.zeros(rows, cols)
    inductor_looped_kernel[(rows,)](x, out, rows, cols, XBLOCK=1, R0_BLOCK=256)
    torch.testing.assert_close(out, torch.softmax(x, 1), atol=1e-6, rtol=1e-5)
    plan = _plan(inductor_looped_kernel, x, out, rows, cols, XBLOCK=1, R0_BLOCK=256)
    assert [len(s.reductions) for s in plan.stages] == [1, 1, 0]


# --- tiles of a few rows: Inductor's inner reductions with XBLOCK > 1 ----------------------

@triton.jit
def _permuted_sum(in_ptr0, in_ptr1, r0_offset, r0_base, xindex, xmask, xnumel, r0_numel):
    # one column block of x + y[permuted rows], as each of Inductor's passes reloads it
    r0 = r0_offset + r0_base
    m = (r0 < r0_numel) & xmask
    a = tl.load(in_ptr0 + (r0 + r0_numel * xindex), m, other=0.0)
    b = tl.load(in_ptr1 + (r0 + r0_numel * (xindex // 4) + r0_numel * (xnumel // 4) * (xindex % 4)), m, other=0.0)
    return a + b, r0, m


@triton.jit
def rows_layernorm_kernel(in_ptr0, in_ptr1, w_ptr, out_ptr, xnumel, r0_numel,
                          XBLOCK: tl.constexpr, R0_BLOCK: tl.constexpr):
    # Inductor's looped two-pass layer norm of (x + y) with a permuted second input
    xoffset = tl.program_id(0) * XBLOCK
    xindex = xoffset + tl.arange(0, XBLOCK)[:, None]
    xmask = xindex < xnumel
    r0_base = tl.arange(0, R0_BLOCK)[None, :]
    _acc = tl.full([XBLOCK, R0_BLOCK], 0, tl.float32)
    for r0_offset in tl.range(0, r0_numel, R0_BLOCK):
        v, r0, m = _permuted_sum(in_ptr0, in_ptr1, r0_offset, r0_base, xindex, xmask, xnumel, r0_numel)
        _acc = tl.where(m, _acc + v, _acc)
    mean = tl.sum(_acc, 1)[:, None] / r0_numel
    _sq = tl.full([XBLOCK, R0_BLOCK], 0, tl.float32)
    for r0_offset in tl.range(0, r0_numel, R0_BLOCK):
        v, r0, m = _permuted_sum(in_ptr0, in_ptr1, r0_offset, r0_base, xindex, xmask, xnumel, r0_numel)
        d = v - mean
        _sq = tl.where(m, _sq + d * d, _sq)
    rstd = tl.math.rsqrt(tl.sum(_sq, 1)[:, None] / r0_numel + 1e-5)
    for r0_offset in tl.range(0, r0_numel, R0_BLOCK):
        v, r0, m = _permuted_sum(in_ptr0, in_ptr1, r0_offset, r0_base, xindex, xmask, xnumel, r0_numel)
        w = tl.load(w_ptr + r0, r0 < r0_numel, other=0.0)
        tl.store(out_ptr + (r0 + r0_numel * xindex), (v - mean) * rstd * w, m)


@pytest.mark.parametrize("xblock, rblock, rows, cols", [
    (2, 256, 20, 512),    # whole rows in one block, a row tail
    (4, 128, 18, 300),    # column tails and a looped reduction
    (8, 128, 8, 1000),
])
def test_row_tiles_of_inner_reductions(xblock, rblock, rows, cols):
    x, y = torch.randn(rows, cols), torch.randn(rows, cols)
    w = torch.randn(cols)
    out = torch.full((rows, cols), -5.0)
    grid = (triton.cdiv(rows, xblock),)
    rows_layernorm_kernel[grid](x, y, w, out, rows, cols, XBLOCK=xblock, R0_BLOCK=rblock)
    # row i pairs x[i] with y[(i // 4) + (rows // 4) * (i % 4)]
    i = torch.arange(rows)
    yy = y[(i // 4) + (rows // 4) * (i % 4)]
    ref = torch.nn.functional.layer_norm(x + yy, (cols,), eps=1e-5) * w
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    plan = _plan(rows_layernorm_kernel, x, y, w, out, rows, cols, XBLOCK=xblock, R0_BLOCK=rblock)
    assert plan is not None and plan.rows == xblock and plan.block == rblock
    assert [len(s.reductions) for s in plan.stages] == [1, 1, 0]


@triton.jit
def _static_pair(in_ptr0, in_ptr1, r0, m, xindex, XNUMEL: tl.constexpr, RNUMEL: tl.constexpr,
                 EVICT: tl.constexpr):
    # x + y[permuted row] with static sizes: row x pairs with y[x // 4 + (XNUMEL // 4) * (x % 4)]
    return (tl.load(in_ptr0 + (r0 + RNUMEL * xindex), m, other=0.0, eviction_policy=EVICT)
            + tl.load(in_ptr1 + (r0 + RNUMEL * (xindex // 4) + RNUMEL * (XNUMEL // 4) * (xindex % 4)), m,
                      other=0.0, eviction_policy=EVICT))


@triton.jit
def static_rows_layernorm_kernel(in_ptr0, in_ptr1, out_ptr, XNUMEL: tl.constexpr, RNUMEL: tl.constexpr,
                                 XBLOCK: tl.constexpr, R0_BLOCK: tl.constexpr):
    # Inductor's three-pass add + layer norm
    xindex = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    xmask = xindex < XNUMEL
    r0_base = tl.arange(0, R0_BLOCK)[None, :]
    _acc = tl.full([XBLOCK, R0_BLOCK], 0, tl.float32)
    for r0_offset in tl.range(0, RNUMEL, R0_BLOCK):
        r0 = r0_offset + r0_base
        m = (r0 < RNUMEL) & xmask
        _acc = tl.where(m, _acc + _static_pair(in_ptr0, in_ptr1, r0, m, xindex, XNUMEL, RNUMEL, ""), _acc)
    mean = tl.sum(_acc, 1)[:, None] / RNUMEL
    _sq = tl.full([XBLOCK, R0_BLOCK], 0, tl.float32)
    for r0_offset in tl.range(0, RNUMEL, R0_BLOCK):
        r0 = r0_offset + r0_base
        m = (r0 < RNUMEL) & xmask
        d = _static_pair(in_ptr0, in_ptr1, r0, m, xindex, XNUMEL, RNUMEL, "") - mean
        _sq = tl.where(m, _sq + d * d, _sq)
    rstd = tl.math.rsqrt(tl.sum(_sq, 1)[:, None] / RNUMEL + 1e-5)
    for r0_offset in tl.range(0, RNUMEL, R0_BLOCK):
        r0 = r0_offset + r0_base
        m = (r0 < RNUMEL) & xmask
        # a different eviction policy (as Inductor's last pass has) keeps these loads apart from
        # the first pass's, so this stage needs the permuted index again
        v = _static_pair(in_ptr0, in_ptr1, r0, m, xindex, XNUMEL, RNUMEL, "evict_first")
        tl.store(out_ptr + (r0 + RNUMEL * xindex), (v - mean) * rstd, m)


@pytest.mark.parametrize("xblock", [2, 4])
def test_row_tiles_recompute_index_math(xblock):
    """With static sizes and the whole row in one block, the three passes are straight-line
    code.  The permuted row offsets (integer division and remainder) are recomputed in each
    stage, not kept on the stack: a reloaded index would make the last stage's load a gather.
    The mean (a per-row division), rstd (a per-row rsqrt) and that per-row index cost one op per
    row and chunk, so the lanes computed from them (x + y, x + y - mean) are recomputed too:
    nothing is stored to the stack and reloaded."""
    rows, cols = 16, 512
    x, y = torch.randn(rows, cols), torch.randn(rows, cols)
    out = torch.empty_like(x)
    kw = dict(XNUMEL=rows, RNUMEL=cols, XBLOCK=xblock, R0_BLOCK=cols)
    static_rows_layernorm_kernel[(rows // xblock,)](x, y, out, **kw)
    i = torch.arange(rows)
    ref = torch.nn.functional.layer_norm(x + y[i // 4 + (rows // 4) * (i % 4)], (cols,), eps=1e-5)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    plan = _plan(static_rows_layernorm_kernel, x, y, out, **kw)
    assert plan.rows == xblock and len(plan.stages) == 3 and not plan.kept
    assert "vector.gather" not in lower(capture_jit(static_rows_layernorm_kernel, x, y, out, **kw)).mlir


@triton.jit
def rows_softmax_kernel(x_ptr, out_ptr, n_rows, n_cols, XBLOCK: tl.constexpr, RBLOCK: tl.constexpr):
    rows = tl.program_id(0) * XBLOCK + tl.arange(0, XBLOCK)[:, None]
    cols = tl.arange(0, RBLOCK)[None, :]
    m = (rows < n_rows) & (cols < n_cols)
    x = tl.load(x_ptr + rows * n_cols + cols, m, other=-float("inf"))
    e = tl.exp(x - tl.max(x, 1)[:, None])
    tl.store(out_ptr + rows * n_cols + cols, e / tl.sum(e, 1)[:, None], m)


@pytest.mark.parametrize("xblock", [2, 4])
def test_row_tiles_keep_costly_values_per_row(xblock):
    """exp(x - max) is kept in a stack buffer of XBLOCK rows between the sum and the stores."""
    x = torch.randn(11, 200) * 3
    out = torch.empty_like(x)
    rows_softmax_kernel[(triton.cdiv(11, xblock),)](x, out, 11, 200, XBLOCK=xblock, RBLOCK=256)
    torch.testing.assert_close(out, torch.softmax(x, -1), atol=1e-6, rtol=1e-5)
    plan = _plan(rows_softmax_kernel, x, out, 11, 200, XBLOCK=xblock, RBLOCK=256)
    assert plan.rows == xblock and plan.kept, "exp should be kept, not recomputed"


def test_many_rows_are_lowered_whole():
    x = torch.randn(40, 64)
    out = torch.empty_like(x)
    rows_softmax_kernel[(3,)](x, out, 40, 64, XBLOCK=16, RBLOCK=64)
    torch.testing.assert_close(out, torch.softmax(x, -1), atol=1e-6, rtol=1e-5)
    assert _plan(rows_softmax_kernel, x, out, 40, 64, XBLOCK=16, RBLOCK=64) is None
