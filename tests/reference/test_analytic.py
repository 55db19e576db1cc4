"""Closed-form traces of single neurons: the float reference must reproduce them exactly."""

from __future__ import annotations

import numpy as np

from snnc.ir.layers import LIF, Add, CubaLIF, Dense, Graph, Input, MultiLevelSpike
from snnc.reference.encode import rate_code
from snnc.reference.simulate import run_graph

F32 = np.float32


def single(neuron, n: int = 1, steps: int = 10) -> Graph:
    return Graph((Input("x", (), shape=(n,)), neuron), output=neuron.name, timesteps=steps)


def drive(values, steps: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, F32), (steps, 1, len(values))).copy()


def test_if_neuron_with_subtract_reset_fires_floor_of_total_input_over_threshold():
    layer = LIF("n", ("x",), beta=F32(1), threshold=F32(1), reset="subtract", compare="ge")
    trace = run_graph(single(layer, 3, 16), drive([0.25, 0.5, 0.75], 16))
    assert trace.output.sum(0).tolist() == [[4.0, 8.0, 12.0]]


def test_lif_membrane_follows_geometric_series_until_threshold():
    beta, current = F32(0.5), F32(1.0)
    layer = LIF("n", ("x",), beta=beta, threshold=F32(10.0))
    trace = run_graph(single(layer, 1, 6), drive([current], 6))
    expected = [float(sum(beta ** k for k in range(t + 1))) for t in range(6)]
    assert np.allclose(trace.v["n"][:, 0, 0], expected)
    assert trace.output.sum() == 0


def test_zero_reset_same_step_clears_membrane_on_the_spiking_step():
    layer = LIF("n", ("x",), beta=F32(1), threshold=F32(1.5), reset="zero")
    trace = run_graph(single(layer, 1, 4), drive([1.0], 4))
    assert trace.output[:, 0, 0].tolist() == [0, 1, 0, 1]
    assert trace.v["n"][:, 0, 0].tolist() == [1, 0, 1, 0]


def test_next_step_reset_uses_previous_membrane_like_snntorch():
    layer = LIF("n", ("x",), beta=F32(1), threshold=F32(1.5), reset="subtract",
                reset_timing="next")
    trace = run_graph(single(layer, 1, 4), drive([1.0], 4))
    # v: 1, 2 (spike, reset deferred), 2+1-1.5 = 1.5 (no spike: strict), 2.5 (spike)
    assert trace.v["n"][:, 0, 0].tolist() == [1.0, 2.0, 1.5, 2.5]
    assert trace.output[:, 0, 0].tolist() == [0, 1, 0, 1]


def test_strict_and_inclusive_threshold_differ_exactly_at_threshold():
    gt = LIF("n", ("x",), beta=F32(1), threshold=F32(1), compare="gt")
    ge = LIF("n", ("x",), beta=F32(1), threshold=F32(1), compare="ge")
    x = drive([1.0], 1)
    assert run_graph(single(gt, 1, 1), x).output.sum() == 0
    assert run_graph(single(ge, 1, 1), x).output.sum() == 1


def test_cuba_current_integrates_before_the_membrane():
    layer = CubaLIF("n", ("x",), current_decay=F32(0.5), voltage_decay=F32(0),
                    threshold=F32(100))
    x = np.zeros((4, 1, 1), F32)
    x[0] = 1.0
    trace = run_graph(single(layer, 1, 4), x)
    # u: 1, .5, .25, .125 ; v accumulates u
    assert np.allclose(trace.v["n"][:, 0, 0], [1.0, 1.5, 1.75, 1.875])


def test_multilevel_spike_rounds_to_nearest_level_with_input_aware_threshold():
    layer = MultiLevelSpike("m", ("x",), levels=4, alpha=1.0, axis=-1)
    x = np.array([[[0.0, 1.0, 2.0, 5.0]]], F32)  # mean |I| = 2
    trace = run_graph(single(layer, 4, 1), x)
    assert trace.output[0, 0].tolist() == [0.0, 1.0, 1.0, 3.0]


def test_multilevel_levels_are_clipped_to_the_maximum():
    layer = MultiLevelSpike("m", ("x",), levels=2, axis=None, theta=1.0)
    trace = run_graph(single(layer, 3, 1), np.array([[[-3.0, 1.4, 9.0]]], F32))
    assert trace.output[0, 0].tolist() == [0.0, 1.0, 2.0]


def test_rate_code_emits_floor_of_steps_times_intensity_spikes():
    p = np.array([[0.0, 0.25, 0.5, 0.99, 1.0]])
    train = rate_code(p, 8)
    assert train.sum(0).tolist() == [[0, 2, 4, 7, 8]]
    assert set(np.unique(train)) <= {0.0, 1.0}


def test_recurrent_self_excitation_keeps_a_neuron_firing_after_the_input_stops():
    layers = (
        Input("x", (), shape=(1,)),
        Dense("inp", ("x",), weight=np.array([[1.0]], F32)),
        Dense("rec", ("n",), weight=np.array([[1.0]], F32), recurrent=True),
        Add("total", ("inp", "rec")),
        LIF("n", ("total",), beta=F32(0), threshold=F32(0.5)),
    )
    graph = Graph(layers, output="n", timesteps=4)
    x = np.zeros((4, 1, 1), F32)
    x[0] = 1.0
    assert run_graph(graph, x).output[:, 0, 0].tolist() == [1, 1, 1, 1]
    no_loop = Graph((layers[0], layers[1], LIF("n", ("inp",), beta=F32(0), threshold=F32(0.5))),
                    output="n", timesteps=4)
    assert run_graph(no_loop, x).output[:, 0, 0].tolist() == [1, 0, 0, 0]
