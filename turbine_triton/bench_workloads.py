"""Benchmark workloads shared by `turbine-triton bench --report` and the pytest-benchmark cases in bench/.

A workload at one size is a `Case`: a name, its minimum traffic and flop count,
a zero-argument factory per implementation ("ours" through the `cpu` Triton
backend, "eager" torch, "inductor_cpp" = plain `torch.compile`), the torch
reference, and optionally a small `Case` for Triton's interpreter, which is
500-5000x slower and only ever runs at a small shape.

Factories are lazy so that `torch.compile` happens only when an implementation
is about to be timed (each build resets dynamo, so builds never share caches).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
import triton

from . import bench_kernels as bk
from . import demo
from .fuzz import interpret  # the interpreter, able to call tl.zeros & co from outside TRITON_INTERPRET=1

Fn = Callable[[], torch.Tensor]
IMPLS = ("ours", "eager", "inductor_cpp")


@dataclass
class Case:
    """One workload at one size."""
    name: str                      # e.g. "softmax"
    shape: str                     # e.g. "4096x1024 fp32"
    kind: str                      # "kernel" (hand-written Triton) or "model" (Inductor-generated)
    flops: float
    bytes: float                   # minimum traffic: every input read once, every output written once
    metric: str                    # "GB/s" or "GFLOP/s": which one the table shows
    impls: Dict[str, Callable[[], Fn]]
    reference: Fn                  # torch's result, in fp32
    tol: dict = field(default_factory=dict)
    interp: Optional[Callable[[], "Case"]] = None  # small Case with impls "ours" and "interpreter"
    note: str = ""

    @property
    def label(self) -> str:
        """`name shape`, the table's first column."""
        return f"{self.name} {self.shape}"

    @property
    def intensity(self) -> float:
        """Arithmetic intensity in flops per byte of minimum traffic."""
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass
class Sizes:
    """Problem sizes of one run of the report."""
    add_n: int
    rows: tuple
    matmul: tuple
    attn: tuple                    # (batch*heads, seq, head dim)
    mlp: tuple                     # (tokens, d_model, d_hidden)
    block: tuple                   # (batch, seq, d_model, heads, d_ff)
    norm_rows: tuple               # (rows, cols) of the softmax/layernorm model
    # interpreter shapes (it is 500-5000x slower than compiled code)
    i_add_n: int
    i_rows: tuple
    i_matmul: int
    i_attn: tuple


SIZES = {
    "full": Sizes(1 << 24, (4096, 1024), (512, 1024, 2048), (16, 1024, 64), (256, 1024, 4096),
                  (8, 256, 512, 8, 2048), (4096, 1024),
                  1 << 18, (64, 1024), 128, (2, 128, 64)),
    "quick": Sizes(1 << 24, (4096, 1024), (512,), (8, 512, 64), (256, 1024, 4096),
                   (8, 256, 512, 8, 2048), (4096, 1024),
                   1 << 16, (16, 1024), 64, (1, 64, 64)),
    # For tests: everything small, every code path the same.  Sizes are not multiples of 16,
    # so Triton specializes the demo kernels differently from `turbine-triton demo`'s shapes
    # (tests/test_cli.py expects its launches to compile, not to hit Triton's in-memory cache).
    "tiny": Sizes(5000, (33, 300), (72,), (2, 80, 16), (16, 64, 128),
                  (2, 16, 32, 2, 64), (32, 64),
                  3000, (5, 300), 40, (1, 40, 16)),
}

DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16"}


def _inductor(fn, *args) -> Fn:
    """Plain `torch.compile` (Inductor's C++ backend on CPU), static shapes."""
    torch._dynamo.reset()
    compiled = torch.compile(fn, dynamic=False)
    return lambda: compiled(*args)


def _interp_case(name, shape, flops, nbytes, metric, ours: Fn, interp: Fn, ref: Fn, tol) -> Case:
    return Case(name, shape, "kernel", flops, nbytes, metric,
                {"ours": lambda: ours, "interpreter": lambda: interp}, ref, tol)


# --- hand-written kernels --------------------------------------------------------------------

