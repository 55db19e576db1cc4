"""Synaptic stages: which layers are sources, how late a layer reads another, what a stage
contains and how large a value a source can send."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from snnc.ir.layers import LIF, Add, Dense, Graph, Input, MultiLevelSpike, SpikingSelfAttention
from snnc.ir.quantized import NumericProfile
from snnc.ir.stages import is_source, read_lag, source_peak, stage_of, stages
from snnc.reference.integer import graded_fire


def _w(n_out: int, n_in: int) -> np.ndarray:
    return np.ones((n_out, n_in), np.float32)


def _residual() -> Graph:
    """x -> fc1 -> l1 -> fc2 ─┬─> add -> l2 -> out (a read-out Dense)
                      x -> skip ┘       l2 -> rec (recurrent, into add)"""
    return Graph((
        Input("x", (), shape=(3,)),
        Dense("fc1", ("x",), weight=_w(4, 3)),
        LIF("l1", ("fc1",)),
        Dense("fc2", ("l1",), weight=_w(4, 4)),
        Dense("skip", ("x",), weight=_w(4, 3)),
        Dense("rec", ("l2",), weight=_w(4, 4), recurrent=True),
        Add("add", ("fc2", "skip", "rec")),
        LIF("l2", ("add",)),
        Dense("out", ("l2",), weight=_w(2, 4)),
    ), output="out", timesteps=4, name="res")


def test_the_input_and_neuron_layers_are_the_sources():
    graph = _residual()
    assert [lay.name for lay in graph.layers if is_source(lay)] == ["x", "l1", "l2"]


def test_read_lag_follows_the_synapse_delay_and_recurrence():
    p0, p2 = NumericProfile(synapse_delay=0), NumericProfile(synapse_delay=2)
    x, lif = Input("x", (), shape=(3,)), LIF("l", ("d",))
    dense = Dense("d", ("x",), weight=_w(3, 3))
    rec = Dense("r", ("l",), weight=_w(3, 3), recurrent=True)
    assert read_lag(dense, x, p0) == 0
    assert read_lag(dense, x, p2) == 2
    assert read_lag(lif, dense, p2) == 0
    assert read_lag(lif, x, p2) == 0  # a neuron reading a source directly has no synapse
    assert read_lag(rec, lif, p0) == 1
    assert read_lag(rec, lif, p2) == 2


def test_a_stage_holds_every_layer_between_its_head_and_its_sources_in_graph_order():
    graph = _residual()
    stage = stage_of(graph, "l2")
    assert stage.members == ("fc2", "skip", "rec", "add")
    assert stage.sources == ("x", "l1", "l2")  # the recurrent edge reaches the head itself
    assert [lay.name for lay in stage.weight_layers(graph)] == ["fc2", "skip", "rec"]


def test_a_non_neuron_output_is_a_stage_of_its_own_and_a_member_of_it():
    graph = _residual()
    assert [s.head for s in stages(graph)] == ["l1", "l2", "out"]
    readout = stage_of(graph, "out")
    assert readout.members == ("out",) and readout.sources == ("l2",)


def test_a_custom_stop_ends_the_walk_at_other_layers():
    graph = Graph((
        Input("x", (), shape=(2, 4)),
        LIF("q", ("x",)),
        SpikingSelfAttention("a", ("q", "q", "q"), heads=1),
        Dense("fc", ("a",), weight=_w(4, 4)),
        LIF("l", ("fc",)),
    ), output="l", timesteps=2, name="attn")
    plain = stage_of(graph, "l")
    assert plain.members == ("a", "fc") and plain.sources == ("q",)
    cut = stage_of(graph, "l", stop=lambda lay: is_source(lay) or lay.name == "a")
    assert cut.members == ("fc",) and cut.sources == ("a",)


def test_source_peak_is_the_largest_value_sent_in_one_step():
    p = NumericProfile(input_bits=8)
    x = Input("x", (), shape=(3,))
    assert source_peak(x, p) == 127
    assert source_peak(x, p, "rate") == 1
    assert source_peak(LIF("l", ("d",)), p) == 1
    assert source_peak(MultiLevelSpike("m", ("d",), levels=5), p) == 5


def test_a_graded_layer_sends_no_more_than_its_membrane_register_holds():
    """``floor(v / theta)`` of a membrane within ``state_bits``: a Loihi-like 24-bit membrane
    over a threshold of 8715 << 6 holds 15 thresholds, whatever ``max_spikes`` allows."""
    p = NumericProfile(state_bits=24, threshold_shift=6, max_spikes=127)
    graded = LIF("g", ("d",), graded=True)
    assert source_peak(graded, p) == 127  # thresholds unknown: the spike message's limit
    assert source_peak(graded, p, vth=np.array([9000, 8715])) == 15
    assert source_peak(graded, p, vth=np.array([1])) == 127


@given(state_bits=st.integers(8, 40), shift=st.integers(0, 6), vth=st.integers(1, 1 << 20),
       frac=st.floats(0, 1))
def test_graded_counts_stay_within_the_register_bound(state_bits, shift, vth, frac):
    p = NumericProfile(state_bits=state_bits, threshold_shift=shift, max_spikes=127)
    v = np.array([int(frac * ((1 << (state_bits - 1)) - 1))], np.int64)  # any membrane it holds
    counts, _ = graded_fire(v, np.array([vth << shift], np.int64), p.max_spikes)
    assert int(counts.max()) <= source_peak(LIF("g", ("d",), graded=True), p, vth=[vth])
