"""The QNN twin: equivalence theorem (float and integer), its conditions, and mapped runs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit.digits_net import digits_like
from testkit.pass_nets import conv_net, if_chain

from snnc.cost.twins import structural_exactness, twin_blocker
from snnc.errors import UnsupportedError
from snnc.ir.layers import LIF, Add, Dense, Graph, Input, MultiLevelSpike, Pool2d
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.passes.quantize import QuantizeOptions, quantize
from snnc.passes.snn_to_qnn import check_twin, convert, convert_quantized
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.reference.mapped import run_mapped, run_mapped_quantized, spread
from snnc.reference.simulate import run_graph
from snnc.target import load_target

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _spike_train(rng: np.random.Generator, steps: int, batch: int, n: int,
                 p: float) -> np.ndarray:
    return (rng.random((steps, batch, n)) < p).astype(np.float32)


def _one_if(theta: float, compare: str, timing: str, w: np.ndarray, b: float,
            beta: float = 1.0, reset: str = "subtract") -> Graph:
    return Graph((Input("x", (), shape=(w.shape[1],)),
                  Dense("fc", ("x",), weight=w.astype(np.float32)),
                  LIF("n", ("fc",), beta=np.float32(beta), threshold=np.float32(theta),
                      bias=np.float32(b), reset=reset, reset_timing=timing, compare=compare)),
                 output="n", timesteps=8, encoding="rate")


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 16),
       timing=st.sampled_from(["same", "next"]), p=st.floats(0.05, 0.95))
def test_float_twin_reproduces_if_spike_counts_when_input_in_range(seed, steps, timing, p):
    """Theorem 1: IF + reset by subtraction + per-step input in [0, theta) -> equal counts."""
    rng = np.random.default_rng(seed)
    n_in, n_out = 12, 7
    units = rng.integers(0, 4, (n_out, n_in))
    quantum = 2.0 ** -6
    while units.sum(axis=1).max() * quantum >= 0.75:
        units //= 2
    bias = float(rng.integers(0, 16)) * quantum  # row sum + bias < 1 = theta
    graph = _one_if(1.0, "ge", timing, units * quantum, bias)
    drive = _spike_train(rng, steps, 5, n_in, p)
    snn = run_graph(graph, drive).spikes["n"].sum(axis=0)
    twin = run_mapped(convert(graph, ["n"], steps=steps), drive).counts["n"]
    assert np.array_equal(twin, snn)


def _int_graph(rng: np.random.Generator, compare: str, timing: str, shifts: int,
               steps: int) -> tuple[QuantizedGraph, np.ndarray]:
    """An integer IF layer built directly from integers, per-step input in [0, theta)."""
    n_in, n_out = 10, 6
    vth = int(rng.integers(20, 200))
    theta = vth << shifts  # the profile shifts both current and threshold by `shifts`
    w = rng.integers(0, 8, (n_out, n_in))
    limit = vth if compare == "gt" else vth - 1  # max per-step current in input units
    while w.sum(axis=1).max() > limit // 2:
        w //= 2
    b_syn = rng.integers(0, limit // 4 + 1, n_out)
    b_n = int(rng.integers(0, limit // 4 + 1))
    graph = _one_if(float(vth), compare, timing, w.astype(np.float64), float(b_n))
    graph = graph.replace_layers([
        graph.layers[0], Dense("fc", ("x",), weight=w.astype(np.float32),
                               bias=b_syn.astype(np.float32)), graph.layers[2]])
    profile = NumericProfile(input_shift=shifts, threshold_shift=shifts, synapse_delay=0,
                             decay_bits=12, state_bits=32)
    layers = {"x": QuantLayer(), "fc": QuantLayer(weight=w, bias=b_syn),
              "n": QuantLayer(dv=np.asarray(0), vth=np.asarray(vth), bias=np.asarray(b_n))}
    assert theta > 0
    drive = _spike_train(rng, steps, 4, n_in, 0.5)
    return QuantizedGraph(graph, profile, layers, input_scale=1.0), drive


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 16),
       compare=st.sampled_from(["ge", "gt"]), timing=st.sampled_from(["same", "next"]),
       shifts=st.sampled_from([0, 6]))
def test_integer_twin_is_bit_exact_for_both_comparisons(seed, steps, compare, timing, shifts):
    rng = np.random.default_rng(seed)
    qg, drive = _int_graph(rng, compare, timing, shifts, steps)
    snn = run_quantized(qg, drive).spikes["n"].sum(axis=0)
    twin = run_mapped_quantized(convert_quantized(qg, ["n"], steps=steps), drive).counts["n"]
    assert np.array_equal(twin, snn)


def test_twin_of_quantized_network_matches_integer_snn_on_a_target_profile():
    rng = np.random.default_rng(11)
    graph = if_chain(rng, (16, 24, 10), steps=8)
    x = rng.random((40, 16)).astype(np.float32)
    drive = encode(x, 8, "rate", (16,))
    target = load_target("cortex-m4")
    qg = quantize(graph, target.numeric, options=QuantizeOptions(input_scale=1.0))
    snn = run_quantized(qg, drive)
    twin = run_mapped_quantized(convert_quantized(qg), drive)
    for name in ("if0", "if1"):
        assert np.array_equal(twin.counts[name], snn.spikes[name].sum(axis=0))
    assert snn.spikes["if1"].sum() > 0  # the comparison is not between silent layers


def test_twin_weights_stay_bit_identical_and_only_biases_move():
    rng = np.random.default_rng(2)
    graph = if_chain(rng, (8, 6, 4))
    qg = quantize(graph, load_target("cortex-m4").numeric,
                  options=QuantizeOptions(input_scale=1.0))
    twin = convert_quantized(qg)
    for name in ("fc0", "fc1"):
        assert np.array_equal(twin.q(name).weight, qg.q(name).weight)
    assert isinstance(twin.graph.layer("if0"), MultiLevelSpike)
    assert twin.graph.layer("if0").levels == graph.timesteps
    assert twin.graph.layer("if0").attrs["mapping"] == "qnn"


@pytest.mark.parametrize(("beta", "reset", "currents", "why"), [
    (0.5, "subtract", [0.5] * 4, "leak"),
    (1.0, "zero", [0.75] * 4, "reset to zero"),
    (1.0, "subtract", [1.0, -1.0, 1.0, -1.0], "negative input"),
    (1.0, "subtract", [0.0, 0.0, 0.0, 3.5], "input above theta"),
])
def test_twin_differs_when_a_condition_is_violated(beta, reset, currents, why):
    """Each condition of the theorem is needed: one counterexample per condition."""
    graph = _one_if(1.0, "ge", "same", np.ones((1, 1)), 0.0, beta=beta, reset=reset)
    drive = np.asarray(currents, np.float32).reshape(-1, 1, 1)
    graph = graph.replace_layers(graph.layers, timesteps=len(currents))
    snn = run_graph(graph, drive).spikes["n"].sum(axis=0)
    twin = run_mapped(convert(graph, ["n"]), drive).counts["n"]
    assert not np.array_equal(twin, snn), why


def test_check_twin_measures_the_conditions_on_data():
    rng = np.random.default_rng(5)
    graph = if_chain(rng, (10, 6))
    drive = _spike_train(rng, 8, 3, 10, 0.5)
    assert check_twin(graph, "if0", drive).exact
    hot = graph.with_layer(Dense("fc0", ("x",), weight=np.full((6, 10), 0.5, np.float32)))
    result = check_twin(hot, "if0", drive)
    assert not result.exact and "outside" in result.note


def test_structural_exactness_names_what_makes_a_twin_approximate():
    leaky = digits_like().layer("lif1")
    assert "leak" in structural_exactness(leaky) and "reset" in structural_exactness(leaky)
    exact = if_chain(np.random.default_rng(0), (4, 3)).layer("if0")
    assert structural_exactness(exact) is None


def test_layers_without_a_twin_say_why():
    g = conv_net()
    assert twin_blocker(g, "pool") is not None
    assert "max pooling" in twin_blocker(
        g.with_layer(Pool2d("pool", ("lc",), pool="max", kernel=(2, 2), stride=(2, 2))),
        "out")
    base = if_chain(np.random.default_rng(0), (4, 3))
    mls = base.with_layer(MultiLevelSpike("if0", ("fc0",), levels=4, axis=None, theta=1.0))
    assert "multi-level" in twin_blocker(mls, "if0")
    vector = base.with_layer(LIF("if0", ("fc0",), threshold=np.array([1, 2, 1], np.float32)))
    assert "per-neuron thresholds" in twin_blocker(vector, "if0")
    with pytest.raises(UnsupportedError, match="if0"):
        convert(mls, ["if0"])


def test_shared_synapse_blocks_the_twin():
    base = if_chain(np.random.default_rng(0), (4, 3))
    shared = Graph((*base.layers, Add("sum", ("fc0", "if0"))), output="sum",
                   timesteps=base.timesteps, encoding=base.encoding)
    assert "other consumers" in twin_blocker(shared, "if0")


def test_qnn_layer_feeding_snn_layer_keeps_counts_under_the_conditions():
    """Mixed mapping: layer 1 as QNN, layer 2 as SNN on the re-spread counts."""
    rng = np.random.default_rng(9)
    graph = if_chain(rng, (16, 12, 8), steps=8)
    drive = _spike_train(rng, 8, 6, 16, 0.6)
    snn = run_graph(graph, drive)
    mixed = run_mapped(convert(graph, ["if0"]), drive)
    for name in ("if0", "if1"):
        assert np.array_equal(mixed.counts[name], snn.spikes[name].sum(axis=0))
    assert snn.spikes["if1"].sum() > 0


@pytest.mark.parametrize("target", ["cortex-m4", "loihi2", "spinnaker2"])
def test_layer_by_layer_execution_equals_step_by_step_for_snn_graphs(target):
    """With no QNN layer the mapped executor is a second implementation of the reference."""
    graph = conv_net()
    rng = np.random.default_rng(1)
    drive = encode(rng.random((5, 1, 8, 8)).astype(np.float32), graph.timesteps, "rate",
                   (1, 8, 8))
    float_trace = run_graph(graph, drive)
    mapped = run_mapped(graph, drive)
    qg = quantize(graph, load_target(target).numeric)
    int_trace = run_quantized(qg, drive)
    mapped_int = run_mapped_quantized(qg, drive)
    for name in ("lc", "out"):
        assert np.array_equal(mapped.counts[name], float_trace.spikes[name].sum(axis=0))
        assert np.array_equal(mapped_int.counts[name], int_trace.spikes[name].sum(axis=0))


def test_mapped_run_rejects_a_qnn_annotation_without_conversion():
    graph = digits_like()
    tagged = graph.with_layer(graph.layer("lif1").with_attrs(mapping="qnn"))
    with pytest.raises(UnsupportedError, match="convert"):
        run_mapped(tagged, np.zeros((8, 1, 64), np.float32))


@SETTINGS
@given(counts=st.lists(st.integers(0, 16), min_size=1, max_size=8), steps=st.integers(1, 16))
def test_spread_keeps_each_count_and_stays_binary_up_to_T(counts, steps):
    c = np.minimum(np.asarray(counts), steps)[None]
    train = spread(c, steps, np.float32)
    assert np.array_equal(train.sum(axis=0), c)
    assert set(np.unique(train)) <= {0.0, 1.0}
