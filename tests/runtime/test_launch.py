"""The warm launch path: cached imports and argument lists, checked against torch.

A warm `kernel[grid](...)` must not parse, lower, compile or load anything, must
import a storage once, and must still bind the caller's current memory exactly
(freed and reused addresses, resized storages, views with offsets) and raise
typed errors for arguments it cannot take.
"""
import gc
import weakref

import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.runtime import binding, launch, team
from turbine_triton.runtime.errors import ArgumentError


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


@triton.jit
def axpb_kernel(x_ptr, out_ptr, a, b, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, a * tl.load(x_ptr + offs, mask=m) + b, mask=m)


@triton.jit
def double_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, (tl.load(x_ptr + offs, mask=m).to(tl.float32) * 2).to(out_ptr.dtype.element_ty),
             mask=m)


def _add(x, y, out, block=64):
    n = out.numel()
    add_kernel[(triton.cdiv(n, block),)](x, y, out, n, BLOCK=block)


@pytest.fixture
def counting():
    """Counts every parse, lowering, compile, module load and storage import."""
    from turbine_triton.launchcheck import counting_ir_work
    steps = (("turbine_triton.plugin.stage", "make_vmfb", "make_vmfb"),
             ("turbine_triton.plugin.stage", "parse_ttir", "parse_ttir"),
             ("turbine_triton.plugin.stage", "compile_kernel", "compile_kernel"),
             ("turbine_triton.lowering.pipeline", "lower", "lower"),
             ("turbine_triton.runtime.compile", "compile_mlir", "compile_mlir"),
             ("turbine_triton.runtime.launch", "LoadedModule.__init__", "load"),
             ("turbine_triton.runtime.binding", "ViewCache._import", "import"))
    with counting_ir_work(steps) as calls:
        yield calls


@pytest.mark.parametrize("mode", ["team", "adaptive"])
def test_warm_launches_do_no_ir_work_and_import_each_storage_once(counting, monkeypatch, mode):
    monkeypatch.setattr(launch, "LAUNCH_MODE", mode)
    n = 1000 if mode == "team" else 1001   # the launch cache is keyed on storages, not modes
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    for grid_block in (64, 1024):            # a many-program grid and a one-program (inline) grid
        _add(x, y, out, grid_block)          # cold: may compile and load
        torch.testing.assert_close(out, x + y)
    for k in counting:
        counting[k] = 0
    for i in range(20):
        x.add_(1.0)
        _add(x, y, out, 64)
        torch.testing.assert_close(out, x + y)
        _add(x, y, out, 1024)
        torch.testing.assert_close(out, x + y)
    assert counting == dict.fromkeys(counting, 0)
    # a new tensor costs one import on iree.runtime's path, shared by the task and inline
    # devices (none on torch's team, which takes raw pointers), never a compile
    z = torch.randn(n)
    for _ in range(5):
        _add(x, z, out, 64)
        _add(x, z, out, 1024)
    torch.testing.assert_close(out, x + z)
    imports = 0 if mode == "team" and team.team().available else 1
    assert counting["import"] == imports
    assert sum(counting.values()) == imports


def test_parameters_take_the_warm_path(monkeypatch):
    """A model's weights are `nn.Parameter`s: Inductor passes them to every launch."""
    checked = []   # the general path checks every tensor argument; the warm path does not
    orig = launch.check_tensor
    monkeypatch.setattr(launch, "check_tensor", lambda t, *a, **k: (checked.append(type(t)), orig(t, *a, **k))[1])
    n = 1000
    w, b = torch.nn.Parameter(torch.randn(n)), torch.nn.Parameter(torch.randn(n))
    out = torch.empty(n)
    with torch.no_grad():
        _add(w, b, out)
        first = len(checked)
        for _ in range(5):
            w.add_(1.0)
            _add(w, b, out)
            torch.testing.assert_close(out, w + b)
    assert first <= 3 and len(checked) == first   # the first launch may import; later ones are warm


def test_views_of_one_storage_share_one_import(counting):
    base = torch.randn(4096)
    y = torch.randn(64)
    out = torch.empty(4096)
    _add(base[:64], y, out[:64])
    counting["import"] = 0
    for start in (64, 128, 1000, 4032):
        _add(base[start:start + 64], y, out[start:start + 64])
        torch.testing.assert_close(out[start:start + 64], base[start:start + 64] + y)
    assert counting["import"] == 0


