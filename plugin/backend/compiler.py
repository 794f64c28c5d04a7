"""The `cpu` Triton backend: TTIR from Triton's frontend, then one IREE stage.

The stages are `ttir` (Triton's own passes) and `vmfb` (our lowering plus
`iree-compile`).  Triton caches both under `TRITON_CACHE_DIR`; the kernel ABI
travels in the metadata so a warm process launches without any IR work.
"""
from turbine_triton.triton_frontend import target as _target


class CPUBackend(_target.FrontendBackend):
    """Triton backend `cpu`: compiles kernels to IREE modules for the host CPU."""

    def __init__(self, target=_target.CPU_TARGET) -> None:
        super().__init__(target)
        self.binary_ext = "vmfb"

    def add_stages(self, stages, options, language=None) -> None:
        stages["ttir"] = lambda src, metadata: _target.run_ttir_passes(src)
        stages["vmfb"] = lambda src, metadata: _make_vmfb(src, metadata, options)


def _make_vmfb(mod, metadata: dict, options) -> bytes:
    from turbine_triton.plugin.stage import make_vmfb
    return make_vmfb(str(mod), metadata, options)
