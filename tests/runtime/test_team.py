"""Launches on torch's OpenMP team (`runtime/team.py`): the kernel's dispatch function called
directly, once per workgroup, from torch's own threads.

Every program must run exactly once and see its ids and the grid; pointers, storage offsets and
every scalar type must reach the dispatch exactly as the `iree.runtime` path passes them; results
are checked against torch and numpy.  Launches the team cannot take still run, through
`iree.runtime`.
"""
import ctypes
import threading

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime import launch, team
from turbine_triton.runtime.errors import OutOfBoundsError

from ._grid_ids import expected_ids, ids_kernel

pytestmark = pytest.mark.skipif(not team.team().available, reason=f"no team here: {team.team().reason}")


@pytest.fixture(autouse=True)
def team_mode(monkeypatch):
    monkeypatch.setattr(launch, "LAUNCH_MODE", "team")


@pytest.fixture
def team_calls(monkeypatch):
    """How many launches ran as `TeamCall`s."""
    calls = []
    orig = team.TeamCall.__call__
    monkeypatch.setattr(team.TeamCall, "__call__", lambda self: (calls.append(self), orig(self))[1])
    return calls


@pytest.mark.parametrize("grid", [(1, 1, 1), (7, 1, 1), (3, 5, 1), (2, 3, 4), (1000, 1, 1)])
@pytest.mark.parametrize("threads", [1, 2])
def test_every_program_runs_once_with_its_ids(team_calls, grid, threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        out = torch.zeros(grid[0] * grid[1] * grid[2] * 8, dtype=torch.int32)
        ids_kernel[grid](out)
    finally:
        torch.set_num_threads(old)
    np.testing.assert_array_equal(out.numpy(), expected_ids(grid))
    assert len(team_calls) == 1


@triton.jit
def mix_kernel(x_ptr, y_ptr, out_ptr, a, b, c, h, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0) + tl.program_id(1) * tl.num_programs(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m).to(tl.float32)
    r = a * x + y + b.to(tl.float32) + c.to(tl.float32) + h.to(tl.float32)
    tl.store(out_ptr + offs, r, mask=m)


def test_offsets_strides_and_every_scalar_width(team_calls):
    """Storage offsets (in elements of each pointer's own type), an fp16 input, an i64 and an
    f64 scalar (two push constants each) and an fp16 scalar (an f32 one) all land where the
    dispatch reads them."""
    n = 3000
    base = torch.randn(n + 40)
    x = base[37:37 + n]                                   # an odd element offset
    y = torch.randn(n + 8).to(torch.float16)[5:5 + n]
    out = torch.full((n + 16,), float("nan"))[9:9 + n]
    b = (1 << 40) + 3                                     # needs its high word
    mix_kernel[(3, 2)](x, y, out, 2.5, b, -0.125, 0.5, n, BLOCK=512)
    want = 2.5 * x + y.float() + float(b) - 0.125 + 0.5
    torch.testing.assert_close(out, want)
    assert out._base[:9].isnan().all() and out._base[9 + n:].isnan().all()   # nothing else written
    assert len(team_calls) == 1


@triton.jit
def copy_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m), mask=m)


def test_storage_not_64_byte_aligned_goes_through_iree(team_calls):
    """The dispatch assumes 64-byte aligned bindings: a numpy buffer 16 bytes past a boundary
    runs through iree.runtime instead, with the same result."""
    raw = np.zeros(4096 + 32, dtype=np.float32)
    start = next(i for i in range(16) if (raw[i:].ctypes.data % 64) == 16)
    x = torch.from_numpy(raw[start:start + 4096])
    x.copy_(torch.randn(4096))
    out = torch.empty(4096)
    copy_kernel[(8,)](x, out, 4096, BLOCK=512)
    torch.testing.assert_close(out, x)
    assert team_calls == []


def test_warm_launches_reuse_their_filled_job(team_calls):
    x, out = torch.randn(5000), torch.empty(5000)
    for i in range(5):
        x.add_(1.0)
        copy_kernel[(10,)](x, out, 5000, BLOCK=512)
        torch.testing.assert_close(out, x)
    assert len({id(c) for c in team_calls}) == 1 and len(team_calls) == 5


@triton.jit
def gather_kernel(idx_ptr, table_ptr, out_ptr, rows, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    i = tl.load(idx_ptr + offs)
    tl.store(out_ptr + offs, tl.load(table_ptr + i))


def test_bounds_checks_report_through_the_status_buffer(team_calls):
    """A kernel compiled with bounds checks has a status buffer, one more binding: a bad index is
    still reported as an OutOfBoundsError naming the argument, and good launches still run."""
    table = torch.randn(100)
    idx = torch.randint(0, 100, (256,), dtype=torch.int32)
    out = torch.empty(256)
    gather_kernel[(4,)](idx, table, out, 100, BLOCK=64, bounds_check=True)
    torch.testing.assert_close(out, table[idx.long()])
    idx[77] = 100_000
    with pytest.raises(OutOfBoundsError, match="table_ptr"):
        gather_kernel[(4,)](idx, table, out, 100, BLOCK=64, bounds_check=True)
    idx[77] = 3
    gather_kernel[(4,)](idx, table, out, 100, BLOCK=64, bounds_check=True)
    torch.testing.assert_close(out, table[idx.long()])
    assert len(team_calls) == 3


def test_launches_from_other_threads():
    """Each Python thread that launches gets its own OpenMP team (libgomp keeps one per
    calling thread); results are the same."""
    errors = []

    def work(seed):
        try:
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(20000, generator=g)
            out = torch.empty(20000)
            for _ in range(20):
                copy_kernel[(40,)](x, out, 20000, BLOCK=512)
                torch.testing.assert_close(out, x)
        except Exception as e:   # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_no_thread_with_enough_stack_is_an_error(team_calls):
    """team.c runs no workgroup on a thread with less stack left than a kernel may use, and the
    launch fails loudly rather than half done."""
    t = team.team()
    x, out = torch.randn(1024), torch.zeros(1024)
    copy_kernel[(2,)](x, out, 1024, BLOCK=512)   # compiled, and this launch cached
    call = team_calls[-1]
    huge = ctypes.c_size_t(1 << 60)
    t._lib.tt_team_init.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_size_t]
    entries = team._openmp_entries()
    try:
        t._lib.tt_team_init(*entries, huge)
        out.zero_()
        with pytest.raises(team.TeamError, match="stack"):
            call()
        assert (out == 0).all()
    finally:
        t._lib.tt_team_init(*entries, team.STACK_NEED)
    call()
    torch.testing.assert_close(out, x)



def test_small_openmp_stacks_keep_launches_on_iree(monkeypatch):
    """OMP_STACKSIZE below what a kernel may need: the team is not used, and says why."""
    monkeypatch.setenv("OMP_STACKSIZE", "1M")
    t = team.Team()
    assert not t.available and "OMP_STACKSIZE" in t.reason
    monkeypatch.setenv("OMP_STACKSIZE", "16M")
    assert team.Team().available


def test_no_c_compiler_keeps_launches_on_iree(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    t = team.Team()
    assert not t.available and "C compiler" in t.reason
