"""Which kernels can run their tensor code in register-sized chunks, and in what stages.

A Triton block is a logical shape, not a register: `vector<1024xf32>` ops
straight from the tile make LLVM keep whole tiles live and spill.  In a kernel
whose tensors are all 1-D of one size B (or (1, B), and all-ones shapes: the
row tiles of Inductor's reductions with XBLOCK=1), every tensor op but a reduction
computes each lane independently, so tensor code can run as a loop over chunks
of C lanes.  Tiles of a few rows, (X, B) with per-row values (X, 1) and (X,)
(Inductor's inner reductions with XBLOCK = 2..8), run the same way on (X, C)
chunks, with C shrunk so a chunk stays a few registers.  Reductions split such
a kernel into stages: stage k's loop
accumulates the reductions whose inputs need only earlier stages' results
(lane-wise, in C-lane accumulators), and the stores run in the last stage.  A
tensor value needed by several stages is recomputed in each (its loads are
re-read from cache), which is what a hand-written CPU softmax does: one pass for
the max, one for the sum, one for the output.  That is the shape of vector add,
Inductor's pointwise kernels, and row kernels (softmax, layer/RMS norm) with a
whole row or a row chunk per block, including their `scf.for` column loops.

A value that a later stage needs and that is costly to recompute (a per-lane
transcendental or division, a column loop) is instead stored per chunk into a
stack buffer of B lanes in the stage that computes it and reloaded: softmax's
`exp(x - max)` is computed once, for the sum, and reloaded for the output.  A
division of per-row values (a mean) is not costly: it is one op per row.

Stores must come after every load that feeds a reduction, so recomputation
never reads what the kernel itself wrote; otherwise the kernel is lowered whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ...triton_frontend.ttir import Function, Op, ScalarType, TensorType, Value
from .. import host

# Lanes per chunk: 4 AVX2 registers of fp32, measured on vector add (bench/).
CHUNK = 32
# Tiles of up to this many rows are chunked; a chunk keeps about CHUNK lanes in all (X rows of
# CHUNK // X lanes, at least MIN_LANES: one AVX-512 register of fp32).
MAX_ROWS = 8
MIN_LANES = 16


def loop_lanes() -> int:
    """Lanes per chunk when a chunk runs a column loop: four of the host's vector registers of
    fp32 (64 with AVX-512, 32 with AVX2).  Each chunk enters and leaves the loop, which costs
    as much as the loop body's few vector ops at 32 lanes.  Layernorm 4096x1024 (three column
    loops, one trip each; zmm code): on one thread over 256 rows 0.071 ms at 64 lanes against
    0.095 ms at 32; in report-style blocks 1.37x and 1.31x Inductor C++ against 1.22x and 1.04x
    (docs/PERFORMANCE.md).  Straight-line chunks stay at CHUNK: softmax and vector add were
    5-10% slower at 64."""
    return host.vector_bytes()

_CHUNKABLE = {
    "tt.make_range", "tt.splat", "tt.addptr", "tt.load", "tt.store", "tt.extern_elementwise",
    "tt.bitcast", "tt.fp_to_fp", "tt.clampf", "tt.precise_sqrt", "tt.precise_divf", "tt.mulhiui",
    "arith.constant", "tt.get_program_id", "tt.get_num_programs", "llvm.intr.assume",
    "tt.assert",   # per lane; reports the first failing lane of the block (Inductor's indirect indexing)
    # only between the shapes `_Sizes` admits (the size check rejects any other; no reshape with rows)
    "tt.expand_dims", "tt.broadcast", "tt.reshape",
}
# integer division traps on x86; a combine step on the zero-filled first accumulator must not
_TRAPPING = {"arith.divsi", "arith.divui", "arith.remsi", "arith.remui", "arith.floordivsi", "arith.ceildivsi",
             "arith.ceildivui"}

SCALAR, TENSOR, SINK, REDUCE = "scalar", "tensor", "sink", "reduce"

# Ops worth a store and a reload (from L1) rather than a recomputation in a later stage.
_CHEAP_MATH = {"math.absf", "math.absi", "math.fma", "math.floor", "math.ceil", "math.copysign", "math.round",
               "math.roundeven", "math.trunc", "math.ctlz", "math.cttz", "math.ctpop"}
_COSTLY = {"tt.extern_elementwise", "arith.divf", "tt.precise_divf", "tt.precise_sqrt", "scf.for"} | _TRAPPING
# Stack bytes one kept value may take (kernels get 1 MiB of stack; see runtime/device.py).
MAX_KEPT_BYTES = 64 * 1024


@dataclass
class Stage:
    """One loop over the block's chunks, after the scalar ops it needs."""
    scalars: List[Op] = field(default_factory=list)     # lowered once, before the loop
    ops: List[Op] = field(default_factory=list)         # tensor ops lowered per chunk, program order
    reductions: List[Op] = field(default_factory=list)  # accumulated per chunk, finished after the loop
    keep: List[Value] = field(default_factory=list)     # stored per chunk for later stages
    reload: List[Value] = field(default_factory=list)   # loaded per chunk (kept by an earlier stage)


