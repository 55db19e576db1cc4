"""Graded LIF output (Sinabs' MultiSpike) in the integer reference: spike counts
``clip(floor(v / theta), 0, max_spikes)`` with a reset by subtraction, the float model's counts
wherever they stay below the profile's limit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from snnc.errors import QuantizationError
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.passes.quantize import quantize
from snnc.reference.integer import graded_fire, run_quantized, run_stepwise
from snnc.reference.simulate import run_graph
from snnc.target import load_target

F32 = np.float32
M4 = load_target("cortex-m4").numeric


@given(st.lists(st.integers(-(1 << 31), 1 << 31), min_size=1, max_size=16),
       st.integers(1, 1 << 20), st.integers(1, 255))
def test_graded_counts_are_the_floor_quotient_clipped_and_keep_the_charge(drives, theta,
                                                                           limit):
    drive = np.array(drives, np.int64)
    counts, v = graded_fire(drive, np.int64(theta), limit)
    assert np.all((counts >= 0) & (counts <= limit))
    assert np.array_equal(v + theta * counts, drive)  # nothing lost: what is not sent stays
    below = counts < limit
    assert np.all(counts[drive <= 0] == 0)
    positive = below & (drive > 0)
    assert np.all((v[positive] >= 0) & (v[positive] < theta))  # floor(v / theta) exactly


def one_graded(profile: NumericProfile, vth: int, dv: int = 0) -> QuantizedGraph:
    graph = Graph((Input("x", (), shape=(1,)),
                   Dense("w", ("x",), weight=np.ones((1, 1), F32)),
                   LIF("g", ("w",), threshold=F32(vth), reset="subtract", compare="ge",
                       graded=True)), output="g", timesteps=4)
    layers = {"x": QuantLayer(), "w": QuantLayer(weight=np.ones((1, 1), np.int64)),
              "g": QuantLayer(dv=np.array(dv), vth=np.array(vth))}
    return QuantizedGraph(graph, profile, layers)


def test_a_count_beyond_max_spikes_saturates_and_the_rest_is_sent_next_steps():
    qg = one_graded(NumericProfile(max_spikes=50), vth=1)
    drive = np.array([127, 127, 0, 0, 0], F32).reshape(5, 1, 1)  # input unit 1
    trace = run_quantized(qg, drive)
    assert trace.output[:, 0, 0].tolist() == [50, 50, 50, 50, 50]
    assert trace.v["g"][:, 0, 0].tolist() == [77, 154, 104, 54, 4]


def test_negative_membrane_sends_nothing_and_keeps_its_value():
    qg = one_graded(M4, vth=4)
    trace = run_quantized(qg, -np.ones((3, 1, 1), F32) * 9)
    assert trace.output.tolist() == [[[0]], [[0]], [[0]]]
    assert trace.v["g"][:, 0, 0].tolist() == [-9, -18, -27]


def integer_net(seed: int) -> tuple[Graph, QuantizedGraph]:
    """A float graph with integer weights and thresholds, and its quantization at unit 1: the
    float run and the integer run compute the same integers (while the counts stay below
    ``max_spikes``)."""
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-6, 9, (7, 5)).astype(F32)
    w2 = rng.integers(-2, 3, (4, 7)).astype(F32)
    th1, th2 = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    graph = Graph((Input("x", (), shape=(5,)), Dense("fc1", ("x",), weight=w1),
                   LIF("g1", ("fc1",), threshold=F32(th1), reset="subtract", compare="ge",
                       graded=True),
                   Dense("fc2", ("g1",), weight=w2),
                   LIF("g2", ("fc2",), threshold=F32(th2), reset="subtract", compare="ge",
                       graded=True)), output="g2", timesteps=6)
    layers = {"x": QuantLayer(), "fc1": QuantLayer(weight=w1.astype(np.int64)),
              "g1": QuantLayer(dv=np.array(0), vth=np.array(th1)),
              "fc2": QuantLayer(weight=w2.astype(np.int64)),
              "g2": QuantLayer(dv=np.array(0), vth=np.array(th2))}
    return graph, QuantizedGraph(graph, M4, layers)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_integer_graded_counts_equal_the_float_model_on_integer_networks(seed):
    graph, qg = integer_net(seed)
    x = np.random.default_rng(seed + 1).integers(0, 6, (6, 3, 5)).astype(F32)
    want = run_graph(graph, x)
    got = run_stepwise(qg, x)
    assume(max(int(s.max()) for s in got.spikes.values()) < M4.max_spikes)  # no saturation
    assert np.array_equal(want.spikes["g1"], got.spikes["g1"].astype(F32))
    assert np.array_equal(want.output, got.output.astype(F32))


def test_a_target_sending_single_spikes_refuses_graded_layers_naming_the_layer():
    graph, _ = integer_net(0)
    with pytest.raises(QuantizationError, match="layer 'g1': graded spikes"):
        quantize(graph, NumericProfile(max_spikes=1))


def test_a_graded_threshold_below_one_unit_is_raised_to_one():
    graph = Graph((Input("x", (), shape=(2,)),
                   Dense("fc", ("x",), weight=np.array([[100.0, -100.0]], F32)),
                   LIF("g", ("fc",), threshold=F32(1e-4), reset="subtract", compare="ge",
                       graded=True)), output="g")
    assert int(quantize(graph, M4).layers["g"].vth) == 1
