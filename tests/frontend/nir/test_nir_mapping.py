"""How each NIR node becomes layers: the continuous-time parameters and the graph structure."""

from __future__ import annotations

import itertools
from typing import Any

import nir
import numpy as np
import pytest

from snnc.errors import InputError, InvalidModelError, UnsupportedError
from snnc.frontend.nir import NirSemantics, nir_to_graph, semantics_for
from snnc.ir.layers import LIF, Conv2d, CubaLIF, Dense, Flatten, Graph, Pool2d, Reshape
from snnc.reference.simulate import run_graph

DT = 1e-4
RNG = np.random.default_rng(11)


def chain(*nodes: Any, shape: tuple[int, ...] = (3,)) -> Any:
    """input -> nodes... -> output, named n0, n1, ..."""
    named = {"input": nir.Input(input_type={"input": np.array(shape)})}
    named.update({f"n{i}": node for i, node in enumerate(nodes)})
    named["output"] = nir.Output(output_type={"output": np.array([1])})
    keys = list(named)
    return nir.NIRGraph(nodes=named, edges=list(itertools.pairwise(keys)),
                        type_check=False)


def drive(graph: Graph, steps: int = 40, batch: int = 2) -> np.ndarray:
    return RNG.random((steps, batch, *graph.input.shape)).astype(np.float32)


def full(value: float, n: int = 3) -> np.ndarray:
    return np.full(n, value)


def euler_lif(x: np.ndarray, tau: float, r: float, v_leak: float, theta: float,
              dt: float = DT) -> tuple[np.ndarray, np.ndarray]:
    """NIR's LIF integrated by forward Euler in float64: (spikes, membrane in volts)."""
    v = np.zeros(x.shape[1:])
    spikes, mems = [], []
    for xt in x.astype(np.float64):
        v = v + dt / tau * (v_leak - v + r * xt)
        s = v > theta
        spikes.append(s)
        mems.append(v.copy())
        v = np.where(s, 0.0, v)
    return np.array(spikes, np.float32), np.array(mems)


def test_lif_follows_forward_euler_with_the_input_gain_in_the_membrane_unit() -> None:
    tau, r, v_leak, theta = 5e-4, 2.0, 0.1, 0.3
    graph = nir_to_graph(chain(nir.LIF(tau=full(tau), r=full(r), v_leak=full(v_leak),
                                       v_threshold=full(theta), v_reset=full(0.0))))
    lif = graph.layer("n0")
    assert isinstance(lif, LIF)
    gain = DT * r / tau
    np.testing.assert_allclose(lif.beta, 1 - DT / tau, rtol=1e-7)
    np.testing.assert_allclose(lif.threshold, theta / gain, rtol=1e-7)
    np.testing.assert_allclose(lif.bias, v_leak / r, rtol=1e-7)
    x = drive(graph)
    expected, volts = euler_lif(x, tau, r, v_leak, theta)
    trace = run_graph(graph, x)
    assert np.min(np.abs(volts - theta)) > 1e-5  # no step so close that float32 could flip it
    assert np.array_equal(trace.output, expected)
    assert expected.sum() > 5
    mask = expected == 0  # membranes before reset agree where no spike reset them
    np.testing.assert_allclose(trace.v["n0"][mask] * gain, volts[mask], rtol=1e-5, atol=1e-6)


def test_dt_changes_the_decay_per_step() -> None:
    node = nir.LIF(tau=full(1e-2), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0),
                   v_reset=full(0.0))
    fast = nir_to_graph(chain(node), NirSemantics(dt=1e-3)).layer("n0")
    slow = nir_to_graph(chain(node), NirSemantics(dt=1e-4)).layer("n0")
    assert float(fast.beta) == pytest.approx(0.9) and float(slow.beta) == pytest.approx(0.99)


