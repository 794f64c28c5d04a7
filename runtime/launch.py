"""Launch a compiled kernel on torch CPU tensors.

`LoadedModule` is a `.vmfb` loaded into a VM context on the shared device.
`Launcher` binds runtime arguments and caches each launch it has filled.  By
default the filled launch is a `team.TeamCall`: the module's dispatch function
run on torch's OpenMP team with the storages' addresses.  Otherwise (and for
launches the team does not take) it fills a `VmVariantList` (one cached
zero-copy import per storage) and calls `VmContext.invoke` on the host
function, which waits for the dispatch.  No IR is touched and nothing is copied.
"""
from __future__ import annotations

import functools
import os
import struct

import torch

from ..lowering.abi import ASYNC_SUFFIX, KernelAbi
from ..triton_frontend.signature import mlir_scalar
from . import library, split
from . import team as team_mod
from .binding import _SIGNLESS, _SUPPORTED, TORCH_DTYPES, check_tensor, scalar_word, unwrap, view_cache
from .device import DEFAULT_DRIVER, get_config
from .errors import ArgumentError
from .status import ThreadStatus, check_status, new_status
from .wait import yielding


# Run one-program grids inline (local-sync); set TURBINE_TRITON_INLINE=0 to disable.
INLINE_SINGLE_PROGRAM = os.environ.get("TURBINE_TRITON_INLINE", "1") != "0"
# "team" (the default) runs a launch's workgroups on torch's OpenMP team by calling the kernel's
# dispatch function directly (runtime/team.py); launches it cannot take, and every launch where
# it is unavailable, go through `iree.runtime` in "adaptive" mode.  The other modes always use
# `iree.runtime`.  Grids of several programs: "adaptive" times each launch on IREE's workers and on
# the calling thread and keeps whichever is faster there (`LaunchChooser`); "task" always uses
# the workers, "inline" always the calling thread.  Waking the workers costs 15-190 us a launch
# on this 2-vCPU VM (halted vCPUs are woken through the host), and a kernel on data in cache
# gains little from a second core, so the calling thread wins up to a few hundred microseconds
# of work (an in-place ReLU over 1M floats: 90 us inline, 150 us on two workers); streaming
# kernels over DRAM-sized data keep the workers.  "short" and "auto" (older names) mean "adaptive".
LAUNCH_MODE = os.environ.get("TURBINE_TRITON_LAUNCH_MODE", "team")
# A launch whose run on the workers takes longer than this is tried inline once per probing
# round, and probed further only if that call was faster (see `LaunchChooser`).
INLINE_MAX_S = float(os.environ.get("TURBINE_TRITON_INLINE_MAX_US", "2000")) * 1e-6


class LoadedModule:
    """A compiled module loaded on the IREE device, with its host function."""

    def __init__(self, vmfb: bytes, host_function: str = "launch", driver: str = None):
        import iree.runtime as rt
        self._vmfb, self._host_function = vmfb, host_function
        self._inline = None   # read directly by the warm path
        config = get_config(driver) if driver else get_config()
        # the caller blocks on IREE's worker threads (not local-sync, which runs on the caller)
        self.on_workers = (driver or DEFAULT_DRIVER) == "local-task"
        self.device = config.device
        self.vm_module = rt.VmModule.copy_buffer(config.vm_instance, vmfb)
        hal = rt.create_hal_module(config.vm_instance, config.device)
        self.context = rt.VmContext(config.vm_instance, modules=[hal, self.vm_module])
        self.function = self.vm_module.lookup_function(host_function)
        # the variant that signals a fence instead of waiting (split launches; runtime/split.py)
        self.async_function = self.vm_module.lookup_function(host_function + ASYNC_SUFFIX)
        self.views = view_cache(self.device)
        self._export, self.team_reason = None, ""

    def team_export(self):
        """The module's dispatch function, for launches on torch's team (`runtime/team.py`),
        or None (`team_reason` says why)."""
        export = self._export
        if export is None:
            export, self.team_reason = library.load_export(self._vmfb)
            self._export = export if export is not None else False
        return export or None

    def waiting(self, call):
        """`call` (an `invoke` bound to its arguments) with the wait this device needs
        (`wait.yielding` on the task system's workers)."""
        return yielding(call) if self.on_workers else call

    def inline(self) -> "LoadedModule":
        """The same module on local-sync: a one-program grid runs on the calling
        thread instead of waking the task system (~100 us -> ~10 us here)."""
        if self._inline is None:
            self._inline = LoadedModule(self._vmfb, self._host_function, driver="local-sync")
            if self.on_workers:
                # both are host-memory CPU devices: a storage imported for one serves the other,
                # so a new buffer is imported once, not once per launch mode
                self._inline.views = self.views
        return self._inline


