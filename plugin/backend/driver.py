"""The `cpu` Triton driver; the implementation lives in `turbine_triton.plugin.driver`."""
from turbine_triton.plugin import driver as _impl


class CPUDriver(_impl.CPUDriverBase):
    """Triton driver `cpu`, active when no CUDA device is present."""
