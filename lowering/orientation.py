"""Tile orientation: a kernel whose tiles are contiguous along their first axis is lowered with
every tensor's axes reversed.

Vectors are row-major, so a tile is cheap to load when its last axis is the contiguous one.
Inductor's reductions over an outer dimension (`x.sum(0)`, batch statistics, bias gradients)
load `[XBLOCK, RBLOCK]` tiles whose XBLOCK axis is contiguous, and each such load was
transposed in registers (a `[64, 4]` tile: 120 shuffles and 64 four-lane adds per loop step).
Reversing the axes of every tensor is exact for elementwise ops; the ops that name an axis or an
order (`expand_dims`, `reduce`, `scan`, `trans`) get it remapped, and a kernel with any op whose
meaning depends on the element order (`dot`, `join`, `gather`, a reshape of two real axes...)
is left as it is.  The choice counts the elements that the kernel's loads and stores move
contiguously along each orientation (`orientation_votes`); stores count first, as a column-wise
store is lowered to a scatter where a column-wise load is a register transpose.
"""
from __future__ import annotations

import copy
import os
import re
from typing import NamedTuple, Optional

from ..triton_frontend.ttir import Function, Op, TensorType, Value, shape_of, walk_ops
from .analysis.advance import int_constants

ENABLED = os.environ.get("TURBINE_TRITON_ORIENT", "1") != "0"

# Ops whose results do not depend on how a tile's axes are ordered (given operand and result
# types reversed alike), or whose axis `_remap_axes` rewrites.  Any other op on tiles keeps the
# kernel as it is (`_blocker`).
_ELEMENTWISE_PREFIXES = ("arith.", "math.")
_ORDER_FREE = {
    "tt.addptr", "tt.load", "tt.store", "tt.atomic_rmw", "tt.atomic_cas", "tt.atomic_poll",
    "tt.splat", "tt.broadcast", "tt.make_range", "tt.bitcast", "tt.fp_to_fp", "tt.clampf",
    "tt.precise_divf", "tt.precise_sqrt", "tt.mulhiui", "tt.extern_elementwise", "tt.unsplat",
    "tt.get_program_id", "tt.get_num_programs", "tt.assert", "tt.return", "tt.reduce.return",
    "tt.scan.return", "tt.map_elementwise.return", "tt.debug_barrier", "gpu.barrier", "ttg.barrier",
    "scf.for", "scf.if", "scf.while", "scf.yield", "scf.condition", "cf.br", "cf.cond_br",
    "ub.poison", "llvm.intr.assume", "tt.expand_dims", "tt.reduce", "tt.scan", "tt.trans",
}
# A stride known to be uniform across lanes but only at run time (`n_cols * rows`): not a unit
# stride as far as the vote goes.
SYMBOLIC = "symbolic"
_POINTER_OPERAND = {"tt.load": 0, "tt.store": 0, "tt.atomic_rmw": 0, "tt.atomic_cas": 0}


def _all_ops(fn: Function):
    for block in (fn.blocks or [fn.body]):
        yield from walk_ops(block)


def _rank(v: Value) -> int:
    return len(shape_of(v.type))


def _blocker(op: Op) -> Optional[str]:
    """Why `op` keeps its kernel's orientation, or None."""
    tiles = any(_rank(v) >= 2 for v in list(op.operands) + list(op.results))
    if not tiles:
        return None   # scalars and 1-D tensors read the same either way
    name = op.name
    if name == "arith.constant":
        return None if _is_splat(op) else "a constant tile that is not a splat"
    if name == "tt.reshape":
        ok = all(sum(d > 1 for d in shape_of(v.type)) <= 1 for v in (op.operands[0], op.result))
        return None if ok else "a reshape that regroups elements"
    if name == "tt.map_elementwise":
        return None if op.attrs.get("pack", "1").split(":")[0].strip() == "1" else "a packed map"
    if name in _ORDER_FREE or name.startswith(_ELEMENTWISE_PREFIXES):
        return None
    return name


def _is_splat(op: Op) -> bool:
    text = op.attrs.get("value", "")
    return not re.match(r"\s*dense<\s*\[", text)


class Votes(NamedTuple):
    """Elements moved by a kernel's rank >= 2 loads and stores, by the axis with unit stride."""
    row: int           # along the last axis
    column: int        # along the first non-unit axis only
    row_stores: int    # the stores among `row`
    column_stores: int  # the stores among `column`


def orientation_votes(fn: Function) -> Votes:
    """Count the elements that the kernel's rank >= 2 loads and stores move along a unit stride
    of their last axis or of their first non-unit axis only.

    Strides come from a static pass over the index math: `make_range`, `splat`, `expand_dims`,
    `broadcast`, `addptr`, integer add/sub and multiplication by a uniform value.  An access
    whose strides are not all known counts for neither.
    """
    strides = _static_strides(fn)
    row = column = row_stores = column_stores = 0
    for op in _all_ops(fn):
        at = _POINTER_OPERAND.get(op.name)
        if at is None or at >= len(op.operands):
            continue
        ptr = op.operands[at]
        shape = shape_of(ptr.type)
        s = strides.get(ptr)
        if len(shape) < 2 or s is None or any(x is None for x in s):
            continue
        n = 1
        for d in shape:
            n *= d
        real = [d for d in range(len(shape)) if shape[d] > 1]
        if shape[-1] > 1 and s[-1] == 1:
            row += n
            row_stores += n if op.name == "tt.store" else 0
        elif real and real[0] != len(shape) - 1 and s[real[0]] == 1:
            column += n
            column_stores += n if op.name == "tt.store" else 0
    return Votes(row, column, row_stores, column_stores)