def test_freed_and_reused_memory_binds_the_new_storage():
    n = 777
    y = torch.randn(n)
    for _ in range(30):
        x = torch.randn(n)          # often lands where the previous x was freed
        out = torch.empty(n)
        _add(x, y, out)
        torch.testing.assert_close(out, x + y)
        del x, out


def test_resized_storage_binds_its_new_memory():
    x = torch.randn(100)
    y = torch.randn(100)
    out = torch.empty(100)
    _add(x, y, out)
    _add(x, y, out)
    out.resize_(50000)              # reallocates the same storage object elsewhere
    x2, y2 = torch.randn(50000), torch.randn(50000)
    _add(x2, y2, out)
    torch.testing.assert_close(out, x2 + y2)


def test_launches_do_not_keep_tensors_alive():
    x, y, out = torch.randn(300), torch.randn(300), torch.empty(300)
    _add(x, y, out)
    _add(x, y, out)
    torch.testing.assert_close(out, x + y)
    refs = [weakref.ref(t.untyped_storage()) for t in (x, y, out)]
    del x, y, out
    gc.collect()
    assert all(r() is None for r in refs)


def test_changing_scalars_and_grid_rebind():
    x = torch.randn(500)
    out = torch.empty(500)
    for a, b, n in [(2.0, 1.0, 500), (-0.5, 3, 500), (2.0, 1.0, 200), (1e30, 0.0, 500), (2.0, 1.0, 500)]:
        out.fill_(7.0)
        axpb_kernel[(triton.cdiv(n, 128),)](x, out, a, b, n, BLOCK=128)
        expected = torch.full((500,), 7.0)
        expected[:n] = a * x[:n] + b
        torch.testing.assert_close(out, expected)


def test_typed_errors_after_warm_launches():
    x, y, out = torch.randn(64), torch.randn(64), torch.empty(64)
    _add(x, y, out)
    _add(x, y, out)
    with pytest.raises(ArgumentError, match="meta"):
        _add(torch.empty(64, device="meta"), y, out)
    _add(x, y, out)
    torch.testing.assert_close(out, x + y)


@pytest.fixture(scope="module")
def add_launcher():
    from turbine_triton.runtime.compile import compile_kernel
    from turbine_triton.triton_frontend.capture import capture_jit
    x = torch.randn(64)
    compiled = compile_kernel(capture_jit(add_kernel, x, x, x, 64, BLOCK=64))
    return launch.Launcher(compiled.abi, vmfb=compiled.vmfb)


def test_launcher_errors_after_warm_launches(add_launcher):
    run = add_launcher
    x, y, out = torch.randn(64), torch.randn(64), torch.empty(64)
    for grid in ((1,), (2,)):
        run(grid, x, y, out, 64)
        run(grid, x, y, out, 64)
        torch.testing.assert_close(out, x + y)
        with pytest.raises(ArgumentError, match="expected 4 runtime arguments"):
            run(grid, x, y, out)
        with pytest.raises(ArgumentError, match="dtype torch.int32"):
            run(grid, x.view(torch.int32), y, out, 64)
        with pytest.raises(ArgumentError, match="dtype torch.float64"):
            run(grid, x, y, out.double(), 64)
        with pytest.raises(ArgumentError, match="meta"):
            run(grid, x, y, torch.empty(64, device="meta"), 64)
        with pytest.raises(ArgumentError, match="expects an integer"):
            run(grid, x, y, out, 64.5)
    out.zero_()
    run((1,), x, y, out, 64)
    torch.testing.assert_close(out, x + y)


def test_signless_and_fp8_tensors_bind():
    u = torch.randint(0, 100, (64,), dtype=torch.uint8)
    out = torch.empty(64, dtype=torch.uint8)
    for _ in range(2):
        double_kernel[(1,)](u, out, 64, BLOCK=64)
        torch.testing.assert_close(out, (u.float() * 2).to(torch.uint8))
    f8 = torch.randn(64).to(torch.float8_e4m3fn)
    out8 = torch.empty(64, dtype=torch.float8_e4m3fn)
    for _ in range(2):
        double_kernel[(1,)](f8, out8, 64, BLOCK=64)
        torch.testing.assert_close(out8.float(), (f8.float() * 2).to(torch.float8_e4m3fn).float())


@triton.jit
def scaled_copy_kernel(x_ptr, n, out_ptr, scale, k, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * scale + k, mask=m)


