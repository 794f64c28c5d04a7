"""Debugging ops and hints: `tt.assert`, `tt.print`, barriers, and `tl.assume`.

CPU executables are freestanding (no libc, no printf), so the kernel reports
through a hidden status buffer instead (`abi.STATUS_PARAM`): a failed assert
or out-of-bounds access stores its site id, the offending index and the
program id; a print appends (site, program id, lane, value) records.  The
launcher reads the buffer after the launch and raises or prints in Python.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, memref, scf, vector

from .. import grid
from ..analysis import pointers as P
from ..abi import PRINT_RECORD_WORDS, STATUS_HEADER_WORDS
from ..errors import LoweringError
from ..registry import lowers
from .. import types as T
from ...triton_frontend.ttir import ScalarType


@lowers("tt.debug_barrier", "gpu.barrier", "ttg.barrier")
def lower_dropped_hint(ctx, op):
    """Barriers: one program is one thread of control on the CPU."""


@lowers("llvm.intr.assume")
def lower_assume(ctx, op):
    """`tl.assume`: emits nothing, but `x >= 0` feeds the pointer analysis."""
    if not ctx.lanes:
        P.assume(ctx, ctx.get(op.operands[0]))


def add_site(ctx, kind: str, op, message: str = "") -> int:
    """Register a reporting site; ids start at 1 (0 means 'no failure')."""
    loc = op.loc
    ctx.sites.append((kind, loc.file, loc.line, loc.col, message, op.name))
    return len(ctx.sites)


def _status(ctx):
    if ctx.status_arg is None:
        raise LoweringError("internal: no status buffer for a reporting op")
    ctx.written_args.add(ctx.status_arg)
    return ctx.memref(ctx.status_arg, ScalarType("i64"))


def _i64(ctx, v: int) -> ir.Value:
    return ctx.const(v, ir.IntegerType.get_signless(64))


def _idx(v: int) -> ir.Value:
    return arith.constant(ir.IndexType.get(), v)


def _program_ids(ctx):
    i64 = ir.IntegerType.get_signless(64)
    return [grid.cast(grid.program_id(ctx.grid_args, d), i64) for d in range(3)]


def report_failure(ctx, site: int, failed: ir.Value, index: ir.Value):
    """If `failed` (i1), store the site, the offending index and the program id."""
    mem = _status(ctx)
    # keep the first report: chunked kernels reach the same site once per chunk
    empty = arith.cmpi(arith.CmpIPredicate.eq, memref.load(mem, [_idx(0)]), _i64(ctx, 0))
    if_op = scf.IfOp(arith.andi(failed, empty))
    with ir.InsertionPoint(if_op.then_block):
        memref.store(_i64(ctx, site), mem, [_idx(0)])
        memref.store(ctx.i64(index), mem, [_idx(1)])
        for d, pid in enumerate(_program_ids(ctx)):
            memref.store(pid, mem, [_idx(2 + d)])
        scf.YieldOp([])


def any_true(v: ir.Value) -> ir.Value:
    """OR-reduce an i1 vector (or pass a scalar through)."""
    if not isinstance(v.type, ir.VectorType):
        return v
    n = 1
    for d in T.shape(v.type):
        n *= d
    flat = vector.shape_cast(ir.VectorType.get([n], T.element(v.type)), v)
    return vector.reduction(T.element(v.type), vector.CombiningKind.OR, flat)


def first_index(ctx, bad: ir.Value, in_block: bool = True) -> ir.Value:
    """The lane number of the first set lane of an i1 vector (0 for a scalar): in the whole
    block, or (`in_block=False`) in the vector at hand, which differ in chunked kernels."""
    if not isinstance(bad.type, ir.VectorType):
        return _i64(ctx, 0)
    n = 1
    for d in T.shape(bad.type):
        n *= d
    flat = vector.shape_cast(ir.VectorType.get([n], T.element(bad.type)), bad)
    i64 = ir.IntegerType.get_signless(64)
    lanes = arith.constant(ir.VectorType.get([n], i64),
                           ir.DenseElementsAttr.get(__import__("numpy").arange(n, dtype="int64"),
                                                    type=ir.VectorType.get([n], i64)))
    big = ctx.const(n, ir.VectorType.get([n], i64))
    cand = arith.select(flat, lanes, big)
    first = vector.reduction(i64, vector.CombiningKind.MINSI, cand)
    if in_block and ctx.chunk is not None:   # a chunk's lanes start at its first lane
        first = arith.addi(first, arith.extsi(i64, ctx.chunk[0]))
    return first


@lowers("tt.assert")
def lower_tt_assert(ctx, op):
    cond = ctx.get(op.operands[0])
    ok = cond
    if T.bitwidth(cond.type) != 1:
        ok = arith.cmpi(arith.CmpIPredicate.ne, cond, ctx.const(0, cond.type))
    bad = arith.xori(ok, ctx.const(1, ok.type))
    site = add_site(ctx, "assert", op, op.extra.get("message", ""))
    report_failure(ctx, site, any_true(bad), first_index(ctx, bad))


@lowers("tt.print")
def lower_tt_print(ctx, op):
    """Append one record per lane and operand to the status buffer's print area."""
    ctx.has_prints = True
    from ..dispatch import PRINT_RECORDS
    mem = _status(ctx)
    pids = _program_ids(ctx)
    for operand in op.operands:
        v = ctx.get(operand)
        kind = "print_f" if T.is_float(v.type) else "print_i"
        site = add_site(ctx, kind, op, op.extra.get("message", ""))
        vals = [v] if not isinstance(v.type, ir.VectorType) else None
        if vals is None:
            n = 1
            for d in T.shape(v.type):
                n *= d
            flat = vector.shape_cast(ir.VectorType.get([n], T.element(v.type)), v)
            vals = [vector.extract(flat, [], [i]) for i in range(n)]
        for lane, x in enumerate(vals):
            bits = _as_bits(ctx, x)
            slot = memref.atomic_rmw(arith.AtomicRMWKind.addi, _i64(ctx, 1), mem, [_idx(5)])
            ok = arith.cmpi(arith.CmpIPredicate.slt, slot, _i64(ctx, PRINT_RECORDS))
            if_op = scf.IfOp(ok)
            with ir.InsertionPoint(if_op.then_block):
                base = arith.addi(arith.muli(slot, _i64(ctx, PRINT_RECORD_WORDS)), _i64(ctx, STATUS_HEADER_WORDS))
                words = [_i64(ctx, site), *pids, _i64(ctx, lane), bits]
                for k, w in enumerate(words):
                    memref.store(w, mem, [arith.index_cast(ir.IndexType.get(), arith.addi(base, _i64(ctx, k)))])
                scf.YieldOp([])


def _as_bits(ctx, x: ir.Value) -> ir.Value:
    """A scalar's bits in an i64 word (floats widened to f64 first)."""
    i64 = ir.IntegerType.get_signless(64)
    t = x.type
    if T.is_float(t):
        if str(t) != "f64":
            x = arith.extf(ir.F64Type.get(), x)
        return arith.bitcast(i64, x)
    if T.bitwidth(t) < 64:
        return arith.extsi(i64, x)
    return x
