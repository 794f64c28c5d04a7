"""The `cpu` Triton backend: discovery, autotune and do_bench on CPU tensors."""
import torch
import triton
import triton.language as tl


def test_backend_registered_as_cpu_and_active():
    from triton.backends import backends
    from triton.runtime import driver
    assert "cpu" in backends
    assert type(driver.active).__module__.startswith("turbine_triton")
    assert driver.active.get_current_target().backend == "cpu"


@triton.autotune(configs=[triton.Config({"BLOCK": 64}), triton.Config({"BLOCK": 256})], key=["n"])
@triton.jit
def scale_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * 3.0, mask=m)


def test_autotune_picks_a_config_and_result_is_right():
    n = 3000
    x = torch.randn(n)
    out = torch.zeros(n)
    scale_kernel[lambda meta: (triton.cdiv(n, meta["BLOCK"]),)](x, out, n)
    torch.testing.assert_close(out, x * 3.0)
    assert scale_kernel.best_config.kwargs["BLOCK"] in (64, 256)


@triton.jit
def fill_kernel(out_ptr, v, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.full([BLOCK], 0, tl.float32) + v, mask=offs < n)


def test_do_bench_times_our_launches():
    out = torch.zeros(4096)
    calls = []

    def run():
        calls.append(1)
        fill_kernel[(4,)](out, 2.5, 4096, BLOCK=1024)

    ms = triton.testing.do_bench(run, warmup=1, rep=5)
    assert ms > 0
    assert len(calls) > 1
    torch.testing.assert_close(out, torch.full((4096,), 2.5))


def test_launch_hooks_are_called():
    from triton import knobs
    seen = []
    old_enter, old_exit = knobs.runtime.launch_enter_hook, knobs.runtime.launch_exit_hook
    knobs.runtime.launch_enter_hook = lambda md: seen.append("enter")
    knobs.runtime.launch_exit_hook = lambda md: seen.append("exit")
    try:
        out = torch.zeros(16)
        fill_kernel[(1,)](out, 1.0, 16, BLOCK=16)
    finally:
        knobs.runtime.launch_enter_hook, knobs.runtime.launch_exit_hook = old_enter, old_exit
    assert seen == ["enter", "exit"]
    torch.testing.assert_close(out, torch.ones(16))