def add_case(n: int, block: Optional[int] = 1024, interp_n: Optional[int] = None) -> Case:
    """Vector add of two fp32 vectors; `block=None` lets `triton.autotune` pick BLOCK."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, generator=g), torch.randn(n, generator=g)
    ours_out, eager_out, ind_out = torch.empty(n), torch.empty(n), torch.empty(n)
    ours = (lambda: bk.add_tuned(x, y, ours_out)) if block is None else \
        (lambda: demo.add(x, y, ours_out, BLOCK=block))
    return Case("add", f"{count_name(n)} fp32", "kernel", n, 12 * n, "GB/s", {
        "ours": lambda: ours,
        "eager": lambda: (lambda: torch.add(x, y, out=eager_out)),
        "inductor_cpp": lambda: _inductor(_add_out, x, y, ind_out),
    }, lambda: x + y, {}, (lambda: add_interp_case(interp_n, block)) if interp_n else None,
        note="" if block == 1024 else "autotuned BLOCK" if block is None else f"BLOCK={block}")


def _add_out(x, y, out):
    # Into `out`, like ours and eager's torch.add(out=): Inductor fuses the copy into its kernel.
    # Returning a fresh x + y instead costs a 64 MiB allocation per call (fresh pages: ~5x slower).
    out.copy_(x + y)
    return out


def add_interp_case(n, block) -> Case:
    """`add` at a small shape: ours and Triton's interpreter on the same inputs."""
    x, y = torch.randn(n), torch.randn(n)
    a, b = torch.empty(n), torch.empty(n)
    grid = (triton.cdiv(n, block),)
    return _interp_case("add", f"{count_name(n)} fp32", n, 12 * n, "GB/s",
                        lambda: demo.add(x, y, a, BLOCK=block),
                        lambda: (interpret(demo.add_kernel, grid, x, y, b, n, BLOCK=block), b)[1],
                        lambda: x + y, {})


def _row_inputs(rows, cols, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(rows, cols, generator=g), torch.randn(cols, generator=g),
            torch.randn(cols, generator=g))


def softmax_case(rows: int, cols: int, interp_rows=None) -> Case:
    """Row softmax, one program per row."""
    x, _, _ = _row_inputs(rows, cols)
    out = torch.empty_like(x)
    n = rows * cols
    # flops: max, subtract, exp, sum, divide per element (exp counted as one).
    return Case("softmax", f"{rows}x{cols} fp32", "kernel", 5 * n, 8 * n, "GB/s", {
        "ours": lambda: (lambda: demo.softmax(x, out)),
        "eager": lambda: (lambda: torch.softmax(x, -1)),
        "inductor_cpp": lambda: _inductor(_softmax, x),
    }, lambda: torch.softmax(x, -1), {},
        (lambda: softmax_interp_case(*interp_rows)) if interp_rows else None)


def _softmax(x):
    return torch.softmax(x, -1)


def softmax_interp_case(rows, cols) -> Case:
    """`softmax` at a small shape: ours and Triton's interpreter."""
    x, _, _ = _row_inputs(rows, cols)
    a, b = torch.empty_like(x), torch.empty_like(x)
    n = rows * cols
    return _interp_case("softmax", f"{rows}x{cols} fp32", 5 * n, 8 * n, "GB/s",
                        lambda: demo.softmax(x, a),
                        lambda: (interpret(demo.softmax_kernel, (rows,), x, b, cols, cols, cols,
                                           BLOCK=triton.next_power_of_2(cols)), b)[1],
                        lambda: torch.softmax(x, -1), {})


_NORM_TOL = {"rtol": 1e-4, "atol": 1e-4}


def layernorm_case(rows: int, cols: int, interp_rows=None) -> Case:
    """Layer norm with weight and bias over the last dim, one program per row."""
    x, w, b = _row_inputs(rows, cols)
    out = torch.empty_like(x)
    n = rows * cols
    ref = lambda: F.layer_norm(x, (cols,), w, b, 1e-5)  # noqa: E731
    return Case("layernorm", f"{rows}x{cols} fp32", "kernel", 8 * n, 8 * n + 8 * cols, "GB/s", {
        "ours": lambda: (lambda: demo.layernorm(x, w, b, 1e-5, out)),
        "eager": lambda: ref,
        "inductor_cpp": lambda: _inductor(_layernorm, x, w, b),
    }, ref, _NORM_TOL, (lambda: layernorm_interp_case(*interp_rows)) if interp_rows else None)


def _layernorm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, 1e-5)


def layernorm_interp_case(rows, cols) -> Case:
    """`layernorm` at a small shape: ours and Triton's interpreter."""
    x, w, bias = _row_inputs(rows, cols)
    a, b = torch.empty_like(x), torch.empty_like(x)
    n = rows * cols
    block = min(demo.LN_BLOCK, triton.next_power_of_2(cols))
    return _interp_case("layernorm", f"{rows}x{cols} fp32", 8 * n, 8 * n + 8 * cols, "GB/s",
                        lambda: demo.layernorm(x, w, bias, 1e-5, a),
                        lambda: (interpret(demo.layernorm_kernel, (rows,), x, w, bias, b, cols, cols,
                                           1e-5, BLOCK=block), b)[1],
                        lambda: F.layer_norm(x, (cols,), w, bias, 1e-5), _NORM_TOL)


