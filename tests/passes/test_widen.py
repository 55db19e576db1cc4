"""Weights and inputs wider than the target's 8 bits: two members of one current, chosen by the
fidelity search only where 8 bits miss the agreement goal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snnc import api
from snnc.frontend.nir import load_nir
from snnc.ir.layers import LIF, Add, Dense, Graph, Input
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.passes.fidelity import (
    FIDELITY_GOAL,
    FIDELITY_MARGIN,
    choose_scales,
    spike_agreement,
    widenable_groups,
)
from snnc.passes.quantize import QuantizeOptions, StageScale, quantize, stage_groups
from snnc.passes.widen import is_wide_member, split_mantissas
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.simulate import run_graph
from snnc.reference.timing import model_drive
from snnc.target import load_target

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "frameworks"
F32 = np.float32
M4 = load_target("cortex-m4")


def _net(seed: int = 0) -> tuple[Graph, np.ndarray]:
    """Real-valued input -> Dense -> LIF -> Dense -> LIF, weights of every magnitude."""
    rng = np.random.default_rng(seed)
    layers = (Input("x", (), shape=(6,)),
              Dense("fc1", ("x",), weight=rng.normal(0, 1, (8, 6)).astype(F32),
                    bias=rng.normal(0, 0.1, 8).astype(F32)),
              LIF("h", ("fc1",), beta=F32(0.9), threshold=F32(0.7)),
              Dense("fc2", ("h",), weight=rng.normal(0, 0.5, (4, 8)).astype(F32)),
              LIF("out", ("fc2",), beta=F32(0.8), threshold=F32(0.4)))
    x = rng.normal(0, 1, (5, 6)).astype(F32)
    return Graph(layers, output="out", timesteps=6), x


def _widened(graph: Graph, x: np.ndarray, extra: int, input_bits: int | None = None,
             profile=M4.numeric) -> QuantizedGraph:
    roots = stage_groups(quantize(graph, profile, calib=x).graph)
    options = QuantizeOptions(stages={r: StageScale(widen=extra) for r in roots},
                              input_bits=input_bits)
    return quantize(graph, profile, calib=x, options=options)


@given(extra=st.integers(1, 6), data=st.data())
def test_split_mantissas_are_exact_and_each_fits_the_target_width(extra, data):
    peak = 127 << extra
    m = np.array(data.draw(st.lists(st.integers(-peak, peak), min_size=1, max_size=16)))
    high, low = split_mantissas(m, extra)
    assert np.array_equal((high << extra) + low, m)
    assert np.max(np.abs(high)) <= 127
    assert np.all(low >= -(1 << (extra - 1))) and np.all(low < 1 << (extra - 1))


@pytest.mark.parametrize("extra", [1, 2, 4])
def test_a_widened_layer_is_a_high_and_a_low_int8_member_summed_under_its_name(extra):
    graph, x = _net()
    qg = _widened(graph, x, extra)
    assert qg.widened == {"fc1": 8 + extra, "fc2": 8 + extra}
    for name in ("fc1", "fc2"):
        add = qg.graph.layer(name)
        assert isinstance(add, Add)
        high, low = (qg.graph.layer(m) for m in add.inputs)
        assert is_wide_member(high) and is_wide_member(low)
        qh, ql = qg.q(high.name), qg.q(low.name)
        assert qh.weight_exp == ql.weight_exp + extra <= M4.numeric.weight_exp_max
        for q in (qh, ql):  # int8 mantissas times 2^weight_exp: what every backend runs
            mant = np.asarray(q.weight, np.int64) >> q.weight_exp
            assert np.array_equal(mant << q.weight_exp, q.weight)
            assert np.max(np.abs(mant)) <= 127
        assert ql.bias is None and (qh.bias is not None) == (graph.layer(name).bias is not None)


@pytest.mark.parametrize("extra", [1, 3])
def test_a_widened_layer_rounds_its_weights_on_a_grid_2_to_the_e_times_finer(extra):
    graph, x = _net(1)
    plain, wide = quantize(graph, M4.numeric, calib=x), _widened(graph, x, extra)
    for name in ("fc1", "fc2"):
        w = graph.layer(name).weight.astype(np.float64)
        unit_in = plain.q(graph.layer(name).inputs[0]).unit
        q = plain.q(name)
        step = q.unit * 2 ** q.weight_exp / unit_in
        members = [wide.q(m) for m in wide.graph.layer(name).inputs]
        composed = sum(np.asarray(m.weight, np.int64) for m in members)
        wide_step = members[1].unit * 2 ** members[1].weight_exp / unit_in
        assert wide_step <= step / 2 ** extra * (1 + 1e-9)
        assert np.max(np.abs(composed * members[1].unit / unit_in - w)) <= wide_step / 2 + 1e-9


def test_the_members_compute_exactly_the_wide_layer():
    """The split graph's integer run equals the unsplit graph run with the composed wide
    weights: the members add nothing but their sum."""
    graph, x = _net(2)
    wide = _widened(graph, x, 3, input_bits=12)
    plain = quantize(graph, M4.numeric, calib=x)
    layers = {k: v for k, v in wide.layers.items() if k in plain.layers}
    for name in ("fc1", "fc2"):
        high, low = (wide.q(m) for m in wide.graph.layer(name).inputs)
        layers[name] = QuantLayer(unit=high.unit, bias=high.bias, weight_exp=low.weight_exp,
                                  weight=np.asarray(high.weight, np.int64) + low.weight)
    unsplit = QuantizedGraph(plain.graph, wide.profile, layers, wide.input_scale)
    drive = encode(x, 6, graph.encoding, graph.input.shape)
    want, got = run_quantized(unsplit, drive), run_quantized(wide, drive)
    assert np.array_equal(want.output, got.output)
    for name in ("h", "out"):
        assert np.array_equal(want.spikes[name], got.spikes[name])
        assert np.array_equal(want.v[name], got.v[name])
    assert wide.profile.input_bits == 12
    assert np.max(np.abs(wide.quantize_input(drive))) > 127  # the input is really wider


def test_widening_stops_at_the_weight_exponents_the_target_has():
    graph, x = _net()
    qg = _widened(graph, x, 10)
    assert set(qg.widened.values()) == {8 + M4.numeric.weight_exp_max}
    assert max(qg.q(lay.name).weight_exp for lay in qg.graph.layers
               if isinstance(lay, Dense)) <= M4.numeric.weight_exp_max
    xylo = load_target("xylo-audio2").numeric  # no weight exponent: no room to widen
    assert not quantize(graph, xylo, calib=x,
                        options=QuantizeOptions(stages={"fc1": StageScale(widen=2)})).widened


def _fixture(name: str, reading: str) -> tuple[Graph, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz") as data:
        return load_nir(FIXTURES / f"{name}.nir", reading), data["x"]


def test_a_stage_mapped_to_its_qnn_twin_is_not_widened():
    """A widened current has no exact QNN twin, so the stage the mapping chose to run once per
    inference keeps its weights: only the stages stepped as SNN may widen."""
    graph, _ = _net()
    mapped = graph.replace_layers([lay.with_attrs(mapping="qnn") if lay.name == "out" else lay
                                   for lay in graph.layers])
    assert widenable_groups(graph, stage_groups(graph)) == ["fc1", "fc2"]
    assert widenable_groups(mapped, stage_groups(mapped)) == ["fc1"]


def test_search_keeps_the_target_widths_where_the_goal_already_holds():
    graph, x = _fixture("snntorch_synaptic", "snntorch")
    for name in ("cortex-m4", "loihi2"):
        profile = load_target(name).numeric
        qg = choose_scales(graph, profile, x, calib=x)
        assert np.mean(list(qg.agreement.values())) >= 0.95
        assert not qg.widened and qg.profile == profile


def test_without_calibration_data_nothing_is_widened():
    graph = api.load(ROOT / "examples" / "spikeformer" / "model.onnx")
    qg = api.quantize(graph, M4)
    assert not qg.widened and qg.profile == M4.numeric
    assert all(not is_wide_member(lay) for lay in qg.graph.layers)


def _mean_agreement(graph: Graph, qg: QuantizedGraph, x: np.ndarray) -> float:
    """Mean agreement of ``qg`` with the float ``graph`` on inputs ``x``, in model time."""
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    timed = model_drive(x, graph.timesteps, latency(qg.graph, qg.profile), graph.encoding,
                        graph.input.shape)
    agreement = spike_agreement(qg.graph, qg.profile, run_graph(graph, drive, record=True),
                                run_quantized(qg, timed))
    return float(np.mean(list(agreement.values())))


def test_search_widens_weights_and_input_where_8_bits_miss_the_goal():
    """The spikeformer demo (15 chained multi-level layers, T = 1): at most 0.93 with 8-bit
    weights and inputs on its calibration data; the search widens as little as reaches the
    goal plus its margin there, and the widths keep the goal on utterances it never saw."""
    graph = api.load(ROOT / "examples" / "spikeformer" / "model.onnx")
    utterances = np.load(ROOT / "examples" / "spikeformer" / "test_x.npy")
    x, held_out = utterances[:32], utterances[32:]
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    narrow = choose_scales(graph, M4.numeric, drive, calib=x, goal=0.0)
    assert not narrow.widened and np.mean(list(narrow.agreement.values())) < FIDELITY_GOAL
    wide = choose_scales(graph, M4.numeric, drive, calib=x)
    assert np.mean(list(wide.agreement.values())) >= FIDELITY_GOAL + FIDELITY_MARGIN
    assert wide.widened and wide.profile.input_bits > M4.numeric.input_bits
    assert len(wide.widened) < len(stage_groups(narrow.graph))  # narrowed back per layer
    assert all(8 < bits <= 8 + M4.numeric.weight_exp_max for bits in wide.widened.values())
    assert _mean_agreement(graph, wide, held_out) >= FIDELITY_GOAL


def test_the_margin_costs_widths_only_above_the_goal():
    """Without the margin the search stops at the goal on the calibration data, with fewer
    widened weight bits; the margin never changes a net that needs no widening."""
    graph = api.load(ROOT / "examples" / "spikeformer" / "model.onnx")
    x = np.load(ROOT / "examples" / "spikeformer" / "test_x.npy")[:32]
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    at_goal = choose_scales(graph, M4.numeric, drive, calib=x, margin=0.0)
    aimed = choose_scales(graph, M4.numeric, drive, calib=x)
    assert FIDELITY_GOAL <= np.mean(list(at_goal.agreement.values())) < (
        np.mean(list(aimed.agreement.values())))
    assert sum(at_goal.widened.values()) < sum(aimed.widened.values())
    small, small_x = _fixture("snntorch_synaptic", "snntorch")
    plain = choose_scales(small, M4.numeric, small_x, calib=small_x, margin=0.0)
    assert not choose_scales(small, M4.numeric, small_x, calib=small_x, margin=0.5).widened
    assert not plain.widened
