"""Fixed-point semantics of the integer reference (the specification every backend matches)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.passes.quantize import quantize
from snnc.reference.integer import decay, latency, overflow, round_shift, run_quantized
from snnc.reference.simulate import run_graph
from snnc.target import load_target

LOIHI = load_target("loihi2").numeric


def test_trunc_rounds_toward_zero_and_floor_toward_minus_infinity():
    x = np.array([-4097, -1, 1, 4097], np.int64)
    assert round_shift(x, 12, "trunc").tolist() == [-1, 0, 0, 1]
    assert round_shift(x, 12, "floor").tolist() == [-2, -1, 0, 1]


def test_lava_current_decay_of_minus_one_rounds_to_zero():
    # u = -1, du = 0 with ds_offset 1: -1 * 4095 >> 12 toward zero is 0.
    assert decay(np.array([-1, 1]), np.array(0 + 1), 12, "trunc").tolist() == [0, 0]


def test_wrap_keeps_plus_half_range_and_maps_minus_half_like_lava():
    half = 1 << 23
    x = np.array([half, half + 1, -half, -half + 1], np.int64)
    assert overflow(x, 24, "wrap").tolist() == [half, -half + 1, half, -half + 1]


def test_saturation_is_symmetric():
    half = 1 << 23
    x = np.array([10 * half, -10 * half, 5], np.int64)
    assert overflow(x, 24, "saturate").tolist() == [half - 1, -(half - 1), 5]


@given(st.integers(-(1 << 40), 1 << 40), st.integers(8, 32))
def test_wrap_result_is_congruent_and_in_range(value, bits):
    half = 1 << (bits - 1)
    got = int(overflow(np.array([value], np.int64), bits, "wrap")[0])
    assert -half < got <= half
    assert (got - value) % (1 << bits) == 0


def one_neuron(weight: int, vth: int, dv: int, profile: NumericProfile) -> QuantizedGraph:
    g = Graph((Input("x", (), shape=(1,)), Dense("w", ("x",), weight=np.ones((1, 1), np.float32)),
               LIF("n", ("w",), beta=np.float32(1), threshold=np.float32(1))),
              output="n", timesteps=4)
    layers = {"x": QuantLayer(), "w": QuantLayer(weight=np.array([[weight]], np.int64)),
              "n": QuantLayer(dv=np.array(dv), vth=np.array(vth))}
    return QuantizedGraph(g, profile, layers)


def test_spike_needs_membrane_strictly_above_shifted_threshold():
    # input 1 << 6 = 64 per step; vth 2 << 6 = 128: v = 64, 128 (equal: no spike), 192 (spike)
    qg = one_neuron(weight=1, vth=2, dv=0, profile=LOIHI)
    drive = np.ones((5, 1, 1), np.float32)
    trace = run_quantized(qg, drive)
    assert trace.v["n"][:, 0, 0].tolist() == [0, 64, 128, 0, 64]
    assert trace.output[:, 0, 0].tolist() == [0, 0, 0, 1, 0]


def test_each_synaptic_stage_adds_the_profile_delay():
    qg = one_neuron(weight=5, vth=1, dv=0, profile=LOIHI)
    drive = np.zeros((3, 1, 1), np.float32)
    drive[0] = 1
    trace = run_quantized(qg, drive)
    assert trace.output[:, 0, 0].tolist() == [0, 1, 0]
    assert latency(qg.graph, LOIHI) == 1
    assert latency(qg.graph, load_target("cortex-m4").numeric) == 0


def random_net(seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    return Graph((
        Input("x", (), shape=(20,)),
        Dense("fc1", ("x",), weight=rng.normal(0, 0.4, (30, 20)).astype(np.float32)),
        LIF("l1", ("fc1",), beta=np.float32(0.875), threshold=np.float32(1.0)),
        Dense("fc2", ("l1",), weight=rng.normal(0, 0.4, (8, 30)).astype(np.float32)),
        LIF("l2", ("fc2",), beta=np.float32(0.75), threshold=np.float32(1.0)),
    ), output="l2", timesteps=16, encoding="rate")


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["cortex-m4", "loihi2", "spinnaker2"]))
def test_integer_spikes_agree_with_float_after_the_latency(seed, target):
    graph = random_net(seed)
    profile = load_target(target).numeric
    x = np.random.default_rng(seed + 1).random((16, 20))
    from snnc.reference.encode import rate_code

    lag = latency(graph, profile)
    drive = rate_code(x, 16 + lag)
    ref = run_graph(graph, drive[:16]).output
    got = run_quantized(quantize(graph, profile), drive).output[lag:]
    assert np.mean(ref == got) > 0.95