def rmsnorm_case(rows: int, cols: int, interp_rows=None) -> Case:
    """RMS norm with weight over the last dim, one program per row."""
    x, w, _ = _row_inputs(rows, cols)
    out = torch.empty_like(x)
    n = rows * cols
    ref = lambda: F.rms_norm(x, (cols,), w, 1e-6)  # noqa: E731
    return Case("rmsnorm", f"{rows}x{cols} fp32", "kernel", 4 * n, 8 * n + 4 * cols, "GB/s", {
        "ours": lambda: (lambda: bk.rmsnorm(x, w, 1e-6, out)),
        "eager": lambda: ref,
        "inductor_cpp": lambda: _inductor(_rmsnorm, x, w),
    }, ref, _NORM_TOL, (lambda: rmsnorm_interp_case(*interp_rows)) if interp_rows else None)


def _rmsnorm(x, w):
    return F.rms_norm(x, (x.shape[-1],), w, 1e-6)


def rmsnorm_interp_case(rows, cols) -> Case:
    """`rmsnorm` at a small shape: ours and Triton's interpreter."""
    x, w, _ = _row_inputs(rows, cols)
    a, b = torch.empty_like(x), torch.empty_like(x)
    n = rows * cols
    block = min(bk.RMS_BLOCK, triton.next_power_of_2(cols))
    return _interp_case("rmsnorm", f"{rows}x{cols} fp32", 4 * n, 8 * n + 4 * cols, "GB/s",
                        lambda: bk.rmsnorm(x, w, 1e-6, a),
                        lambda: (interpret(bk.rmsnorm_kernel, (rows,), x, w, b, cols, cols, 1e-6,
                                           BLOCK=block), b)[1],
                        lambda: F.rms_norm(x, (cols,), w, 1e-6), _NORM_TOL)


def _mm_tol(dtype, k):
    # Tiles sum K in another order than BLAS; bf16 outputs round to 8 mantissa bits.
    if dtype == torch.bfloat16:
        return {"rtol": 2e-2, "atol": 2e-2 * k ** 0.5}
    return {"rtol": 1e-4, "atol": 1e-4 * k ** 0.5}


def matmul_case(m: int, dtype=torch.float32, interp_m=None) -> Case:
    """Square `m`^3 matmul through `tl.dot` (fp32 accumulator, output in the input dtype)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(m, m, generator=g).to(dtype)
    b = torch.randn(m, m, generator=g).to(dtype)
    ours_out, eager_out = torch.empty(m, m, dtype=dtype), torch.empty(m, m, dtype=dtype)
    es = a.element_size()
    interp = None
    if interp_m and dtype == torch.float32:
        interp = lambda: matmul_interp_case(interp_m)  # noqa: E731
    return Case("matmul", f"{m}^3 {DTYPE_NAMES[dtype]}", "kernel", 2 * m ** 3, 3 * m * m * es, "GFLOP/s", {
        "ours": lambda: (lambda: demo.matmul(a, b, ours_out)),
        "eager": lambda: (lambda: torch.mm(a, b, out=eager_out)),
        "inductor_cpp": lambda: _inductor(torch.mm, a, b),
    }, lambda: a.float() @ b.float(), _mm_tol(dtype, m), interp,
        note="" if interp_m is None or interp else "interpreter: no bf16 (it stores bf16 as uint16)")


def matmul_interp_case(m) -> Case:
    """fp32 `matmul` at a small shape: ours and Triton's interpreter."""
    a, b = torch.randn(m, m), torch.randn(m, m)
    c1, c2 = torch.empty(m, m), torch.empty(m, m)
    grid = (triton.cdiv(m, demo.MM_BM), triton.cdiv(m, demo.MM_BN))
    run = lambda: interpret(demo.matmul_kernel, grid, a, b, c2, m, m, m, m, 1, m, 1, m, 1,  # noqa: E731
                            BM=demo.MM_BM, BN=demo.MM_BN, BK=demo.MM_BK)
    return _interp_case("matmul", f"{m}^3 fp32", 2 * m ** 3, 12 * m * m, "GFLOP/s",
                        lambda: demo.matmul(a, b, c1), lambda: (run(), c2)[1],
                        lambda: a @ b, _mm_tol(torch.float32, m))


def _attn_inputs(bh, seq, d):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(bh, seq, d, generator=g) for _ in range(3)]


_ATTN_TOL = {"rtol": 1e-4, "atol": 1e-4}