def test_interleaved_pointers_and_scalars_bind_in_abi_order():
    """The host ABI takes every pointer's offset before the scalars, whatever the parameter order."""
    base = torch.randn(256)
    out = torch.zeros(256)
    for start, n, scale, k in [(0, 64, 2.0, 1), (64, 50, 2.0, 1), (64, 50, 2.0, 1), (3, 64, -1.5, 7)]:
        for _ in range(2):       # the second launch is warm
            out.zero_()
            scaled_copy_kernel[(1,)](base[start:], n, out[start + 1:], scale, k, BLOCK=64)
            expected = torch.zeros(256)
            expected[start + 1:start + 1 + n] = base[start:start + n] * scale + k
            torch.testing.assert_close(out, expected)


def test_float_scalars_are_keyed_on_their_bits():
    """0.0 and -0.0 compare equal, so a warm launch must not reuse one's argument list for the other."""
    x = -torch.zeros(64)
    out = torch.empty(64)
    for b in (0.0, -0.0, 0.0, -0.0):
        axpb_kernel[(1,)](x, out, 1.0, b, 64, BLOCK=64)
        assert torch.equal(torch.signbit(out), torch.full((64,), str(b) == "-0.0"))


def test_launch_hooks_run_on_warm_launches():
    from triton import knobs
    x, y, out = torch.randn(64), torch.randn(64), torch.empty(64)
    _add(x, y, out)
    seen = []
    enter = lambda metadata: seen.append("enter")
    leave = lambda metadata: seen.append("exit")
    knobs.runtime.launch_enter_hook.add(enter)
    knobs.runtime.launch_exit_hook.add(leave)
    try:
        for _ in range(3):
            out.zero_()
            _add(x, y, out)
            torch.testing.assert_close(out, x + y)
    finally:
        knobs.runtime.launch_enter_hook.remove(enter)
        knobs.runtime.launch_exit_hook.remove(leave)
    assert seen == ["enter", "exit"] * 3
    _add(x, y, out)
    assert len(seen) == 6


def test_warm_launch_after_storage_resized_in_place():
    """The same tensor object, resized in place between warm launches, binds its new memory."""
    x, y = torch.randn(64), torch.randn(64)
    out = torch.empty(64)
    _add(x, y, out)
    _add(x, y, out)
    out.resize_(100000)             # a larger allocation: new address and length
    out.resize_(64)                 # same sizes as before, on the new storage memory
    out.zero_()
    _add(x, y, out)
    torch.testing.assert_close(out, x + y)
    x.set_(torch.randn(64))         # a new storage under the same tensor object
    _add(x, y, out)
    torch.testing.assert_close(out, x + y)


def test_reused_address_through_the_warm_path():
    """A new storage at a freed storage's exact address and length hits the warm entry of the
    old one; the launch must read and write the new tensors' values."""
    y = torch.randn(64)
    reused = 0
    x, out = torch.randn(64), torch.empty(64)
    for _ in range(20):
        _add(x, y, out)
        _add(x, y, out)                  # warm: cached entry for these addresses
        torch.testing.assert_close(out, x + y)
        ptrs = (x.data_ptr(), out.data_ptr())
        del x, out
        x, out = torch.randn(64), torch.full((64,), float("nan"))
        reused += (x.data_ptr(), out.data_ptr()) == ptrs
        _add(x, y, out)
        torch.testing.assert_close(out, x + y)
    if not reused:
        pytest.skip("the allocator never reused an address here")


def test_only_a_few_views_of_dead_storages_stay():
    """A view outlives its storage (the next buffer at that address hits it), but only
    DEAD_KEEP of them: a kept view pins a small IREE block in the heap, and with every dead
    view kept, a graph allocating its output afresh each call got new pages every call."""
    from turbine_triton.runtime.device import get_config
    cache = binding.ViewCache(get_config().device)
    live = torch.randn(100)
    cache.bind(live, "live", "k", "*fp32")
    keys = []
    for i in range(3 * cache.DEAD_KEEP):
        t = torch.randn(1000 + 16 * i)        # a new length each time: a new key
        s = t.untyped_storage()
        keys.append((s.data_ptr(), s.nbytes(), torch.float32))
        cache.bind(t, "t", "k", "*fp32")
        del t, s
    gc.collect()
    s = live.untyped_storage()
    assert (s.data_ptr(), s.nbytes(), torch.float32) in cache.views
    kept = [k for k in keys if k in cache.views]
    assert kept == keys[-cache.DEAD_KEEP:]   # the most recently dead, in order