@dataclass
class ChunkPlan:
    """Stages of a chunked kernel over a block of `block` lanes (in each of `rows` rows),
    `lanes` at a time."""
    block: int
    stages: List[Stage]
    rows: int = 1
    lanes: int = CHUNK

    @property
    def kept(self) -> List[Value]:
        """Every value that gets a stack buffer."""
        return [v for s in self.stages for v in s.keep]


def _is_tensor_op(op) -> bool:
    return any(isinstance(v.type, TensorType) for v in list(op.operands) + list(op.results))


def _elementwise(op) -> bool:
    if op.regions:
        return False
    if not (op.name.startswith(("arith.", "math.")) or op.name in _CHUNKABLE):
        return False
    # a non-splat constant has per-lane values
    return not (op.name == "arith.constant" and "dense<[" in op.attrs.get("value", "").replace(" ", ""))


class _Sizes:
    """The block size B and row count X: every tensor is (B,), (1, B), (X, B), a per-row (X,)
    or (X, 1), or all ones (a value per program).  Without rows, the first 1-D size seen is B."""

    def __init__(self, block=None, rows=1):
        self.size, self.rows = block, rows

    def ok(self, values) -> bool:
        for v in values:
            if isinstance(v.type, TensorType) and not self._fits(v.type.shape):
                return False
        return True

    def _fits(self, shape) -> bool:
        *lead, last = shape
        if self.rows > 1:
            if len(shape) == 1:
                return last in (1, self.rows, self.size)
            return len(shape) == 2 and lead[0] in (1, self.rows) and last in (1, self.size)
        if any(d != 1 for d in lead):
            return False
        if last == 1:
            return True
        if self.size is None:
            self.size = last
        return self.size == last

    @staticmethod
    def of(fn: Function) -> Optional["_Sizes"]:
        """Rows and block from the 2-D tensors of `fn`'s top level (rows 1 when there are none);
        None when they are not one (X, B) pair with 1 < X <= MAX_ROWS and X != B."""
        rows, blocks = set(), set()
        for op in fn.body.ops:
            for v in list(op.operands) + list(op.results):
                if isinstance(v.type, TensorType) and len(v.type.shape) == 2:
                    x, b = v.type.shape
                    if x > 1:
                        rows.add(x)
                    if b > 1:
                        blocks.add(b)
        if not rows:
            return _Sizes()
        if len(rows) != 1 or len(blocks) != 1:
            return None
        (x,), (b,) = rows, blocks
        if x > MAX_ROWS or x == b:
            return None
        return _Sizes(block=b, rows=x)


def _classify_plain(op, sizes) -> Optional[str]:
    if not _elementwise(op) or not sizes.ok(list(op.operands) + list(op.results)):
        return None
    if sizes.rows > 1 and op.name == "tt.reshape":
        return None   # could move lanes between rows
    if not _is_tensor_op(op):
        return None if op.name == "tt.store" else SCALAR   # keep scalar stores ordered with tensor code
    return SINK if op.name in ("tt.store", "tt.assert") else TENSOR


def _classify(op, sizes) -> Optional[str]:
    if op.name == "tt.reduce":
        src = op.operands[0].type
        axis = int(op.attrs.get("axis", "0").split(":")[0])
        if not isinstance(src, TensorType) or axis != len(src.shape) - 1 or src.shape[-1] == 1:
            return None
        if not sizes.ok(op.results) or any(isinstance(r.type, TensorType) and r.type.shape[-1] == sizes.size
                                           for r in op.results):
            return None   # a reduction gives a value per program or per row, never per lane
        body = op.regions[0].block.ops
        if any(o.regions or o.name in _TRAPPING or not (o.name.startswith(("arith.", "math.")) or
                                                        o.name == "tt.reduce.return") for o in body):
            return None
        return REDUCE if sizes.ok(op.operands) else None
    if op.name == "scf.for":
        # lanes stay independent across iterations: the column loop runs inside each chunk
        if not sizes.ok(list(op.operands[3:]) + list(op.results)):
            return None
        if any(not isinstance(v.type, TensorType) for v in op.results):
            return None
        kinds = [_classify_plain(o, sizes) for o in op.regions[0].block.ops if o.name != "scf.yield"]
        if None in kinds:
            return None
        return SINK if SINK in kinds else TENSOR
    return _classify_plain(op, sizes)


def _free_values(op) -> list:
    """Operands of `op` and values its regions use from outside."""
    inside, used = set(), list(op.operands)

    def walk(o):
        for region in o.regions:
            for block in region.blocks:
                inside.update(block.args)
                for inner in block.ops:
                    inside.update(inner.results)
                    used.extend(inner.operands)
                    walk(inner)
    walk(op)
    return [v for v in used if v not in inside]