def attention_case(bh: int, seq: int, d: int, interp_shape=None) -> Case:
    """Non-causal flash-attention forward (online softmax, `tl.dot`) on [B*H, S, D] fp32."""
    q, k, v = _attn_inputs(bh, seq, d)
    out = torch.empty_like(q)
    ref = lambda: bk.attention_reference(q, k, v)  # noqa: E731
    flops = 4 * bh * seq * seq * d   # q k^T and p v; softmax flops not counted
    return Case("attention", f"bh{bh} s{seq} d{d} fp32", "kernel", flops, 16 * bh * seq * d,
                "GFLOP/s", {
                    "ours": lambda: (lambda: bk.attention(q, k, v, out)),
                    "eager": lambda: ref,
                    "inductor_cpp": lambda: _inductor(bk.attention_reference, q, k, v),
                }, ref, _ATTN_TOL,
                (lambda: attention_interp_case(*interp_shape)) if interp_shape else None)


def attention_interp_case(bh, seq, d) -> Case:
    """`attention` at a small shape: ours and Triton's interpreter."""
    q, k, v = _attn_inputs(bh, seq, d)
    a, b = torch.empty_like(q), torch.empty_like(q)
    grid = (triton.cdiv(seq, bk.ATTN_BM), bh)
    run = lambda: interpret(bk.attention_fwd_kernel, grid, q, k, v, b, seq,  # noqa: E731
                            bk.LOG2E / d ** 0.5, q.stride(0), q.stride(1),
                            BM=bk.ATTN_BM, BN=bk.ATTN_BN, D=d)
    return _interp_case("attention", f"bh{bh} s{seq} d{d} fp32", 4 * bh * seq * seq * d,
                        16 * bh * seq * d, "GFLOP/s", lambda: bk.attention(q, k, v, a),
                        lambda: (run(), b)[1], lambda: bk.attention_reference(q, k, v), _ATTN_TOL)


# --- Inductor-generated kernels ---------------------------------------------------------------

class NormHeavy(nn.Module):
    """Softmax and layernorm dominate: attention-score style rows."""

    def __init__(self, d=256):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.ln2 = nn.LayerNorm(d)

    def forward(self, x):
        y = torch.softmax(self.ln1(x) * 0.125, dim=-1)
        return self.ln2(y + x) * torch.sigmoid(x)


class ColumnMean(nn.Module):
    """An outer reduction: Inductor's tile reads x contiguously and r with a stride.  A mean,
    so that float rounding in the 4096-term sums stays far below the report's tolerance."""

    def forward(self, x):
        return x.mean(0)


def _index_models(name: str, rows: int, cols: int):
    """Inductor's other index patterns, sized from the norm rows: per-channel parameters
    (eval batch norm), a row index read from memory (embedding), pooling windows, an outer
    reduction."""
    n, ch = max(1, rows // 256), max(4, cols // 16)
    if name == "batchnorm":
        bn = nn.BatchNorm2d(ch).eval()
        with torch.no_grad():
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 1.5)
        return bn, torch.randn(n, ch, 32, 32)
    if name == "embedding":
        return nn.Embedding(1000, cols // 2), torch.randint(0, 1000, (rows,))
    if name == "avgpool":
        return nn.AvgPool2d(2), torch.randn(n, ch, 64, 64)
    if name == "colmean":
        return ColumnMean(), torch.randn(rows, cols)
    raise KeyError(name)


def make_model(name: str, sizes: Sizes):
    """`(model, input)` for one of `MODELS`, seeded."""
    torch.manual_seed(0)
    if name == "mlp":
        t, d, h = sizes.mlp
        return nn.Sequential(nn.Linear(d, h), nn.GELU(), nn.Linear(h, d)), torch.randn(t, d)
    if name == "transformer":
        b, s, d, heads, ff = sizes.block
        # train() with dropout 0: eval() takes the fused fast path and compiles nothing
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True).train()
        return layer, torch.randn(b, s, d)
    if name == "softmax_layernorm":
        r, c = sizes.norm_rows
        return NormHeavy(c), torch.randn(r, c)
    return _index_models(name, *sizes.norm_rows)


MODELS = ("mlp", "transformer", "softmax_layernorm", "batchnorm", "embedding", "avgpool", "colmean")
# Models compiled again with mode="max-autotune-no-cudagraphs", ours and Inductor C++'s alike:
# GEMMs become Triton templates through us where they beat ATen's (`plugin/gemm_templates.py`).
AUTOTUNE_MODE = "max-autotune-no-cudagraphs"
AUTOTUNED = ("mlp", "transformer")
AUTOTUNED_SUFFIX = "_max_autotune"
# Models also timed as a training step (forward with autograd, then backward), default mode:
# the other model rows time inference (the report runs under no_grad).  A training forward
# saves activations and masks for the backward, and the backward graph is Inductor's too.
TRAINED = ("mlp", "transformer")
TRAINED_SUFFIX = "_train"