def test_fresh_buffers_are_imported_on_the_warm_path(counting, monkeypatch):
    """Inductor allocates its buffers anew each forward: a CPU tensor of the right dtype on new
    memory is imported from its address by the warm path (once), not by the checked path."""
    monkeypatch.setattr(launch, "LAUNCH_MODE", "adaptive")   # imports are iree.runtime's
    general = []
    orig = launch.Launcher._run_general
    monkeypatch.setattr(launch.Launcher, "_run_general", lambda self, *a: (general.append(1), orig(self, *a))[1])
    n = 2000
    y = torch.randn(n)
    _add(torch.randn(n), y, torch.empty(n))
    general.clear()
    counting["import"] = 0
    alive = []   # distinct storages, so that every launch is on memory it has not seen
    for i in range(4):
        x, out = torch.randn(n + 64 * i), torch.full((n + 64 * i,), float("nan"))
        alive.append((x, out))
        _add(x[:n], y, out[:n])
        torch.testing.assert_close(out[:n], x[:n] + y)
        assert out[n:].isnan().all()
    # at most one import per new storage (a dead storage's view may still cover reused memory)
    assert general == [] and 1 <= counting["import"] <= 8


def test_new_buffers_run_where_their_shape_was_chosen(monkeypatch):
    """A launch on buffers not seen before, when its kernel, scalars and grid were already
    timed, runs where the chooser put them, not on the workers, and fills no argument list
    for the workers."""
    monkeypatch.setattr(launch, "LAUNCH_MODE", "adaptive")
    where, filled = [], []
    orig = launch.LoadedModule.waiting
    monkeypatch.setattr(launch.LoadedModule, "waiting",   # records where each filled list runs
                        lambda self, call: (filled.append(self.on_workers),
                                            lambda: (where.append(self.on_workers), orig(self, call)())[1])[1])
    monkeypatch.setattr(launch.ModeState, "__init__", _inline_state)
    n = 3000 + 64 * 7
    x, y = torch.randn(n), torch.randn(n)
    out = torch.empty(n)
    _add(x, y, out, 128)                      # compiles, and times nothing: the state is set
    torch.testing.assert_close(out, x + y)
    del where[:], filled[:]
    alive = []   # so that each launch's storages are at addresses no earlier launch used
    for _ in range(3):
        out = torch.full((n,), float("nan"))   # a new storage each time
        x = torch.randn(n)
        alive.append((x, out))
        _add(x, y, out, 128)
        torch.testing.assert_close(out, x + y)
    assert len(where) == 3 and not any(where)   # every launch ran inline
    assert filled == [False] * 3


def _inline_state(self, left):
    """A ModeState that has already chosen the calling thread."""
    self.inline, self.left, self.times = True, 10 ** 6, ([], [])