def test_if_integrates_r_times_input_without_dt_by_default() -> None:
    node = nir.IF(r=full(4.0), v_threshold=full(2.0), v_reset=full(0.0))
    lif = nir_to_graph(chain(node)).layer("n0")
    assert float(lif.beta) == 1.0 and float(lif.threshold) == pytest.approx(0.5)
    euler = nir_to_graph(chain(node), NirSemantics(if_uses_dt=True)).layer("n0")
    assert float(euler.threshold) == pytest.approx(2.0 / (4.0 * DT))


def test_cuba_lif_integrates_the_updated_current() -> None:
    tau_syn, tau_mem, r, w_in, theta = 4e-4, 8e-4, 3.0, 1.5, 0.05
    graph = nir_to_graph(chain(nir.CubaLIF(
        tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(r), v_leak=full(0.0),
        v_threshold=full(theta), v_reset=full(0.0), w_in=full(w_in))))
    cell = graph.layer("n0")
    assert isinstance(cell, CubaLIF)
    x = drive(graph)
    i = v = np.zeros(x.shape[1:])
    expected, volts = [], []
    for xt in x.astype(np.float64):
        i = i + DT / tau_syn * (-i + w_in * xt)
        v = v + DT / tau_mem * (-v + r * i)
        expected.append(v > theta)
        volts.append(v)
        v = np.where(v > theta, 0.0, v)
    assert np.min(np.abs(np.array(volts) - theta)) > 1e-6
    assert np.array_equal(run_graph(graph, x).output, np.array(expected, np.float32))
    assert np.sum(expected) > 5


def test_leaky_integrator_before_a_lif_is_its_synaptic_current() -> None:
    li = nir.LI(tau=full(4e-4), r=full(1.5 * 4e-4 / DT), v_leak=full(0.0))
    lif = nir.LIF(tau=full(8e-4), r=full(8.0), v_leak=full(0.0), v_threshold=full(1.0),
                  v_reset=full(0.0))
    graph = nir_to_graph(chain(li, lif))
    assert [type(lay).__name__ for lay in graph.layers] == ["Input", "CubaLIF"]
    cell = graph.layer("n1")
    np.testing.assert_allclose(cell.current_decay, DT / 4e-4)
    np.testing.assert_allclose(cell.voltage_decay, DT / 8e-4)
    np.testing.assert_allclose(cell.threshold, 1.0 / 1.5)


@pytest.mark.parametrize("node", [
    nir.LI(tau=full(1e-3), r=full(1.0), v_leak=full(0.0)),
    nir.I(r=full(1.0)),
    nir.CubaLI(tau_syn=full(1e-3), tau_mem=full(1e-3), r=full(1.0), v_leak=full(0.0)),
])
def test_non_spiking_readout_is_refused_naming_node_and_type(node: Any) -> None:
    with pytest.raises(UnsupportedError, match=rf"n0.*{type(node).__name__}"):
        nir_to_graph(chain(node))


def test_threshold_node_is_a_memoryless_comparison() -> None:
    graph = nir_to_graph(chain(nir.Threshold(threshold=np.array([0.2, 0.5, 0.8]))))
    x = drive(graph)
    assert np.array_equal(run_graph(graph, x).output,
                          (x > np.array([0.2, 0.5, 0.8], np.float32)).astype(np.float32))


def test_v_reset_other_than_zero_is_refused() -> None:
    node = nir.LIF(tau=full(1e-3), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0),
                   v_reset=full(-0.5))
    with pytest.raises(UnsupportedError, match="v_reset"):
        nir_to_graph(chain(node))


def test_non_positive_time_constant_is_an_invalid_model() -> None:
    node = nir.LIF(tau=full(0.0), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0))
    with pytest.raises(InvalidModelError, match="n0"):
        nir_to_graph(chain(node))


def test_nan_weight_is_an_invalid_model_naming_the_node() -> None:
    w = np.ones((2, 3))
    w[0, 1] = np.nan
    with pytest.raises(InvalidModelError, match=r"n0.*NaN"):
        nir_to_graph(chain(nir.Linear(weight=w)))


