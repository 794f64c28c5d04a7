"""The report's warm-path counters see IR work when there is some, and put everything back."""
import torch

from turbine_triton import launchcheck
from turbine_triton.lowering import pipeline


def test_counters_see_a_new_specialization_and_not_a_warm_launch():
    x, y = torch.randn(64), torch.empty(64)
    launchcheck.tiny_kernel[(1,)](x, y, 64, BLOCK=64)
    with launchcheck.counting_ir_work() as warm:
        launchcheck.tiny_kernel[(1,)](x, y, 64, BLOCK=64)
    assert not any(warm.values())
    with launchcheck.counting_ir_work() as cold:
        launchcheck.tiny_kernel[(1,)](x, y, 48, BLOCK=16)   # a new constexpr: a retrace
        launchcheck.tiny_kernel[(1,)](x, y, 48, BLOCK=16)
    assert cold["Triton compiles"] == 1 and cold["module loads"] >= 1
    torch.testing.assert_close(y[:16], x[:16] + 1.0)


def test_originals_restored():
    before = pipeline.lower
    with launchcheck.counting_ir_work():
        assert pipeline.lower is not before
    assert pipeline.lower is before


def test_measure_checks_the_result_and_counts_no_warm_work():
    r = launchcheck.measure(batches=2, calls=5)
    assert r["warm_launches"] == 10 and not any(r["warm_work"].values())
    assert len(r["times_us"]["ours"]) == 2 and r["ours_us"] > 0