class _FakeClock:
    """perf_counter stand-in: each call of the chosen function advances it by its cost."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _chooser(costs, clock, ran, cap=100.0):
    """A LaunchChooser whose two calls add `costs[mode]` (a number, or a list used in turn)."""
    def run(mode):
        def call():
            ran.append(mode)
            c = costs[mode]
            clock.t += c.pop(0) if isinstance(c, list) else c
        return call
    return launch.LaunchChooser(run("task"), run("inline"), cap=cap, clock=clock)


def test_launch_chooser_keeps_the_faster_and_probes_again():
    clock, ran = _FakeClock(), []
    costs = {"task": 30.0, "inline": 12.0}
    c = _chooser(costs, clock, ran)
    for _ in range(c.WARMUP):
        c()
    assert ran == ["task"] * c.WARMUP and c.choice == "task"      # untimed warm-up on the workers
    for _ in range(2 * c.PROBES):
        c()
    assert ran[c.WARMUP:] == ["task", "inline"] * c.PROBES
    assert c.choice == "inline"
    del ran[:]
    costs["inline"] = 40.0                                       # the surroundings change
    for _ in range(c.REPROBE):
        c()
    assert ran == ["inline"] * c.REPROBE
    for _ in range(2 * c.PROBES):
        c()
    assert c.choice == "task"


def test_launch_chooser_wants_a_clear_win_for_the_calling_thread():
    """One core against all of them: inline must beat the workers by the margin."""
    clock, ran = _FakeClock(), []
    c = _chooser({"task": 30.0, "inline": 30.0 * launch.LaunchChooser.MARGIN * 1.05}, clock, ran)
    for _ in range(c.WARMUP + 2 * c.PROBES + c.REPROBE):
        c()
    assert c.choice == "task" and ran[-c.REPROBE:] == ["task"] * c.REPROBE


def _probed(costs) -> str:
    """The choice after warm-up and one round of probes with these per-call costs."""
    clock, ran = _FakeClock(), []
    n, warm = launch.LaunchChooser.PROBES, launch.LaunchChooser.WARMUP
    c = _chooser(costs, clock, ran)
    for _ in range(warm + 2 * n):
        c()
    return c.choice


def test_launch_chooser_counts_the_workers_slow_calls():
    """Two slow calls in five on the workers (a spinning torch thread on their vCPU) are part of
    what they cost: a median of 0.6 would hide them, the mean does not."""
    warm = [0.6] * launch.LaunchChooser.WARMUP
    assert _probed({"task": warm + [0.6, 7.0, 0.6, 6.0, 0.6], "inline": 1.0}) == "inline"


def test_launch_chooser_ignores_one_hiccup_on_either_side():
    warm = [0.6] * launch.LaunchChooser.WARMUP
    assert _probed({"task": warm + [0.6, 0.6, 50.0, 0.6, 0.6], "inline": 1.0}) == "task"
    assert _probed({"task": 1.0, "inline": [0.5, 0.5, 50.0, 0.5, 0.5]}) == "inline"


def test_launch_chooser_tries_a_long_kernel_inline_once():
    """A long launch the calling thread does not beat costs one inline call per probing round."""
    clock, ran = _FakeClock(), []
    c = _chooser({"task": 500.0, "inline": 600.0}, clock, ran)
    for _ in range(c.WARMUP + 2 + c.REPROBE):
        c()
    assert ran.count("inline") == 1 and c.choice == "task"
    assert ran[-c.REPROBE:] == ["task"] * c.REPROBE


def test_launch_chooser_moves_a_long_kernel_the_workers_slow_down():
    """Long on the workers only because they share the cores: probed fully, then inline."""
    assert _probed({"task": 500.0, "inline": 100.0}) == "inline"


@pytest.mark.parametrize("mode", ["adaptive", "inline", "task"])
def test_launch_modes_give_the_same_results(monkeypatch, mode):
    """Every launch, through warm-up, probes and the chosen mode, writes the right values."""
    monkeypatch.setattr(launch, "LAUNCH_MODE", mode)
    seen = []
    orig = launch.LaunchChooser.__call__
    monkeypatch.setattr(launch.LaunchChooser, "__call__", lambda self: (seen.append(self), orig(self))[1])
    # a size per mode: the launch cache is keyed on storages, not on LAUNCH_MODE (fixed per
    # process outside tests), and the allocator may hand the previous case's addresses back
    n = 3000 + 64 * ["adaptive", "inline", "task"].index(mode)
    x, y = torch.randn(n), torch.randn(n)
    out = torch.empty(n)
    probes = launch.LaunchChooser.WARMUP + 2 * launch.LaunchChooser.PROBES + 4
    for i in range(probes):
        x.add_(0.5)
        out.fill_(float("nan"))
        _add(x, y, out, 128)
        torch.testing.assert_close(out, x + y)
    # "adaptive" chooses every launch (the first through the checked path); the others call
    # their mode directly
    assert len(seen) == (probes if mode == "adaptive" else 0)


@triton.jit
def checked_scale_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    tl.device_assert(x < 100.0, "x too big")
    tl.store(out_ptr + offs, x * 3.0, mask=m)


def test_kernels_with_device_asserts_take_the_warm_path(counting, monkeypatch):
    """Inductor's indirect indexing carries device asserts: a status buffer per thread stays
    imported, so warm launches import nothing, and a failure still raises (once: the buffer is
    zeroed again for the next launch)."""
    general = []
    orig = launch.Launcher._run_general
    monkeypatch.setattr(launch.Launcher, "_run_general", lambda self, *a: (general.append(1), orig(self, *a))[1])
    x, out = torch.randn(1000), torch.zeros(1000)
    run = lambda: checked_scale_kernel[(4,)](x, out, 1000, BLOCK=256, debug=True)  # noqa: E731
    for _ in range(3):
        run()
    first = dict(counting)
    general.clear()
    for _ in range(20):
        run()
    torch.testing.assert_close(out, x * 3.0)
    assert general == [] and counting == first
    x[700] = 500.0
    with pytest.raises(Exception, match="x too big"):
        run()
    x[700] = 1.0
    run()
    torch.testing.assert_close(out, x * 3.0)
