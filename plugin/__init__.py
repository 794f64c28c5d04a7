"""Triton backend `cpu` (entry point `triton.backends`): `kernel[grid](...)` on CPU tensors.

`backend/compiler.py` and `backend/driver.py` are what Triton discovers;
`stage.py` is the TTIR -> `.vmfb` stage, `driver.py` the driver, launcher
and the device interface that `do_bench` and `@triton.autotune` use.
"""
