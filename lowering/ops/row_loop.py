"""Big tiles move between memory and registers in a loop over row pieces.

Unrolled, a load of a 8x64x32 tile with 512 rows (or a 16384-lane gather)
becomes hundreds of slices of one huge vector, and LLVM takes minutes on the
shuffles.  Here the tile's vectors (offsets, mask, passthru/value) are written
to stack buffers shaped like the tile, an `scf.for` moves one piece of a row
per iteration (a masked load/store for unit-stride rows, else a gather or
scatter), and the loaded tile is read back with one n-D `vector.load`.  Code
size no longer grows with the tile.  Buffers are reused per kernel: each use
is finished before the next begins.  A `tt.dot` operand keeps its own buffer
(`fill`, and `convert` to widen it), which the matmul reads in place.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, memref, scf, vector

from ..analysis import pointers as P
from .. import types as T

# Tiles with at least this many lanes take the loop (smaller ones stay unrolled).
MIN_LANES = 1024
# Lanes per iteration: one gather/scatter of this width compiles quickly.
PIECE = 64


def wanted(shape, rowwise: bool, rows_limit: int) -> bool:
    """Whether a load/store of `shape` should run as a loop."""
    n = 1
    for d in shape:
        n *= d
    rows = n // shape[-1]
    return n >= MIN_LANES and (not rowwise or rows > rows_limit)


def buffer(ctx, shape, elem: ir.Type, role: str) -> ir.Value:
    """A stack buffer of `shape` for `role`, allocated once per kernel at its entry."""
    cache = ctx.__dict__.setdefault("_row_loop_buffers", {})
    key = (tuple(shape), str(elem), role)
    if key not in cache:
        with ctx.entry_ip, ir.Location.unknown():
            # cache-line aligned: a vector row straddling two lines costs two accesses
            cache[key] = memref.alloca(ir.MemRefType.get(list(shape), elem), [], [], alignment=64)
    return cache[key]


def _stage(ctx, v: ir.Value, role: str) -> ir.Value:
    shape = T.shape(v.type)
    el = T.element(v.type)
    if T.bitwidth(el) == 1:  # i1 vectors are bit-packed in memory; keep one byte per lane
        el = ir.IntegerType.get_signless(8)
        v = arith.extui(ir.VectorType.get(list(shape), el), v)
    buf = buffer(ctx, shape, el, role)
    write_all(v, buf)
    return buf


# n-D vector.load/store do not lower to LLVM in IREE's CPU pipeline; n-D transfers do (row by row).
def write_all(v: ir.Value, buf: ir.Value) -> None:
    """Store an n-D vector into a buffer of its shape."""
    rank = len(T.shape(v.type))
    c0 = arith.constant(ir.IndexType.get(), 0)
    ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(rank))
    vector.transfer_write(None, v, buf, [c0] * rank, ident, [True] * rank)


def read_all(t: ir.Type, buf: ir.Value, ctx) -> ir.Value:
    """Load a buffer of `t`'s shape as one n-D vector."""
    rank = len(T.shape(t))
    c0 = arith.constant(ir.IndexType.get(), 0)
    ident = ir.AffineMapAttr.get(ir.AffineMap.get_identity(rank))
    return vector.transfer_read(t, buf, [c0] * rank, ident, ctx.const(0, T.element(t)), [True] * rank)


def _pieces(shape):
    width = min(PIECE, shape[-1])   # Triton dims are powers of two: pieces divide rows evenly
    return width, shape[-1] // width


def for_each_piece(shape, body):
    """Run body(row index, piece start, width) for every piece of every row, in one scf.for."""
    idx_t = ir.IndexType.get()
    lead = list(shape[:-1])
    width, per_row = _pieces(shape)
    rows = 1
    for d in lead:
        rows *= d
    c = lambda v: arith.constant(idx_t, v)  # noqa: E731
    loop = scf.ForOp(c(0), c(rows * per_row), c(1))
    with ir.InsertionPoint(loop.body):
        r = loop.induction_variable
        piece = arith.muli(arith.remui(r, c(per_row)), c(width))
        r = arith.divui(r, c(per_row))
        idx = []
        for n in reversed(lead):
            idx.append(arith.remui(r, c(n)))
            r = arith.divui(r, c(n))
        idx.reverse()
        body(idx, piece, width)
        scf.YieldOp([])