def _static_strides(fn: Function) -> dict:
    """Value -> per-axis element strides of integer and pointer tensors: an int, `SYMBOLIC`, or
    None where unknown.  Scalars and uniform tensors have all-zero strides."""
    s, consts = {}, int_constants(fn)

    def get(v):
        if not isinstance(v.type, TensorType):
            return ()          # a scalar: the same in every lane
        return s.get(v)

    def zeros(v):
        return (0,) * _rank(v)

    for op in _all_ops(fn):
        name, res = op.name, op.results
        if name == "arith.constant" and res and res[0] in consts:
            s[res[0]] = zeros(res[0])
        elif name == "tt.splat":
            s[res[0]] = zeros(res[0])
        elif name == "tt.make_range":
            s[res[0]] = (1,)
        elif name == "tt.expand_dims":
            a = get(op.operands[0])
            if a is not None:
                axis = int(op.attrs["axis"].split(":")[0])
                s[res[0]] = a[:axis] + (0,) + a[axis:]
        elif name == "tt.broadcast":
            a, src = get(op.operands[0]), shape_of(op.operands[0].type)
            if a is not None:
                s[res[0]] = tuple(0 if src[d] == 1 else a[d] for d in range(len(src)))
        elif name in ("arith.addi", "arith.subi", "tt.addptr"):
            a, b = (get(v) for v in op.operands[:2])
            if a is not None and b is not None:
                a, b = a or zeros(res[0]), b or zeros(res[0])
                sign = -1 if name == "arith.subi" else 1
                s[res[0]] = tuple(_summed(x, y, sign) for x, y in zip(a, b))
        elif name == "arith.muli":
            a, b = op.operands[:2]
            for x, k in ((a, b), (b, a)):
                sx, sk = get(x), get(k)
                if sx is None or sk is None or any(sk):
                    continue        # neither factor is uniform across lanes
                scale = consts.get(k, SYMBOLIC)
                s[res[0]] = tuple(_scaled(d, scale) for d in (sx or zeros(res[0])))
                break
        elif name in ("arith.extsi", "arith.extui", "arith.trunci", "arith.index_cast"):
            a = get(op.operands[0])
            if a is not None:
                s[res[0]] = a
        elif name == "scf.for" and op.regions:
            # loop-carried tiles (pointer increments) keep the strides of their initial value
            body = op.regions[0].blocks[0]
            for init, arg, r in zip(op.operands[3:], body.args[1:], res):
                a = get(init)
                if a is not None and isinstance(init.type, TensorType):
                    s[arg] = s[r] = a
    return s


def _scaled(d, k):
    if d is None or d == 0 or k == 0:
        return None if d is None else 0
    return SYMBOLIC if SYMBOLIC in (d, k) else d * k


def _summed(x, y, sign: int):
    if x is None or y is None:
        return None
    return SYMBOLIC if SYMBOLIC in (x, y) else x + sign * y


def should_reverse(fn: Function) -> bool:
    """Whether to lower `fn` with its axes reversed: when it stores tiles column-wise and none
    row-wise, or stores none and loads more elements column-wise than row-wise."""
    if not ENABLED or any(_blocker(op) for op in _all_ops(fn)):
        return False
    votes = orientation_votes(fn)
    # A column-wise store is a scatter (a column-wise load is only a register transpose), so
    # the stores decide first: rows stored keep the order, columns stored reverse it.
    if votes.row_stores or votes.column_stores:
        return not votes.row_stores
    return votes.column > votes.row


def reversed_axes(fn: Function) -> Function:
    """A copy of `fn` in which every tensor of rank >= 2 has its axes in reverse order.

    `fn` itself is not changed.  Callers check `should_reverse` first: the copy is only
    equivalent when no op in `fn` has a `_blocker`.
    """
    fn = copy.deepcopy(fn)
    seen = set()

    def flip(v: Value):
        if id(v) in seen:
            return
        seen.add(id(v))
        if isinstance(v.type, TensorType) and len(v.type.shape) >= 2:
            v.type = TensorType(tuple(reversed(v.type.shape)), v.type.element)

    for a in fn.args:
        flip(a.value)
    blocks = list(fn.blocks or [fn.body])
    for op in _all_ops(fn):
        for r in op.regions:
            blocks.extend(r.blocks)
    for b in blocks:
        for v in b.args:
            flip(v)
    for op in _all_ops(fn):
        _remap_axes(op)
        for v in op.results:
            flip(v)
    return fn


def _remap_axes(op: Op) -> None:
    """Rewrite the axis (or order) an op names for reversed operands."""
    if op.name in ("tt.reduce", "tt.scan", "tt.expand_dims"):
        axis = int(op.attrs["axis"].split(":")[0])
        r = _rank(op.operands[0])
        new = r - axis if op.name == "tt.expand_dims" else r - 1 - axis
        op.attrs["axis"] = f"{new} : i32"
    elif op.name == "tt.trans":
        text = op.attrs["order"]
        order = [int(x) for x in text.split(":")[-1].strip(" >]").replace("[", "").split(",")]
        r = len(order)
        new = [r - 1 - order[r - 1 - i] for i in range(r)]
        op.attrs["order"] = "array<i32: " + ", ".join(map(str, new)) + ">"
    elif op.name == "arith.constant" and op.results and isinstance(op.result.type, TensorType) \
            and len(op.result.type.shape) >= 2:
        head = op.attrs["value"].rsplit(" : ", 1)[0]
        t = op.result.type
        op.attrs["value"] = f"{head} : {TensorType(tuple(reversed(t.shape)), t.element)}"
