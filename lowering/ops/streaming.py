"""Streaming (non-temporal) stores for outputs that will not stay in cache.

A plain store of a line the core does not hold first reads it from memory; a non-temporal
store writes whole lines straight to memory.  For a destination of at least
`host.streaming_store_min_bytes()` (half the last-level cache, of at most 128 MiB) that saves a third of a copy's
traffic, so every full-lane vector store to a kernel binding checks, at run time, the
binding's size (uniform, decided once per program) and the store's 64-byte alignment, and
streams when both hold (one scalar test per store).  `tl.store(..., cache_modifier=".cs")`
or `eviction_policy="evict_first"` streams at any size; `eviction_policy="evict_last"` never.

A binding the kernel also loads from (Inductor's `in_out_ptr`s, an in-place ReLU) keeps plain
stores: its lines are in cache already, so there is no read to save, and a streamed result
would leave the cache just before the next op reads it (an in-place ReLU between two `addmm`s:
1.25 ms streamed, 1.03 ms plain).

Ordering: the task system hands each finished workgroup back through atomic read-modify-writes
(locked on x86, which drains write-combining buffers; release-ordered elsewhere), so streamed
data is visible when the launch returns.
"""
from __future__ import annotations

from iree.compiler import ir
from iree.compiler.dialects import arith, memref, scf, vector

from .. import host
from ...triton_frontend.ttir import walk_ops
from .. import types as T

LINE = 64

STREAM, KEEP, AUTO = "stream", "keep", "auto"


def policy_of(op) -> str:
    """The store's Triton cache policy as STREAM, KEEP or AUTO."""
    text = op.attrs.get("cachePolicy", "")
    if "cache_modifier = cs" in text or "evict_first" in text:
        return STREAM
    if "evict_last" in text:
        return KEEP
    return AUTO


# ops whose result points where their first operand does, plus an offset
_POINTER_PASSTHROUGH = {"tt.addptr", "tt.splat", "tt.broadcast", "tt.expand_dims", "tt.reshape",
                        "tt.trans", "tt.bitcast"}


def loaded_args(fn) -> frozenset:
    """Indices of the kernel arguments that some `tt.load` in `fn` reads through (traced
    through pointer arithmetic, selects and loop-carried pointers; a pointer of unknown
    origin counts for no argument)."""
    args = {a.value: i for i, a in enumerate(fn.args)}
    producer, carried, loads = {}, {}, []
    for b in (fn.blocks or [fn.body]):
        for op in walk_ops(b):
            for r in op.results:
                producer[r] = op
            if op.name == "tt.load":
                loads.append(op.operands[0])
            if op.name == "scf.for" and op.regions:
                # an iteration argument (and the loop's result) is the init or the yielded value
                body = op.regions[0].block
                yielded = body.ops[-1].operands if body.ops and body.ops[-1].name == "scf.yield" else []
                for i, init in enumerate(op.operands[3:]):
                    sources = [init] + ([yielded[i]] if i < len(yielded) else [])
                    for v in (body.args[1 + i] if 1 + i < len(body.args) else None,
                              op.results[i] if i < len(op.results) else None):
                        if v is not None:
                            carried[v] = sources
    found, seen = set(), set()
    stack = list(loads)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in args:
            found.add(args[v])
        elif v in carried:
            stack += carried[v]
        elif v in producer:
            op = producer[v]
            if op.name in _POINTER_PASSTHROUGH and op.operands:
                stack.append(op.operands[0])
            elif op.name == "arith.select":
                stack += op.operands[1:3]
    return frozenset(found)


def _big_enough(ctx, arg: int) -> ir.Value:
    """i1: binding `arg` holds at least the streaming threshold (built once, at entry)."""
    flags, key = ctx.stream_facts, ("big", arg)
    if key not in flags:
        binding, size, declared = ctx.bindings[arg]
        with ctx.entry_ip, ir.Location.unknown():
            idx = ir.IndexType.get()
            nbytes = arith.muli(size, arith.constant(idx, max(T.bitwidth(declared) // 8, 1)))
            flags[key] = arith.cmpi(arith.CmpIPredicate.uge, nbytes,
                                    arith.constant(idx, host.streaming_store_min_bytes()))
    return flags[key]


def _address(ctx, mem: ir.Value) -> ir.Value:
    """The address of `mem[0]` as an index (built once, at entry).  Bindings may sit at any
    offset of a larger allocation (graph code in one exported module), so alignment is
    checked on the real address, not assumed."""
    facts, key = ctx.stream_facts, ("addr", mem)
    if key not in facts:
        with ctx.entry_ip, ir.Location.unknown():
            facts[key] = memref.extract_aligned_pointer_as_index(mem)
    return facts[key]


def full_store(ctx, v: ir.Value, mem: ir.Value, at: ir.Value, arg: int, policy: str = AUTO) -> None:
    """`vector.store v, mem[at]` (every lane on), streamed when the policy and run-time
    checks allow.  `mem` is binding `arg`'s memref."""
    vt = ir.VectorType(v.type)
    esize = T.bitwidth(vt.element_type) // 8
    nbytes = esize * vt.shape[0] if vt.rank == 1 else 0
    threshold = host.streaming_store_min_bytes()
    if (policy == KEEP or nbytes == 0 or nbytes % LINE or T.bitwidth(vt.element_type) % 8
            or (policy == AUTO and (threshold == 0 or arg in ctx.loaded_args))
            or ctx.bindings.get(arg) is None):
        vector.store(v, mem, [at])
        return
    idx = ir.IndexType.get()
    addr = arith.addi(_address(ctx, mem), arith.muli(at, arith.constant(idx, esize)))
    low = arith.andi(addr, arith.constant(idx, LINE - 1))
    ok = arith.cmpi(arith.CmpIPredicate.eq, low, arith.constant(idx, 0))
    if policy == AUTO:
        ok = arith.andi(ok, _big_enough(ctx, arg))
    if_op = scf.IfOp(ok, [], has_else=True)
    with ir.InsertionPoint(if_op.then_block):
        vector.store(v, mem, [at], nontemporal=True, alignment=LINE)
        scf.YieldOp([])
    with ir.InsertionPoint(if_op.else_block):
        vector.store(v, mem, [at])
        scf.YieldOp([])