def _row_start(aff, idx, piece) -> ir.Value:
    i64 = ir.IntegerType.get_signless(64)
    off = P.materialize_base(aff)
    for st, i in zip(aff.strides[:-1], idx):
        off = P.s_add(off, P.s_mul(st, arith.index_cast(i64, i)))
    off = arith.addi(P._as_i64(off), arith.index_cast(i64, piece))
    return arith.index_cast(ir.IndexType.get(), off)


def _mask_piece(ctx, mbuf, at, width):
    """The staged mask's piece at `at` as i1 lanes (None without a mask)."""
    if mbuf is None:
        return None
    bt = ir.VectorType.get([width], ir.IntegerType.get_signless(8))
    return arith.cmpi(arith.CmpIPredicate.ne, vector.load(bt, mbuf, at), ctx.const(0, bt))


def load(ctx, mem, ptr, shape, mask, pas, mt, rowwise: bool) -> ir.Value:
    """A tile load as a loop (see the module docstring)."""
    res = buffer(ctx, shape, T.element(mt), "value")
    fill(ctx, mem, ptr, shape, mask, pas, res, rowwise)
    return read_all(mt, res, ctx)


def fill(ctx, mem, ptr, shape, mask, pas, res: ir.Value, rowwise: bool) -> None:
    """Load a tile into the stack buffer `res` (of its shape) one row piece per iteration."""
    from .memory import _masked_load
    elem = ir.MemRefType(res.type).element_type
    c0 = arith.constant(ir.IndexType.get(), 0)
    if mask is not None:
        write_all(pas, res)
    mbuf = _stage(ctx, mask, "mask") if mask is not None else None
    obuf = None if rowwise else _stage(ctx, ptr.offset, "offset")

    def body(idx, piece, width):
        at = idx + [piece]
        t = ir.VectorType.get([width], elem)
        m = _mask_piece(ctx, mbuf, at, width)
        if rowwise:
            start = _row_start(ptr.affine, idx, piece)
            row = vector.load(t, mem, [start]) if m is None else _masked_load(t, mem, start, m, vector.load(t, res, at))
        else:
            ot = ir.VectorType.get([width], T.element(ptr.offset.type))
            offs = ctx.index(vector.load(ot, obuf, at))
            on = m if m is not None else ctx.const(1, ir.VectorType.get([width], ir.IntegerType.get_signless(1)))
            p = vector.load(t, res, at) if m is not None else ctx.const(0, t)
            row = vector.gather(t, mem, [c0], offs, on, p)
        vector.store(row, res, at)
    for_each_piece(shape, body)


def convert(ctx, src: ir.Value, elem: ir.Type, role: str) -> ir.Value:
    """A copy of the stack buffer `src` with its elements widened to `elem` (`dot.widen`)."""
    from .dot import widen
    shape = list(ir.MemRefType(src.type).shape)
    from_el = ir.MemRefType(src.type).element_type
    dst = buffer(ctx, shape, elem, role)

    def body(idx, piece, width):
        at = idx + [piece]
        vector.store(widen(vector.load(ir.VectorType.get([width], from_el), src, at), elem), dst, at)
    for_each_piece(shape, body)
    return dst


def store(ctx, mem, ptr, shape, mask, val, rowwise: bool) -> None:
    """A tile store as a loop (see the module docstring)."""
    from .memory import _masked_store
    elem = T.element(val.type)
    vbuf = _stage(ctx, val, "value")
    mbuf = _stage(ctx, mask, "mask") if mask is not None else None
    obuf = None if rowwise else _stage(ctx, ptr.offset, "offset")
    c0 = arith.constant(ir.IndexType.get(), 0)

    def body(idx, piece, width):
        at = idx + [piece]
        v = vector.load(ir.VectorType.get([width], elem), vbuf, at)
        m = _mask_piece(ctx, mbuf, at, width)
        if rowwise:
            start = _row_start(ptr.affine, idx, piece)
            if m is None:
                vector.store(v, mem, [start])
            else:
                _masked_store(mem, start, m, v)
        else:
            ot = ir.VectorType.get([width], T.element(ptr.offset.type))
            offs = ctx.index(vector.load(ot, obuf, at))
            on = m if m is not None else ctx.const(1, ir.VectorType.get([width], ir.IntegerType.get_signless(1)))
            vector.scatter(None, mem, [c0], offs, on, v)
    for_each_piece(shape, body)
