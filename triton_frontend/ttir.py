"""Plain data model of a parsed TTIR module.

Triton's dialect is not registered in IREE's MLIR context, so TTIR cannot be
parsed there directly.  `parser.py` reads Triton's printed form into these
small objects; `lowering/` walks them and builds IREE IR with the bindings.
Types stay symbolic (`TensorType`, `PtrType`, `ScalarType`) so that the
lowering decides how each maps onto vectors, memrefs and push constants.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union


@dataclass(frozen=True)
class ScalarType:
    """An MLIR builtin scalar: i1..i64, f16, bf16, f32, f64, index."""
    name: str

    @property
    def is_float(self) -> bool:
        return self.name in ("f16", "bf16", "f32", "f64") or self.name.startswith("f8")

    @property
    def is_int(self) -> bool:
        return self.name.startswith("i") and self.name != "index"

    @property
    def bitwidth(self) -> int:
        if self.name == "index":
            return 64
        if self.name == "bf16":
            return 16
        if self.name.startswith("f8"):
            return 8
        return int(self.name[1:])

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class PtrType:
    """`!tt.ptr<T>`: a pointer into one kernel argument's buffer."""
    pointee: "Type"
    address_space: int = 1

    def __str__(self) -> str:
        return f"!tt.ptr<{self.pointee}>"


@dataclass(frozen=True)
class TensorType:
    """`tensor<AxBxT>` where T is a scalar or a pointer."""
    shape: tuple
    element: "Type"

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"tensor<{dims}{self.element}>"


@dataclass(frozen=True)
class OpaqueType:
    """Any other type (tensor descriptors and the like), kept as text."""
    text: str

    def __str__(self) -> str:
        return self.text


Type = Union[ScalarType, PtrType, TensorType, OpaqueType]


def element_type(t: Type) -> Type:
    """The element type of a tensor, or the type itself for scalars."""
    return t.element if isinstance(t, TensorType) else t


def shape_of(t: Type) -> tuple:
    """The static shape of a tensor type; `()` for a scalar."""
    return t.shape if isinstance(t, TensorType) else ()


@dataclass(frozen=True)
class Loc:
    """A source location: the user's kernel file, line and column."""
    file: str = ""
    line: int = 0
    col: int = 0
    name: str = ""

    def __str__(self) -> str:
        if not self.file:
            return "<unknown>"
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN_LOC = Loc()


@dataclass
class Value:
    """An SSA value: its printed name and its type."""
    name: str
    type: Type

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


@dataclass
class Block:
    args: list = field(default_factory=list)
    ops: list = field(default_factory=list)
    label: str = ""


@dataclass
class Region:
    blocks: list = field(default_factory=list)

    @property
    def block(self) -> Block:
        return self.blocks[0]


@dataclass
class Op:
    """One TTIR operation.

    `attrs` maps attribute names to their printed text; `extra` holds what an
    op's custom syntax carries outside its attribute dictionary (a compare
    predicate, `tt.get_program_id`'s axis, `scf.for` bounds, ...).
    """
    name: str
    operands: list
    results: list
    attrs: dict = field(default_factory=dict)
    regions: list = field(default_factory=list)
    loc: Loc = UNKNOWN_LOC
    extra: dict = field(default_factory=dict)

    @property
    def result(self) -> Value:
        return self.results[0]


def walk_ops(block: Block):
    """Every op of `block` and, depth first, of the regions nested in it."""
    for op in block.ops:
        yield op
        for r in op.regions:
            for b in r.blocks:
                yield from walk_ops(b)


@dataclass
class Argument:
    """A kernel argument as the `tt.func` signature declares it."""
    value: Value
    attrs: dict = field(default_factory=dict)

    @property
    def divisibility(self) -> int:
        text = self.attrs.get("tt.divisibility")
        return int(text.split(":")[0]) if text else 1


@dataclass
class Function:
    name: str
    args: list
    body: Block
    loc: Loc = UNKNOWN_LOC
    public: bool = True
    result_types: list = field(default_factory=list)
    blocks: list = field(default_factory=list)  # all blocks; `body` is blocks[0]


@dataclass
class Module:
    functions: list
    text: str = ""

    def function(self, name: Optional[str] = None) -> Function:
        """The named function, or the public entry (the kernel) by default."""
        for fn in self.functions:
            if (name is None and fn.public) or fn.name == name:
                return fn
        raise KeyError(name or "<public tt.func>")