def chunk_plan(fn: Function) -> Optional[ChunkPlan]:
    """The stages to lower `fn` in chunks, or None when it must be lowered whole."""
    if len(fn.blocks) > 1:
        return None
    ops = [op for op in fn.body.ops if op.name != "tt.return"]
    sizes = _Sizes.of(fn)
    if sizes is None:
        return None
    kind: Dict[int, str] = {}
    producer = {}
    for i, op in enumerate(ops):
        k = _classify(op, sizes)
        if k is None:
            return None
        kind[i] = k
        for r in op.results:
            producer[r] = i
    block, rows = sizes.size, sizes.rows
    lanes = max(CHUNK // rows, MIN_LANES)
    if block is None or block <= lanes or block % lanes:
        return None
    wide = loop_lanes()
    if rows == 1 and wide > lanes and block > wide and block % wide == 0 and any(
            op.name == "scf.for" for op in ops):
        lanes = wide

    deps = {i: sorted({producer[v] for v in _free_values(op) if v in producer}) for i, op in enumerate(ops)}
    level = {}
    for i in range(len(ops)):
        # a reduction's result exists after its stage's loop; anything else at its inputs' stage
        level[i] = max((level[d] + (kind[d] == REDUCE) for d in deps[i]), default=0)
    last = max((level[i] + 1 for i in kind if kind[i] == REDUCE), default=0)

    costly = {}
    for i, op in enumerate(ops):
        costly[i] = _costly(op, block) or any(costly[d] for d in deps[i] if kind[d] == TENSOR)
    computed_in = {}   # op index -> the first stage that computes it (not reloads it)

    def tensor_slice(roots, kept) -> set:
        seen, todo = set(), list(roots)
        while todo:
            i = todo.pop()
            if i in seen or i in kept:
                continue
            if i in computed_in and costly[i] and _keepable(ops[i], block, rows):
                kept.add(i)
                continue
            seen.add(i)
            todo.extend(d for d in deps[i] if kind[d] in (TENSOR, SINK))
        return seen

    stores = [i for i in kind if kind[i] == SINK]
    first_store = min(stores, default=len(ops))
    stages = []
    for lvl in range(last + 1):
        reductions = [i for i in kind if kind[i] == REDUCE and level[i] == lvl]
        roots = [d for r in reductions for d in deps[r] if kind[d] != SCALAR] if lvl < last else stores
        kept = set()
        body = tensor_slice(roots, kept)
        if lvl < last and any(i >= first_store for i in body | set(reductions)):
            return None   # a later stage would re-read memory the kernel has written
        for i in body:
            computed_in.setdefault(i, lvl)
        for i in sorted(kept):
            if ops[i].result not in stages[computed_in[i]].keep:
                stages[computed_in[i]].keep.append(ops[i].result)
        stages.append(Stage(scalars=[ops[i] for i in kind if kind[i] == SCALAR and level[i] == lvl],
                            ops=[ops[i] for i in sorted(body)],
                            reductions=[ops[i] for i in reductions],
                            reload=[ops[i].result for i in sorted(kept)]))
    if any(kind[i] == SCALAR and ops[i].name == "tt.load" and i > first_store for i in kind):
        return None       # scalar loads run before the stores' stage
    return ChunkPlan(block, stages, rows, lanes)


def _costly(op, block: int) -> bool:
    """Whether the per-lane values computed from `op` are worth keeping for a later stage.  A
    division or transcendental of per-row values ((X, 1), scalars) is one op per row and chunk:
    recomputing it costs less than a stack round trip of every lane that uses it."""
    if op.name == "scf.for":
        return True
    if op.name not in _COSTLY and not (op.name.startswith("math.") and op.name not in _CHEAP_MATH):
        return False
    return any(isinstance(r.type, TensorType) and r.type.shape and r.type.shape[-1] == block
               for r in op.results)


def _keepable(op, block: int, rows: int = 1) -> bool:
    """A single per-lane float tensor small enough for a stack buffer of one row of `block`
    lanes per row it has.  Integers are index math: recomputed, they keep the affine form that
    makes their loads contiguous, where a reloaded index turns them into gathers.  Inductor's
    add + layer norm of the transformer block (a row offset `512*(x // 256) + 4096*(x % 256)`,
    XBLOCK=2, R0_BLOCK=512) took 1.34 ms on one thread with its index kept, 0.36 ms recomputed."""
    if len(op.results) != 1 or not isinstance(op.results[0].type, TensorType):
        return False
    t = op.results[0].type
    el = t.element
    return (t.shape[-1] == block and isinstance(el, ScalarType) and el.is_float
            and kept_rows(t) * block * max(el.bitwidth // 8, 1) <= MAX_KEPT_BYTES)


def kept_rows(t: TensorType) -> int:
    """Rows of a per-lane tensor: its leading extent (1 for 1-D)."""
    return t.shape[0] if len(t.shape) == 2 else 1
