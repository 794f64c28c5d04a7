"""`turbine_triton.export`: torch graph code + Triton kernels in ONE IREE module, checked against eager.

Every model runs in-process and under `iree-run-module` (no Python) at two batch
sizes from one compiled module (dynamic batch, no recompile); cross-compiles and
GPU targets check the embedded binaries; Vulkan runs on Mesa's software device.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_models as em  # noqa: E402

from turbine_triton.plugin.export import export  # noqa: E402
from turbine_triton.plugin.export_runtime import run_module_command  # noqa: E402

BATCH = torch.export.Dim("batch", min=1, max=1024)
BATCHES = (8, 3)

MODELS = {
    "linear_bias_gelu": (em.LinearBiasGelu, 64),
    "matmul_layernorm_matmul": (em.MatmulLayernormMatmul, 48),
    "inplace_after_matmul": (em.InplaceAfterMatmul, 32),
}


def elf_machines(blob: bytes) -> list:
    """e_machine of every ELF image embedded in a .vmfb."""
    out, i = [], blob.find(b"\x7fELF")
    while i >= 0:
        out.append(int.from_bytes(blob[i + 18:i + 20], "little"))
        i = blob.find(b"\x7fELF", i + 4)
    return out


@pytest.fixture(scope="module")
def exported():
    cache = {}

    def get(name):
        if name not in cache:
            cls, k = MODELS[name]
            torch.manual_seed(0)
            model = cls().eval()
            cache[name] = (model, k, export(model, (torch.randn(8, k),), dynamic_shapes=({0: BATCH},)))
        return cache[name]
    return get


def _reference(model, x):
    with torch.no_grad():
        return model.reference(x)


@pytest.mark.parametrize("name", list(MODELS))
def test_in_process_matches_eager(exported, name):
    model, k, ex = exported(name)
    assert len(ex.kernels) == 1
    for bs in BATCHES:
        x = torch.randn(bs, k)
        with torch.no_grad():
            eager = model(x)  # the Triton kernel through the cpu backend
        got = ex(x)
        assert got.shape == (bs,) + tuple(eager.shape[1:])
        torch.testing.assert_close(got, eager, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(got, _reference(model, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(MODELS))
def test_iree_run_module_matches_eager(exported, name, tmp_path):
    model, k, ex = exported(name)
    vmfb = ex.save_vmfb(tmp_path / f"{name}.vmfb")
    for bs in BATCHES:
        x = torch.randn(bs, k)
        np.save(tmp_path / "x.npy", x.numpy())
        cmd = run_module_command(str(vmfb), [tmp_path / "x.npy"], [tmp_path / "out.npy"])
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        got = torch.from_numpy(np.load(tmp_path / "out.npy"))
        torch.testing.assert_close(got, _reference(model, x), rtol=1e-4, atol=1e-4)


def test_module_structure(exported):
    """Graph code and the kernel share one module; the in-place kernel's write is a tied result."""
    _, _, ex = exported("inplace_after_matmul")
    assert ex.mlir.count("stream.executable private @triton_") == 1
    assert "torch.aten.mm" in ex.mlir or "torch.aten.matmul" in ex.mlir
    dispatches = [l for l in ex.mlir.splitlines() if "flow.dispatch @triton_" in l]
    assert len(dispatches) == 1
    # `-> %operand{dims}`: the result is tied to the kernel's in/out operand, so no copy
    assert re.search(r"\) -> %[\w.]+\{", dispatches[0]), dispatches[0]
    assert ex.kernels[0].written == ["x_ptr"]


def test_inplace_write_to_user_input():
    torch.manual_seed(0)
    x = torch.randn(5, 16)
    ex = export(em.inplace_on_input, (x.clone(),), dynamic_shapes=({0: BATCH},))
    for bs in (5, 2):
        x = torch.randn(bs, 16)
        want_x, want = x.clone(), None
        want = em.inplace_on_input(want_x)  # eager: the kernel writes want_x
        got = ex(x)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(x, want_x)