def _training_step(model, fn, x) -> Fn:
    """One training step of `fn` (the model, compiled or not): forward with autograd, backward
    of the output's sum into fresh gradients.  Returns the output and every gradient, flattened
    into one tensor, so a check covers the backward too (the concatenation is the same small
    copy for every implementation)."""
    params = [p for p in model.parameters() if p.requires_grad]

    def step():
        for p in params:
            p.grad = None
        with torch.enable_grad():
            y = fn(x)
            y.sum().backward()
        return torch.cat([y.detach().reshape(-1)] + [p.grad.reshape(-1) for p in params])
    return step


def _compiled(model, x, train: bool = False, **kw) -> Fn:
    """`model` compiled with `torch.compile(**kw)`, called on `x` (a training step with `train`)."""
    torch._dynamo.reset()
    fn = torch.compile(model, **kw)
    return _training_step(model, fn, x) if train else (lambda: fn(x))


def model_case(name: str, sizes: Sizes, mode: Optional[str] = None, train: bool = False) -> Case:
    """A torch model compiled with `backend="turbine_triton"` (ours) vs plain torch.compile vs eager,
    both compiles in torch.compile `mode` when given (the name then gains `AUTOTUNED_SUFFIX`).
    With `train`, each call is a training step (`_training_step`; the name gains `TRAINED_SUFFIX`).

    Flops are counted by torch's FlopCounterMode on the eager forward, or forward and backward
    (matmuls and attention only); bytes are parameters + input + output, read or written once
    (and the gradients written, in training)."""
    from torch.utils.flop_counter import FlopCounterMode
    model, x = make_model(name, sizes)
    with FlopCounterMode(display=False) as counter:
        if train:
            y = _training_step(model, model, x)()
        else:
            with torch.no_grad():
                y = model(x)
    flops = counter.get_total_flops()
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters()) * (2 if train else 1)
    nbytes += x.numel() * x.element_size() + y.numel() * y.element_size()
    dtype = "fp32" if x.is_floating_point() else f"{str(x.dtype).split('.')[-1]} -> fp32"
    shape = "x".join(map(str, x.shape)) + " " + dtype
    kw = {"mode": mode} if mode else {}
    eager = _training_step(model, model, x) if train else (lambda: model(x))
    impls = {"ours": lambda: _compiled(model, x, train, backend="turbine_triton", **kw),
             "eager": lambda: eager,
             "inductor_cpp": lambda: _compiled(model, x, train, **kw)}
    suffix = (AUTOTUNED_SUFFIX if mode else "") + (TRAINED_SUFFIX if train else "")
    # gradients of 1e6-term sums: a looser tolerance than the forward's
    tol = {"rtol": 1e-3, "atol": 1e-3} if train else {"rtol": 1e-4, "atol": 1e-4}
    return Case(name + suffix, shape, "model", flops, nbytes, "GFLOP/s" if flops else "GB/s",
                impls, eager, tol)


# --- the list ----------------------------------------------------------------------------------

def cases(sizes: Sizes, interpreter: bool = True) -> List[Callable[[], Case]]:
    """Factories of every workload of the report, in table order."""
    s = sizes
    r, c = s.rows
    ir = s.i_rows if interpreter else None
    out = [
        lambda: add_case(s.add_n, interp_n=s.i_add_n if interpreter else None),
        lambda: softmax_case(r, c, ir),
        lambda: layernorm_case(r, c, ir),
        lambda: rmsnorm_case(r, c, ir),
    ]
    for dtype in (torch.float32, torch.bfloat16):
        for i, m in enumerate(s.matmul):
            # the interpreter row goes with the first size only
            im = s.i_matmul if interpreter and i == 0 else None
            out.append(lambda m=m, dtype=dtype, im=im: matmul_case(m, dtype, im))
    out.append(lambda: attention_case(*s.attn, s.i_attn if interpreter else None))
    out += [lambda name=name: model_case(name, s) for name in MODELS]
    out += [lambda name=name: model_case(name, s, AUTOTUNE_MODE) for name in AUTOTUNED]
    out += [lambda name=name: model_case(name, s, train=True) for name in TRAINED]
    return out


def count_name(n: int) -> str:
    """5000 -> "5000", 1 << 24 -> "16M"."""
    for unit, size in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)