def test_snntorch_reading_sets_subtract_reset_from_the_previous_membrane() -> None:
    node = nir.LIF(tau=full(1e-3), r=full(10.0), v_leak=full(0.0), v_threshold=full(1.0))
    lif = nir_to_graph(chain(node), "snntorch").layer("n0")
    assert (lif.reset, lif.reset_timing, lif.compare) == ("subtract", "next", "gt")
    with pytest.raises(InputError, match="unknown NIR semantics"):
        semantics_for("lava")


def test_node_metadata_overrides_the_reading() -> None:
    node = nir.IF(r=full(1.0), v_threshold=full(1.0), metadata={"snnc.reset": "subtract",
                                                                "snnc.compare": "ge"})
    lif = nir_to_graph(chain(node)).layer("n0")
    assert (lif.reset, lif.compare) == ("subtract", "ge")


def test_delay_of_whole_steps_shifts_the_signal() -> None:
    graph = nir_to_graph(chain(nir.Delay(delay=full(3 * DT))))
    x = drive(graph, steps=10)
    out = run_graph(graph, x).output
    assert np.array_equal(out[3:], x[:-3]) and not out[:3].any()


def test_delay_before_weights_makes_them_read_the_previous_step() -> None:
    w = RNG.normal(size=(2, 3))
    graph = nir_to_graph(chain(nir.Delay(delay=full(DT)), nir.Linear(weight=w)))
    dense = graph.layer("n1")
    assert isinstance(dense, Dense) and dense.recurrent and dense.inputs == ("input",)


def test_fractional_or_per_neuron_delay_is_refused() -> None:
    with pytest.raises(UnsupportedError, match="whole number"):
        nir_to_graph(chain(nir.Delay(delay=full(1.5 * DT))))
    with pytest.raises(UnsupportedError, match="per-neuron"):
        nir_to_graph(chain(nir.Delay(delay=np.array([DT, 2 * DT, DT]))))


