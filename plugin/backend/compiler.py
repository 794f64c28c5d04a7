"""The `cpu` Triton backend: TTIR from Triton's frontend, then one IREE stage.

The stages are `ttir` (Triton's own passes) and `vmfb` (our lowering plus
`iree-compile`).  Triton caches both under `TRITON_CACHE_DIR`; the kernel ABI
travels in the metadata so a warm process launches without any IR work.
"""
from triton.backends.compiler import BaseBackend, Language

from turbine_triton.triton_frontend import target as _target


class CPUBackend(BaseBackend):
    """Triton backend `cpu`: compiles kernels to IREE modules for the host CPU."""

    @staticmethod
    def supports_target(target) -> bool:
        return target.backend == "cpu"

    def __init__(self, target) -> None:
        super().__init__(target)
        self.binary_ext = "vmfb"

    def hash(self) -> str:
        from turbine_triton.triton_frontend.versions import fingerprint
        return fingerprint()

    def parse_options(self, options: dict):
        return _target.parse_options(options)

    def pack_metadata(self, metadata):
        return (metadata.num_warps, metadata.num_ctas, metadata.shared)

    def get_codegen_implementation(self, options):
        return _target.codegen_implementation(options)

    def get_module_map(self):
        return _target.module_map()

    def load_dialects(self, ctx):
        pass

    def add_stages(self, stages, options, language=Language.TRITON) -> None:
        stages["ttir"] = lambda src, metadata: _target.run_ttir_passes(src)
        stages["vmfb"] = lambda src, metadata: _make_vmfb(src, metadata, options)


def _make_vmfb(mod, metadata: dict, options) -> bytes:
    from turbine_triton.plugin.stage import make_vmfb
    return make_vmfb(str(mod), metadata, options)
