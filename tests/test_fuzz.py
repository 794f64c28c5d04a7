"""Differential fuzzing, quick profile: random kernels vs Triton's interpreter, no mismatches.

Kernel sources go to a fixed directory per seed, so their TTIR (whose locations
name the file) and hence their cache keys are the same every run: a warm run
compiles nothing.  Set TURBINE_TRITON_FUZZ_COUNT to run more or fewer kernels.
"""
import os
import tempfile

import torch

from turbine_triton import fuzz

SEED = 20240
# 60, not 200: on this shared 2-core machine a cold 200-kernel run takes well over 6 minutes
COUNT = int(os.environ.get("TURBINE_TRITON_FUZZ_COUNT", "60"))


def test_fuzz_quick_profile():
    out_dir = os.path.join(tempfile.gettempdir(), "turbine_triton_fuzz", f"seed{SEED}")
    lines = []
    summary = fuzz.fuzz(COUNT, SEED, out_dir, log=lines.append)
    report = "\n".join(lines)
    assert summary.count == COUNT
    assert summary.mismatches == 0, report
    # errors: crashes of our backend other than UnsupportedOp (compile failures included)
    assert summary.errors == 0, report
    # the run is not vacuous: almost every kernel ran and was compared
    assert summary.unsupported <= COUNT // 10, report


def test_generator_is_deterministic_and_covers_every_family():
    from turbine_triton.fuzz_gen import generate
    texts = [generate(fuzz.kernel_seed(SEED, i)) for i in range(60)]
    assert texts == [generate(fuzz.kernel_seed(SEED, i)) for i in range(60)]
    joined = "\n".join(texts)
    for needle in ("family ew1d", "family tile2d", "family reduce", "family loop", "family dot", "family rowred",
                   "[:, None]", "[None, :]", "tl.where", "tl.dot", "for k in range", "tl.argmax",
                   "tl.sum", "tl.max", "tl.min", "tl.exp(", "tl.exp2(", "tl.erf(", ".to(tl.", "'float16'", "'bfloat16'", "'int8'", "'int32'",
                   ".t()", "[:, ::2]", "mask="):
        assert needle in joined, needle


def test_compare_catches_wrong_values_and_respects_tolerance():
    ref = torch.tensor([1.0, 2.0, float("nan"), float("inf")])
    assert fuzz.compare(ref.clone(), ref, 1e-5, 1e-5) is None
    assert fuzz.compare(ref + torch.tensor([0, 1e-7, 0, 0]), ref, 1e-5, 1e-5) is None
    assert "1/4 elements differ" in fuzz.compare(ref + torch.tensor([0, 0.5, 0, 0]), ref, 1e-5, 1e-5)
    ints = torch.tensor([1, 2, 3], dtype=torch.int8)
    assert fuzz.compare(ints + torch.tensor([0, 0, 1], dtype=torch.int8), ints, 0.5, 0.5) is not None


_PLANTED = """
import torch, triton, triton.language as tl
RTOL, ATOL = 1e-5, 1e-5
CALLS = []


@triton.jit
def kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 2.0)


def make_args():
    CALLS.append(1)
    x = torch.arange(16, dtype=torch.float32) + (0.5 if len(CALLS) == 2 else 0.0)  # the reference's input differs
    out = torch.zeros(16)
    return (1,), [x, out], dict(BLOCK=16), [x, out]
"""


def test_run_file_reports_a_planted_difference(tmp_path):
    """Inputs that differ between the two runs must show up as a mismatch naming the file."""
    path = tmp_path / "planted.py"
    path.write_text(_PLANTED)
    outcome = fuzz.run_file(str(path))
    assert outcome.status == "mismatch" and outcome.path == str(path), outcome
    assert "buffer 0" in outcome.detail
    ok = tmp_path / "same.py"
    ok.write_text(_PLANTED.replace("0.5 if", "0.0 if"))
    assert fuzz.run_file(str(ok)).status == "ok"
