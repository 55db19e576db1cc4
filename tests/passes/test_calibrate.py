"""Calibration: measured activity matches the reference trace; nothing computed changes."""

from __future__ import annotations

import numpy as np
from testkit.digits_net import digits_like, digits_x
from testkit.pass_nets import conv_net, if_chain

from snnc.cost.model import rate_bounds
from snnc.passes.calibrate import CALIBRATION_KEYS, calibrate
from snnc.reference.simulate import simulate


def test_rates_and_gamma_are_those_of_the_reference_trace():
    graph, x = digits_like(), digits_x()
    trace = simulate(graph, x)
    cal = calibrate(graph, x)
    spikes = trace.spikes["lif1"]
    lif1 = cal.layer("lif1")
    assert lif1.attrs["spike_rate_out"] == float(spikes.mean(dtype=np.float64))
    assert lif1.attrs["gamma_out"] == float(np.mean(spikes.sum(axis=0) == 0))
    assert np.array_equal(lif1.attrs["active"], spikes.any(axis=(0, 1)))
    # the stage of lif2 reads lif1: its input rate is lif1's output rate
    assert cal.layer("lif2").attrs["spike_rate_in"] == lif1.attrs["spike_rate_out"]
    assert cal.layer("fc2").attrs["gamma"] == lif1.attrs["gamma_out"]
    assert cal.input.attrs["calib_samples"] == x.shape[0]


def test_calibration_changes_no_output():
    graph, x = conv_net(), np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    before = simulate(graph, x)
    after = simulate(calibrate(graph, x), x)
    assert np.array_equal(before.output, after.output)
    calibrated = calibrate(graph, x)
    assert all(CALIBRATION_KEYS[0] in lay.attrs for lay in calibrated.neurons())
    assert not any(CALIBRATION_KEYS[0] in lay.attrs for lay in graph.layers)


def test_measured_rates_obey_the_theorem_2_bounds():
    """(1 - gamma)/T <= s_r <= 1 - gamma for every binary-spike population."""
    graph, x = digits_like(), digits_x()
    cal = calibrate(graph, x)
    for name in ("lif1", "lif2"):
        attrs = cal.layer(name).attrs
        lo, hi = rate_bounds(attrs["gamma_out"], graph.timesteps)
        assert lo - 1e-12 <= attrs["spike_rate_out"] <= hi + 1e-12


def test_twin_conditions_are_checked_on_the_data():
    rng = np.random.default_rng(4)
    graph = if_chain(rng, (12, 8))
    cal = calibrate(graph, rng.random((10, 12)).astype(np.float32))
    assert cal.layer("if0").attrs["twin_exact"] is True
    leaky = calibrate(digits_like(), digits_x()[:20]).layer("lif1").attrs
    assert leaky["twin_exact"] is False and "leak" in leaky["twin_note"]


def test_recalibration_replaces_stale_annotations():
    graph, x = digits_like(), digits_x()
    once = calibrate(graph, x[:50])
    quiet = calibrate(once, x[:50] * 0.0)
    assert quiet.layer("lif1").attrs["spike_rate_out"] == 0.0
    assert quiet.input.attrs["calib_samples"] == 50
