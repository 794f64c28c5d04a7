"""turbine-triton: Triton kernels on CPU torch tensors through IREE."""
__version__ = "0.1.0"


def __getattr__(name):
    # `export` pulls in torch.export and IREE's compiler: load it on first use only
    if name == "export":
        from .plugin.export import export
        return export
    if name == "ExportedModule":
        from .plugin.export import ExportedModule
        return ExportedModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