def _cycle(with_delay: bool) -> Any:
    """input -> fc -> lif <-> rec (optionally through an explicit Delay) -> output."""
    rng = np.random.default_rng(3)
    lif = nir.LIF(tau=full(1e-3, 4), r=full(10.0, 4), v_leak=full(0.0, 4),
                  v_threshold=full(1.0, 4), v_reset=full(0.0, 4))
    nodes = {"input": nir.Input(input_type={"input": np.array([3])}),
             "fc": nir.Affine(weight=rng.normal(size=(4, 3)) * 2, bias=np.zeros(4)),
             "lif": lif, "rec": nir.Linear(weight=rng.normal(size=(4, 4))),
             "output": nir.Output(output_type={"output": np.array([4])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if with_delay:
        nodes["d"] = nir.Delay(delay=full(DT, 4))
        edges += [("lif", "d"), ("d", "rec"), ("rec", "lif")]
    else:
        edges += [("lif", "rec"), ("rec", "lif")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_cycle_gets_one_step_of_delay_on_its_synapse() -> None:
    plain, explicit = nir_to_graph(_cycle(False)), nir_to_graph(_cycle(True))
    for graph in (plain, explicit):
        rec = graph.layer("rec")
        assert isinstance(rec, Dense) and rec.recurrent and rec.inputs == ("lif",)
    x = drive(plain)
    spikes = run_graph(plain, x).output
    assert spikes.sum() > 5
    assert np.array_equal(spikes, run_graph(explicit, x).output)


def test_edges_entering_one_node_are_summed() -> None:
    nodes = {"input": nir.Input(input_type={"input": np.array([3])}),
             "a": nir.Linear(weight=np.eye(3)), "b": nir.Scale(scale=np.array([1., 2., 3.])),
             "output": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "a"), ("input", "b"), ("a", "output"), ("b", "output")]
    graph = nir_to_graph(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    x = drive(graph, steps=2)
    np.testing.assert_allclose(run_graph(graph, x).output, x * np.array([2., 3., 4.]),
                               rtol=1e-6)


def test_conv1d_runs_as_a_conv2d_between_reshapes() -> None:
    w = RNG.normal(size=(4, 2, 3)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    conv = nir.Conv1d(input_shape=10, weight=w, stride=2, padding=1, dilation=1, groups=1,
                      bias=b)
    graph = nir_to_graph(chain(conv, shape=(2, 10)))
    assert graph.shape("n0") == (4, 5)
    x = drive(graph, steps=1, batch=1)[0, 0]
    padded = np.pad(x, ((0, 0), (1, 1)))
    expected = np.stack([np.einsum("ck,ck->", w[o], padded[:, 2 * j:2 * j + 3]) + b[o]
                         for o in range(4) for j in range(5)]).reshape(4, 5)
    out = run_graph(graph, x[None, None])
    np.testing.assert_allclose(out.output[0, 0], expected, rtol=1e-5, atol=1e-5)


def test_conv2d_same_padding_keeps_the_spatial_size() -> None:
    conv = nir.Conv2d(input_shape=(6, 6), weight=RNG.normal(size=(3, 2, 3, 3)), stride=1,
                      padding="same", dilation=1, groups=1, bias=np.zeros(3))
    graph = nir_to_graph(chain(conv, shape=(2, 6, 6)))
    layer = graph.layer("n0")
    assert isinstance(layer, Conv2d) and layer.padding == (1, 1, 1, 1)
    assert graph.shape("n0") == (3, 6, 6)


def test_pooling_and_partial_flatten() -> None:
    graph = nir_to_graph(chain(
        nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                      padding=np.array([0, 0])),
        nir.Flatten(input_type={"input": None}, start_dim=1, end_dim=2),
        nir.Flatten(input_type={"input": None}, start_dim=0, end_dim=-1),
        shape=(2, 4, 4)))
    pool, part, whole = (graph.layer(n) for n in ("n0", "n1", "n2"))
    assert isinstance(pool, Pool2d) and pool.pool == "avg"
    assert isinstance(part, Reshape) and part.shape == (2, 4)
    assert isinstance(whole, Flatten) and graph.shape("n2") == (8,)


def test_channel_scale_is_a_depthwise_conv() -> None:
    scale = np.broadcast_to(np.array([2.0, -1.0])[:, None, None], (2, 3, 3)).copy()
    graph = nir_to_graph(chain(nir.Scale(scale=scale), shape=(2, 3, 3)))
    assert isinstance(graph.layer("n0"), Conv2d)
    x = drive(graph, steps=1)
    np.testing.assert_array_equal(run_graph(graph, x).output, x * scale.astype(np.float32))


def test_nested_subgraph_is_inlined_with_prefixed_names() -> None:
    inner = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([3])}),
        "lin": nir.Linear(weight=np.eye(3)),
        "out": nir.Output(output_type={"output": np.array([3])})},
        edges=[("in", "lin"), ("lin", "out")], type_check=False)
    graph = nir_to_graph(chain(inner, nir.Threshold(threshold=full(0.5))))
    assert [lay.name for lay in graph.layers] == ["input", "n0.lin", "n1"]


def test_two_inputs_are_refused() -> None:
    nodes = {"a": nir.Input(input_type={"input": np.array([3])}),
             "b": nir.Input(input_type={"input": np.array([3])}),
             "output": nir.Output(output_type={"output": np.array([3])})}
    g = nir.NIRGraph(nodes=nodes, edges=[("a", "output"), ("b", "output")], type_check=False)
    with pytest.raises(UnsupportedError, match="one input"):
        nir_to_graph(g)


def test_node_not_reachable_from_the_input_is_refused() -> None:
    g = chain(nir.Linear(weight=np.eye(3)))
    g.nodes["stray"] = nir.Linear(weight=np.eye(3))
    g.edges.append(("stray", "output"))
    with pytest.raises(InvalidModelError, match="stray"):
        nir_to_graph(g)
