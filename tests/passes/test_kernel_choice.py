"""Event-driven vs dense kernel: chosen from the measured rate against the model's break-even."""

from __future__ import annotations

import math

import numpy as np
import pytest
from testkit.digits_net import digits_like, digits_x

from snnc.cost.model import TYPICAL_NEUROMORPHIC
from snnc.cost.shapes import stage_shape
from snnc.ir.stages import stage_of
from snnc.passes.calibrate import calibrate
from snnc.passes.kernel_choice import choose_kernels, dense_crossover
from snnc.reference.simulate import simulate
from snnc.target import load_target


def test_break_even_is_the_movement_ratio_when_compute_is_zero_gated():
    """Sparse costs E~ per event, dense E per slot: switch at s = E_move / E~_move = 1/eta."""
    graph = digits_like()
    shape = stage_shape(graph, stage_of(graph, "lif1"), load_target("loihi2").numeric)
    cross = dense_crossover(shape, 8, TYPICAL_NEUROMORPHIC)
    assert cross == pytest.approx(1 / TYPICAL_NEUROMORPHIC.eta, rel=1e-12)


@pytest.mark.parametrize("target", ["cortex-m4", "spinnaker2"])
def test_kernel_follows_the_rate_across_the_break_even(target):
    t = load_target(target)
    x = digits_x()[:100]
    busy = choose_kernels(calibrate(digits_like(), x), t).layer("fc1")
    quiet = choose_kernels(calibrate(digits_like(), x * 0.02), t).layer("fc1")
    cross = busy.attrs["kernel_crossover_rate"]
    assert quiet.attrs["kernel"] == "event"
    rate = calibrate(digits_like(), x).layer("fc1").attrs["spike_rate_in"]
    expected = "event" if rate < cross else "dense"
    assert busy.attrs["kernel"] == expected
    assert math.isfinite(cross) and busy.attrs["kernel_reason"]


def test_a_target_with_one_dataflow_gets_its_kernel_at_every_rate():
    """Loihi 2's SNN stages send binary spikes only: the event kernel whatever the rate."""
    t = load_target("loihi2")
    x = digits_x()[:100]
    for scale in (0.02, 1.0):
        fc1 = choose_kernels(calibrate(digits_like(), x * scale), t).layer("fc1")
        assert fc1.attrs["kernel"] == "event"
        assert "only has the event dataflow" in fc1.attrs["kernel_reason"]
        assert math.isnan(fc1.attrs["kernel_crossover_rate"])


def test_kernel_choice_changes_no_output():
    graph, x = calibrate(digits_like(), digits_x()[:30]), digits_x()[:30]
    out = choose_kernels(graph, load_target("loihi2"))
    assert np.array_equal(simulate(graph, x).output, simulate(out, x).output)
