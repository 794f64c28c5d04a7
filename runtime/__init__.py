"""Run lowered kernels: compile with `iree.compiler`, cache on disk, launch on torch CPU tensors.

`compile.compile_kernel` turns a captured kernel into a `CompiledKernel`
(through the on-disk `cache`), and `launch.Launcher` binds torch tensors
zero-copy and invokes the module on the shared IREE device (`device`).
"""
