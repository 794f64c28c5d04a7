"""Run lowered kernels: compile with `iree.compiler`, cache on disk, launch on torch CPU tensors.

`compile.compile_kernel` turns a captured kernel into a `CompiledKernel`
(through the on-disk `cache`), and `launch.Launcher` binds torch tensors
zero-copy and runs the dispatch: on torch's OpenMP team through the module's
executable library (`library`, `team`), or through the module on the shared
IREE device (`device`).
"""
