"""turbine-triton: Triton kernels on CPU torch tensors through IREE."""
__version__ = "0.1.0"