class Launcher:
    """Calls a loaded kernel with `(grid, *runtime_args)`; constexprs are not passed.

    Per launch it does only what the arguments force: a repeated launch (the same
    tensors' storages, scalars and grid) reuses its filled argument list, and a new
    tensor costs one import the first time its storage is seen (see `ViewCache`).
    """

    def __init__(self, abi: KernelAbi, module: LoadedModule = None, vmfb: bytes = None):
        import iree.runtime as rt
        self._rt = rt
        self.abi = abi
        self.module = module if module is not None else LoadedModule(vmfb, abi.host_function)
        self._params = abi.user_params
        self._has_status = abi.has_status
        self._writes = any(p.written for p in abi.pointers)
        # kernels with checks but no prints keep a status buffer per thread; prints need a fresh one
        self._status = ThreadStatus(abi) if abi.has_status and not abi.print_records else None
        # launch key -> (call, module, views); in "adaptive" mode call is a LaunchChooser and the
        # entry also holds the inline device's views
        self._lists = {}
        self._modes = {}   # (module, scalars, grid) -> ModeState, shared across buffers
        # 32-bit words per scalar in the dispatch's push constants, when launches may use the team
        self._team_words = _team_words(abi)
        self._warm = _warm_path(self, self._params) if self._warm_capable else _cold

    @property
    def _warm_capable(self) -> bool:
        return not self._has_status or self._status is not None

    def __call__(self, grid, *args):
        self.run(self.module, (*grid, 1, 1)[:3], args)

    def run(self, module: LoadedModule, grid, args):
        """Bind `args` (runtime parameters in order) and dispatch `grid` (gx, gy, gz) programs."""
        gx, gy, gz = grid
        if not self._warm(module, gx, gy, gz, args):
            self._run_general(module, grid, args)

    def triton_entry(self, slow):
        """A function with the signature of a Triton launcher (grid, stream, function, metadata,
        hooks, then every bound argument, constexprs included) that runs warm launches itself
        and hands anything else to `slow(function, gx, gy, gz, launch_metadata, exit_hook, args)`;
        None when this kernel has no warm path."""
        if not self._warm_capable:
            return None
        return _warm_path(self, self._params, triton=slow)

    def _fill(self, key, module, gx, gy, gz, ptrs, words):
        """The cached entry of launch `key`, or None (nothing done) when the general path must run:
        a storage that cannot be imported from its address, a grid that is not three positive
        ints.  `ptrs` holds (storage address, bytes, kernel dtype, storage offset, tensor) per
        pointer (the tensor None for the status buffer); `words` the scalars."""
        if type(gx) is not int or type(gy) is not int or type(gz) is not int or min(gx, gy, gz) <= 0:
            return None
        if not _grid_fits(gx, gy, gz):
            return None   # the checked path raises
        if LAUNCH_MODE == "team" and self._team_words is not None:
            call = self._team_call(key[0], (gx, gy, gz), ptrs, words)
            if call is not None:
                return [call, key[0]]
        mode = _mode(gx, gy, gz)
        if mode == "inline":
            module = module._inline or module.inline()
        bound = self._bound_views(module, ptrs)
        if bound is None:
            return None
        views, offsets = bound
        if len(self._lists) >= 8:
            self._lists.clear()
        # the entry holds the module and the views it names; the key's module stays alive with it
        grid, raw = (gx, gy, gz), [v.view for v in views]
        if mode != "adaptive":
            return self._invoke(module, raw, offsets, words, grid), key[0], views
        inline_module = module._inline or module.inline()
        state = self._mode_state(key[0], words, gx, gy, gz)
        if inline_module.views is module.views:
            # the same imports serve both devices: each side's list is filled if that side runs
            task, inline = (_Deferred(functools.partial(self._invoke, m, raw, offsets, words, grid))
                            for m in (module, inline_module))
            if self._splits(module, grid):
                task = _Deferred(functools.partial(self._split, module, inline_module, raw,
                                                   (*offsets, *words), grid, state))
            return [LaunchChooser(task, inline, state=state), key[0], views]
        inline = self._bound_invoke(inline_module, ptrs, words, gx, gy, gz)
        if inline is None:
            return None
        task = self._invoke(module, raw, offsets, words, grid)
        return [LaunchChooser(task, inline[0], state=state), key[0], views, inline[1]]

    def _team_call(self, module: LoadedModule, grid, ptrs, words):
        """A `TeamCall` of this launch on torch's OpenMP team, or None when it must go through
        `iree.runtime`: no team here, a module whose layout is not the one the ABI implies, or
        a storage that is not 64-byte aligned (the dispatch assumes aligned bindings)."""
        team = team_mod.team()
        if not team.available:
            self._team_words = None
            return None
        if grid[0] * grid[1] * grid[2] > _MAX_GRID_XY:
            return None   # team.c counts workgroups in 32 bits
        export = module.team_export()
        widths = self._team_words
        if (export is None or export.binding_count != len(ptrs)
                or export.constant_count != 4 * len(ptrs) + sum(widths) + 6):
            return None
        bindings, lengths, constants = [], [], []
        for p, n, want, off, _ in ptrs:
            item = want.itemsize
            if p % _ALIGN or n < item:
                return None
            bindings.append(p)
            lengths.append(n)
            # the host function's operands per pointer: element count, element offset (i64 each)
            constants += _split64(n // item) + _split64(off)
        for w, width in zip(words, widths):
            constants += _split64(w) if width == 2 else [w & _M32]
        # the whole grid: no program offset, then its size (lowering/grid.py)
        constants += [0, 0, 0, *grid]
        return team.job(export, bindings, lengths, constants, grid)

    def _splits(self, module: LoadedModule, grid) -> bool:
        """Whether launches of `grid` on `module` are split between the calling thread and the
        workers (`runtime/split.py`): kernels that write memory (the others dispatch nothing),
        have no status buffer, on the task system, with more than one program."""
        return (split.ENABLED and module.on_workers and module.async_function is not None
                and self._writes and not self._has_status and grid[0] * grid[1] * grid[2] > 1)

    def _split(self, module, inline_module, refs, words, grid, state):
        """A `SplitCall` of one launch, balanced with the other launches of its shape."""
        if state.balance is None:
            state.balance = split.Balance(grid[split.split_axis(grid)])
        return split.SplitCall(module, inline_module, refs, words, grid, state.balance)

    def _mode_state(self, module, words, gx, gy, gz) -> "ModeState":
        """The `ModeState` of launches of `module` with these scalars and grid."""
        shape = (module, *words, gx, gy, gz)
        state = self._modes.get(shape)
        if state is None:
            if len(self._modes) >= 64:
                self._modes.clear()
            state = self._modes[shape] = ModeState(LaunchChooser.WARMUP)
        return state

    def _bound_invoke(self, module, ptrs, words, gx, gy, gz):
        """(`invoke` bound to a filled argument list, the views it names) on `module`'s device,
        or None when a storage cannot be imported from its address (the checked path decides)."""
        bound = self._bound_views(module, ptrs)
        if bound is None:
            return None
        views, offsets = bound
        return self._invoke(module, [v.view for v in views], offsets, words, (gx, gy, gz)), views

    def _bound_views(self, module, ptrs):
        """(the `Imported` entry of each pointer's storage on `module`'s device, the element offsets),
        or None when a storage cannot be imported from its address."""
        cache = module.views
        lookup = cache.lookup
        views = []
        for p, n, want, off, t in ptrs:
            key = (p, n, want)
            hit = lookup(key)
            if hit is None:
                hit = cache.adopt(t, key) if t is not None else None
                if hit is None:
                    return None
            views.append(hit)
        return views, [ptr[3] + v.delta for v, ptr in zip(views, ptrs)]

    def _invoke(self, module: LoadedModule, views, offsets, scalars, grid):
        """`module`'s host function bound to a freshly filled argument list, with its wait."""
        rt = self._rt
        arg_list = rt.VmVariantList(len(views) + len(offsets) + len(scalars) + 9)
        for v in views:
            arg_list.push_ref(v)
        # the whole grid: its workgroups, no program offset, its size (lowering/grid.py)
        for w in (*offsets, *scalars, *grid, 0, 0, 0, *grid):
            arg_list.push_int(w)
        return module.waiting(functools.partial(module.context.invoke, module.function, arg_list,
                                                rt.VmVariantList(0)))

    def _run_general(self, module: LoadedModule, grid, args):
        name = self.abi.name
        params = self._params
        if len(args) != len(params):
            expected = ", ".join(p.name for p in params)
            raise ArgumentError(f"{name}: expected {len(params)} runtime arguments ({expected}) "
                                f"but got {len(args)}")
        g = tuple(int(x) for x in grid) + (1,) * (3 - len(grid))
        if min(g) <= 0:
            return
        if not _grid_fits(*g):
            raise ArgumentError(f"{name}: grid {g} is too large: IREE counts workgroups in 32 bits along x "
                                f"and y and 16 bits along z (at most {_MAX_GRID_XY}, {_MAX_GRID_XY}, "
                                f"{_MAX_GRID_Z}; CUDA also caps z at {_MAX_GRID_Z}). Fold the extra "
                                f"programs into x or y.")
        mode = _mode(*g)
        shape_module = module
        also, also_views = None, []
        if mode == "inline":
            module = module.inline()
        elif mode == "adaptive" and self._warm_capable:
            also = module.inline().views   # so the warm path can run either way
        cache = module.views
        status = None
        if self._has_status:
            status = self._status.tensor if self._status is not None else new_status(self.abi)
            args = (*args, status)
            params = self.abi.params
        views, offsets, scalars, keep = [], [], [], []
        for p, a in zip(params, args):
            if p.kind == "ptr":
                t = unwrap(a)
                check_tensor(t, p.name, p.triton_type, name, reinterpreted=t is not a)
                view, off, owner = cache.bind(t, p.name, name, p.triton_type)
                if also is not None and also is not cache:
                    also_views.append(also.bind(t, p.name, name, p.triton_type)[0])
                views.append(view)
                offsets.append(off)
                keep.append(owner)
            else:
                scalars.append(scalar_word(a, p.triton_type, p.name, name))
        call = self._invoke(module, views, offsets, scalars, g)
        if also is cache:
            also_views = views
        if also is not None:
            # new buffers, a shape that may have been timed already: its chooser runs it (and
            # goes on timing it when every launch of it sees new buffers)
            inline_module = module.inline()
            inline = self._invoke(inline_module, also_views, offsets, scalars, g)
            state = self._mode_state(shape_module, scalars, *g)
            if also is cache and self._splits(module, g):
                call = self._split(module, inline_module, views, (*offsets, *scalars), g, state)
            call = LaunchChooser(call, inline, state=state)
        call()
        if self._status is not None:
            self._status.check(args)
        elif status is not None:
            check_status(self.abi, status, args)


class _Deferred:
    """A call built on its first use: the launch mode a chooser may never pick costs nothing."""
    __slots__ = ("build", "call")

    def __init__(self, build):
        self.build, self.call = build, None

    def __call__(self):
        call = self.call
        if call is None:
            call = self.call = self.build()
        return call()


def _cold(module, gx, gy, gz, args) -> bool:
    return False


_ALIGN = 64   # the dispatch's bindings are `alignment(64)`
# IREE's workgroup counts (iree_hal_executable_dispatch_state_v0_t): 32 bits along x and y, 16 along z
_MAX_GRID_XY, _MAX_GRID_Z = (1 << 32) - 1, (1 << 16) - 1


def _grid_fits(gx: int, gy: int, gz: int) -> bool:
    """Whether IREE's workgroup counts hold the grid (32 bits along x and y, 16 along z)."""
    return gx <= _MAX_GRID_XY and gy <= _MAX_GRID_XY and gz <= _MAX_GRID_Z
_M32 = (1 << 32) - 1


def _split64(v: int) -> list:
    """An i64 operand as the dispatch's two push constants, low word first."""
    v &= (1 << 64) - 1
    return [v & _M32, v >> 32]


def _team_words(abi: KernelAbi):
    """The push-constant words of each scalar parameter (2 for 64-bit types, else 1; see
    `lowering.abi.push_constant_type`), or None when the dispatch has more bindings or
    constants than `team.c` passes.  A status buffer (asserts, bounds checks) is one more
    pointer; kernels that print take the checked path, which stays on `iree.runtime`."""
    if len(abi.pointers) > team_mod.MAX_BINDINGS:
        return None
    widths = [2 if mlir_scalar(p.triton_type) in ("i64", "f64") else 1 for p in abi.scalars]
    if 4 * len(abi.pointers) + sum(widths) + 6 > team_mod.MAX_CONSTANTS:
        return None
    return widths


def _mode(gx, gy, gz) -> str:
    """How a grid runs: "inline" (the calling thread), "task" (IREE's workers), or chosen per
    launch ("adaptive")."""
    if gx == 1 and gy == 1 and gz == 1:
        return "inline" if INLINE_SINGLE_PROGRAM else "task"
    return LAUNCH_MODE if LAUNCH_MODE in ("inline", "task") else "adaptive"


class ModeState:
    """The running choice of one launch shape (kernel, scalars and grid): whether the calling
    thread runs it, how many calls the choice still holds for, and the probe times so far.
    Shared by the launches of that shape on different buffers, so Inductor's fresh buffers
    each forward do not restart the probing."""
    __slots__ = ("inline", "left", "times", "balance")

    def __init__(self, left: int):
        self.inline, self.left, self.times = False, left, ([], [])
        self.balance = None   # the split launches' `split.Balance`


class LaunchChooser:
    """Runs one launch on IREE's workers or on the calling thread, whichever is faster where
    it runs.

    The first `WARMUP` calls run on the workers untimed (a launch's first calls see cold caches
    and the compile's aftermath); then `PROBES` timed calls each way, alternating, and the
    calling thread is kept when its cost is at most `MARGIN` times the workers' (it is one core
    where the workers have all of them).  A long launch (its first timed call on the workers took
    `cap` or more) whose first call inline is no faster stays on the workers after that one pair:
    its probes would cost more than the wake-ups they could save.  It is still tried inline once,
    because a launch that shares its cores with a spinning torch thread can take 5x longer on
    the workers (an in-place ReLU over 16 MB inside a compiled transformer block: 3.8 ms on the
    workers, 0.7 ms on the calling thread).

    A side's cost is the mean of its probes without the slowest one: the mean, because the
    workers' slow calls are part of what they cost (in that same graph, two calls in five on the
    workers took 6-8 ms against 0.6 ms for the rest, and a median hid them); without the slowest,
    so one hiccup (a page fault, an interrupt) on either side decides nothing.  The choice holds
    for `REPROBE` calls, then the probing repeats, so a launch that moves between idle cores and
    a busy torch loop follows.  The choice lives in `state` (a `ModeState`), which launches of
    one shape share."""
    WARMUP, PROBES, REPROBE, MARGIN = 2, 5, 512, 0.9

    def __init__(self, task, inline, cap=None, clock=None, state: ModeState = None):
        import time
        self.calls = (task, inline)
        self.cap = INLINE_MAX_S if cap is None else cap
        self.clock = clock or time.perf_counter
        self.state = state if state is not None else ModeState(self.WARMUP)

    def __call__(self):
        st = self.state
        if st.left > 0:
            st.left -= 1
            self.calls[st.inline]()
            return
        task_times, inline_times = st.times
        # the first probe is on the workers, then the calling thread and the workers alternate
        inline = len(inline_times) < len(task_times)
        t0 = self.clock()
        self.calls[inline]()
        st.times[inline].append(self.clock() - t0)
        if (len(inline_times) == 1 and len(task_times) == 1 and task_times[0] >= self.cap
                and inline_times[0] > self.MARGIN * task_times[0]):
            self._choose(False)
        elif len(inline_times) == self.PROBES and len(task_times) == self.PROBES:
            self._choose(_cost(inline_times) <= self.MARGIN * _cost(task_times))

    def _choose(self, inline: bool):
        st = self.state
        st.inline, st.left, st.times = inline, self.REPROBE, ([], [])

    @property
    def choice(self):
        """The mode the next unprobed calls use, "task" or "inline"."""
        return "inline" if self.state.inline else "task"


def _cost(times) -> float:
    """The expected time of a call from its probes: their mean without the slowest one."""
    kept = sorted(times)[:-1]
    return sum(kept) / len(kept)


def _warm_path(launcher, params, triton=None):
    """A function `(module, gx, gy, gz, args) -> bool` that launches when every pointer is a
    plain CPU tensor whose storage is already imported on the module's device and every scalar
    is a plain int or float, and returns False (having done nothing) otherwise: the general
    path then checks, imports and raises.  Generated per kernel so the per-argument work is
    straight-line code.

    With `triton=(positions, nargs, slow)` it is instead Triton's launcher itself (see
    `Launcher.triton_entry`): `positions` are the runtime arguments among Triton's `nargs`
    bound arguments, and `slow` takes every launch the warm path does not.

    A launch is keyed on what it reads: the module, each storage's exact address range and the
    tensor's storage offset, the scalars and the grid.  A hit therefore names the caller's live
    memory (a freed, reused or resized storage gives a new key) and its filled argument list is
    exactly what the checked path would build.
    """
    n = len(params)
    env = {"Tensor": torch.Tensor, "Parameter": torch.nn.Parameter, "fast_word": _fast_word,
           "lists": launcher._lists, "pop": launcher._lists.pop, "fill": launcher._fill,
           "I64_MIN": _I64_MIN, "I64_END": _I64_END}
    if triton is None:
        head = ["def warm(module, gx, gy, gz, args):",
                f"    if len(args) != {n}:",
                "        return False"]
        unpack = [f"a{i}" for i in range(n)]
        fail, done = "return False", ["    return True"]
    else:
        positions, nargs, slow = triton
        env["slow"], env["HookChain"] = slow, _HookChain
        head = ["def warm(gx, gy, gz, stream, module, packed_metadata, launch_metadata, enter_hook, exit_hook, *args):",
                # Triton always passes its (usually empty) hook chains: skip calling an empty one
                "    if enter_hook is not None and (type(enter_hook) is not HookChain or enter_hook.calls):",
                "        enter_hook(launch_metadata)",
                f"    if len(args) != {nargs}:",
                "        return slow(module, gx, gy, gz, launch_metadata, exit_hook, args)"]
        unpack = ["_"] * nargs
        for i, j in enumerate(positions):
            unpack[j] = f"a{i}"
        fail = "return slow(module, gx, gy, gz, launch_metadata, exit_hook, args)"
        done = ["    if exit_hook is not None and (type(exit_hook) is not HookChain or exit_hook.calls):",
                "        exit_hook(launch_metadata)"]
    lines = list(head)
    if unpack:
        lines.append(f"    {', '.join(unpack)}, = args")
    ptrs, key, words = [], [], []
    for i, p in enumerate(params):
        if p.kind == "ptr":
            want = TORCH_DTYPES.get(p.triton_type.lstrip("*"))
            if want is None:
                return _cold if triton is None else None
            env[f"W{i}"], env[f"A{i}"] = want, frozenset(_ACCEPTED[want] & _SUPPORTED)
            # a model's weights are Parameters (plain tensors otherwise); other subclasses check first
            lines += [f"    if (type(a{i}) is not Tensor and type(a{i}) is not Parameter) or not a{i}.is_cpu:",
                      f"        {fail}",
                      f"    d = a{i}.dtype",
                      f"    if d is not W{i} and d not in A{i}:",
                      f"        {fail}",
                      f"    s = a{i}.untyped_storage()",
                      f"    p{i}, n{i}, o{i} = s.data_ptr(), s.nbytes(), a{i}.storage_offset()"]
            ptrs.append(f"(p{i}, n{i}, W{i}, o{i}, a{i})")
            key += [f"p{i}", f"n{i}", f"o{i}"]
        elif p.triton_type in ("i32", "i64", "u32", "i16", "i8", "u8", "u16"):
            lines += [f"    if type(a{i}) is not int or not I64_MIN <= a{i} < I64_END:",
                      f"        {fail}"]
            words.append(f"a{i}")
        else:
            lines += [f"    w{i} = fast_word(a{i}, {p.triton_type!r})",
                      f"    if w{i} is None:",
                      f"        {fail}"]
            words.append(f"w{i}")
    status = launcher._status
    if status is not None:
        # the hidden status buffer is the last pointer; the calling thread's own, always imported
        env["status"], env["WS"] = status, torch.int64
        lines += ["    st = status.ptr, status.nbytes"]
        ptrs.append("(st[0], st[1], WS, 0, None)")
        key += ["st[0]"]
    key += words + ["gx", "gy", "gz"]
    # a filled list is taken out of the cache while in use (dict.pop is atomic): one thread each
    lines += [f"    key = (module, {', '.join(key)})",
              "    entry = pop(key, None)",
              "    if entry is None:",
              f"        entry = fill(key, module, gx, gy, gz, ({''.join(q + ', ' for q in ptrs)}), "
              f"({''.join(w + ', ' for w in words)}))",
              "        if entry is None:",
              f"            {fail}",
              "    entry[0]()",
              "    lists[key] = entry",
              *(["    if status.words[0]:",
                 f"        status.check(({', '.join(f'a{i}' for i in range(n))}{',' if n else ''}))"]
                if status is not None else []),
              *done]
    exec(compile("\n".join(lines), f"<warm launch of {launcher.abi.name}>", "exec"), env)
    return env["warm"]


try:
    from triton.knobs import HookChain as _HookChain
except ImportError:   # older Triton: hooks are plain callables or None
    class _HookChain:
        pass


# tensor dtypes a kernel dtype binds without a conversion (TTIR integers are signless)
_ACCEPTED = {want: {want, *(d for d, s in _SIGNLESS.items() if s == want)} for want in TORCH_DTYPES.values()}
_I64_MIN, _I64_END = -(1 << 63), 1 << 63
_pack_f32, _unpack_i32 = struct.Struct("<f").pack, struct.Struct("<i").unpack
_pack_f64, _unpack_i64 = struct.Struct("<d").pack, struct.Struct("<q").unpack
_FLOATS = ("fp32", "fp16", "bf16")


def _fast_word(v, triton_type: str):
    """`scalar_word` for a plain Python int or float in range, else None (the general
    path then converts or raises)."""
    tv = type(v)
    if triton_type in _FLOATS:
        if tv is float or tv is int:
            try:
                return _unpack_i32(_pack_f32(v))[0]
            except (OverflowError, struct.error):
                return None
        return None
    if triton_type == "fp64":
        if tv is float or tv is int:
            try:
                return _unpack_i64(_pack_f64(v))[0]
            except OverflowError:
                return None
        return None
    if tv is int and _I64_MIN <= v < _I64_END:
        return v
    return None
