"""The kernel's calling convention between Python, the host function and the dispatch.

Every pointer argument becomes one buffer binding holding the argument's
whole base storage; its element offset into that storage (the view's
`storage_offset`) and its element count travel as push constants.  Scalars
become push constants in their own type.  `KernelAbi` is plain data, saved
as JSON next to each compiled module so a warm launch needs no IR at all.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import List, Optional

from iree.compiler import ir
from iree.compiler.dialects import arith, stream

from ..triton_frontend.signature import mlir_scalar
from ..triton_frontend.ttir import ScalarType
from . import types as T


@dataclass(frozen=True)
class Param:
    """One parameter of the Python-level kernel signature."""
    name: str
    kind: str              # "ptr" or "scalar"
    triton_type: str       # "*fp32", "i32", "constexpr", ...
    written: bool = False  # pointer args the kernel stores to


@dataclass(frozen=True)
class KernelAbi:
    """Everything a launcher needs: the runtime parameters (no constexprs), in order."""
    name: str
    params: tuple
    host_function: str = "launch"
    # device_assert / bounds-check / device_print sites, by id - 1 (see ops/debug.py)
    sites: tuple = ()
    print_records: int = 0

    @property
    def has_status(self) -> bool:
        return bool(self.params) and self.params[-1].name == STATUS_PARAM

    @property
    def user_params(self) -> tuple:
        """The parameters callers pass (the status buffer is the launcher's)."""
        return self.params[:-1] if self.has_status else self.params

    @property
    def pointers(self) -> List[Param]:
        return [p for p in self.params if p.kind == "ptr"]

    @property
    def scalars(self) -> List[Param]:
        return [p for p in self.params if p.kind == "scalar"]

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "host_function": self.host_function,
                           "params": [asdict(p) for p in self.params], "sites": list(self.sites),
                           "print_records": self.print_records})

    @staticmethod
    def from_json(text: str) -> "KernelAbi":
        d = json.loads(text)
        return KernelAbi(d["name"], tuple(Param(**p) for p in d["params"]), d["host_function"],
                         tuple(tuple(x) for x in d.get("sites", ())), d.get("print_records", 0))


# The host functions end in nine integers, workgroups, program offsets and grid, each (x, y, z)
# (lowering/grid.py); the one named with ASYNC_SUFFIX then takes a fence it signals when done.
HOST_GRID_WORDS = 9
ASYNC_SUFFIX = "_async"

# A hidden trailing pointer parameter: an i64 buffer where the kernel reports
# failed device asserts, out-of-bounds accesses and device_print records.
STATUS_PARAM = "__turbine_status"
STATUS_HEADER_WORDS = 8      # [site id, index, pid x, pid y, pid z, print cursor, -, -]
PRINT_RECORD_WORDS = 6       # [site id, pid x, pid y, pid z, lane, value bits]


def abi_from_signature(name: str, signature: dict, written: set, sites=(), print_records=0) -> KernelAbi:
    """Build the ABI from Triton's signature dict (`{"x_ptr": "*fp32", "BLOCK": "constexpr"}`)."""
    params = []
    for pname, ty in signature.items():
        if ty == "constexpr":
            continue
        if ty.startswith("*"):
            params.append(Param(pname, "ptr", ty, pname in written))
        else:
            params.append(Param(pname, "scalar", ty))
    return KernelAbi(name, tuple(params), sites=tuple(sites), print_records=print_records)


def push_constant_type(triton_type: str) -> ir.Type:
    """The dispatch operand type of a scalar argument.

    Narrow floats travel as f32 and i1 as i32 because push constants are
    32-bit words; the kernel narrows them back on entry.
    """
    s = mlir_scalar(triton_type)
    if s in ("f16", "bf16"):
        return ir.F32Type.get()
    if s in ("i1", "i8", "i16"):
        return ir.IntegerType.get_signless(32)
    return T.scalar(ScalarType(s))


def view_of_binding(ctx, arg: int, elem: ir.Type) -> ir.Value:
    """A `memref<?xelem>` over binding `arg`, built at the function entry."""
    binding, size, declared = ctx.bindings[arg]
    with ctx.entry_ip, ir.Location.unknown():
        c0 = arith.constant(ir.IndexType.get(), 0)
        n = size
        have, want = T.bitwidth(declared), T.bitwidth(elem)
        if have != want:
            nbytes = arith.muli(size, arith.constant(ir.IndexType.get(), have // 8))
            n = arith.divui(nbytes, arith.constant(ir.IndexType.get(), max(want // 8, 1)))
        mt = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], elem)
        return stream.binding_subspan(mt, binding, c0, [n])