def test_save_mlir_and_cli_export(tmp_path):
    from turbine_triton.cli import main
    out = tmp_path / "gelu.vmfb"
    mlir = tmp_path / "gelu.mlir"
    rc = main(["export", os.path.join(HERE, "export_models.py:gelu_factory"), "--target", "llvm-cpu",
               "-o", str(out), "--mlir", str(mlir), "--dynamic-batch"])
    assert rc == 0 and out.stat().st_size > 0
    assert "flow.dispatch @triton_0_bias_gelu_kernel" in mlir.read_text()
    model, _ = em.gelu_factory()
    for bs in (4, 9):
        x = torch.randn(bs, 64)
        np.save(tmp_path / "x.npy", x.numpy())
        r = subprocess.run(run_module_command(str(out), [tmp_path / "x.npy"], [tmp_path / "o.npy"]),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "o.npy")), _reference(model, x),
                                   rtol=1e-4, atol=1e-4)


def test_torch_compile_backend():
    import torch._dynamo
    assert "turbine_iree" in torch._dynamo.list_backends()
    torch.manual_seed(0)
    model = em.InplaceAfterMatmul().eval()
    compiled = torch.compile(model, backend="turbine_iree")
    with torch.no_grad():
        for bs in (4, 6):
            x = torch.randn(bs, 32)
            torch.testing.assert_close(compiled(x), model.reference(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("target,machine", [("aarch64", 183), ("riscv64", 243)])
def test_cross_compile_elf(target, machine):
    torch.manual_seed(0)
    model = em.LinearBiasGelu()
    ex = export(model, (torch.randn(8, 64),), dynamic_shapes=({0: BATCH},), target=target)
    assert not ex.target.runnable
    machines = elf_machines(ex.vmfb)
    assert machines and set(machines) == {machine}, machines
    assert b"bias_gelu_kernel" in ex.vmfb
    with pytest.raises(RuntimeError, match="compile-only"):
        ex(torch.randn(2, 64))


def test_rocm_gfx942_is_amdgpu_elf():
    torch.manual_seed(0)
    model = em.LinearBiasGelu()
    ex = export(model, (torch.randn(8, 64),), dynamic_shapes=({0: BATCH},), target="rocm:gfx942")
    machines = elf_machines(ex.vmfb)
    assert machines and set(machines) == {224}, machines  # EM_AMDGPU
    assert b"bias_gelu_kernel" in ex.vmfb
    assert "gpu.thread_id" in ex.mlir and "vector.maskedload" not in ex.mlir


def test_gpu_target_refuses_non_elementwise_kernel():
    from turbine_triton.lowering.errors import UnsupportedOp
    torch.manual_seed(0)
    with pytest.raises(UnsupportedOp, match="SIMT"):
        export(em.MatmulLayernormMatmul(), (torch.randn(4, 48),), target="vulkan-spirv")


def _vulkan_available() -> bool:
    try:
        import iree.runtime as rt
        rt.Config("vulkan")
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _vulkan_available(), reason="no Vulkan device (apt-get install mesa-vulkan-drivers)")
def test_vulkan_runs_on_software_device(tmp_path):
    torch.manual_seed(0)
    model = em.LinearBiasGelu().eval()
    ex = export(model, (torch.randn(8, 64),), dynamic_shapes=({0: BATCH},), target="vulkan-spirv")
    assert "gpu.thread_id" in ex.mlir and "vector.maskedload" not in ex.mlir
    for bs in BATCHES:
        x = torch.randn(bs, 64)
        torch.testing.assert_close(ex(x), _reference(model, x), rtol=1e-4, atol=1e-4)
    # the same module without Python
    vmfb = ex.save_vmfb(tmp_path / "gelu_vulkan.vmfb")
    x = torch.randn(5, 64)
    np.save(tmp_path / "x.npy", x.numpy())
    r = subprocess.run(run_module_command(str(vmfb), [tmp_path / "x.npy"], [tmp_path / "o.npy"], device="vulkan"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "o.npy")), _reference(model, x),
                               rtol=1e-4, atol=1e-4)


def test_import_stays_cheap():
    code = "import sys, turbine_triton; assert 'torch' not in sys.modules; assert callable(turbine_triton.export)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_kernel_with_device_assert():
    torch.manual_seed(0)
    ex = export(em.checked_relu_plus_one, (torch.randn(4, 20),), dynamic_shapes=({0: BATCH},))
    assert "tt.assert" in ex.kernels[0].ttir
    for bs in (4, 7):
        x = torch.randn(bs, 20)
        torch.testing.assert_close(ex(x), torch.relu(x) + 1.0)
