"""Layer view -> NIR -> layer view keeps the reference outputs, for every layer NIR can express."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nir
import numpy as np
import pytest

from snnc.errors import UnsupportedError
from snnc.frontend.nir import graph_to_nir, load_nir, nir_to_graph, save_nir
from snnc.ir.layers import (
    ALL_LAYER_TYPES,
    LIF,
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Layer,
    MultiLevelSpike,
    Pool2d,
    Reshape,
    SpikingSelfAttention,
)
from snnc.reference.simulate import Trace, simulate

RNG = np.random.default_rng(5)


def w(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.normal(size=shape) * scale).astype(np.float32)


def recurrent_mlp() -> Graph:
    """Feed-forward LIF with every reset variant, a recurrent CUBA layer, a residual Add."""
    return Graph((
        Input("x", (), shape=(6,)),
        Dense("fc1", ("x",), weight=w(8, 6), bias=w(8)),
        LIF("lif1", ("fc1",), beta=np.float32(0.85), threshold=np.float32(0.7),
            bias=w(8, scale=0.1), reset="subtract", reset_timing="next", compare="ge"),
        Dense("rec", ("cuba",), weight=w(8, 8, scale=0.5), bias=w(8), recurrent=True),
        Dense("fc2", ("lif1",), weight=w(8, 8)),
        Add("sum", ("fc2", "rec")),
        CubaLIF("cuba", ("sum",), current_decay=np.float32(0.3),
                voltage_decay=np.linspace(0.1, 0.5, 8).astype(np.float32),
                threshold=np.float32(0.5), bias=np.float32(0.05)),
        Dense("out", ("cuba",), weight=w(3, 8)),
        LIF("readout", ("out",), beta=np.float32(0.9), threshold=np.float32(0.4),
            reset="none"),
    ), output="readout", timesteps=12, encoding="rate")


def conv_net() -> Graph:
    """Conv, sum and average pooling, IF (beta 1), a threshold (beta 0), flatten."""
    return Graph((
        Input("img", (), shape=(2, 8, 8)),
        Conv2d("c1", ("img",), weight=w(4, 2, 3, 3), bias=w(4), stride=(1, 1),
               padding=(1, 1, 1, 1)),
        LIF("if1", ("c1",), beta=np.float32(1.0), threshold=np.float32(1.0)),
        Pool2d("p1", ("if1",), pool="sum", kernel=(2, 2), stride=(2, 2)),
        Conv2d("c2", ("p1",), weight=w(4, 2, 3, 3), groups=2, dilation=(1, 1),
               stride=(2, 2), padding=(1, 1, 1, 1)),
        LIF("th", ("c2",), beta=np.float32(0.0), threshold=np.float32(0.2)),
        Pool2d("p2", ("th",), pool="avg", kernel=(2, 2), stride=(1, 1)),
        Flatten("flat", ("p2",)),
        Dense("fc", ("flat",), weight=w(5, 4)),
        LIF("lif", ("fc",), beta=np.float32(0.8), threshold=np.float32(0.3)),
    ), output="lif")


def conv1d_net() -> Graph:
    """A Conv1d as snnc imports it: reshape, 1-row Conv2d, reshape back."""
    return Graph((
        Input("seq", (), shape=(3, 12)),
        Reshape("seq.to2d", ("seq",), shape=(3, 1, 12)),
        Conv2d("conv.2d", ("seq.to2d",), weight=np.abs(w(4, 3, 1, 3)), bias=w(4), stride=(1, 2),
               padding=(0, 1, 0, 1)),
        Reshape("conv", ("conv.2d",), shape=(4, 6)),
        Reshape("merge", ("conv",), shape=(24,)),
        LIF("lif", ("merge",), beta=np.float32(0.7), threshold=np.float32(0.5)),
    ), output="lif")


def cuba_without_decay() -> Graph:
    """Decay 0 has no finite NIR time constant: written as I/LI nodes before IF/LIF."""
    return Graph((
        Input("x", (), shape=(4,)),
        Dense("fc", ("x",), weight=w(4, 4)),
        CubaLIF("perfect_syn", ("fc",), current_decay=np.float32(0.0),
                voltage_decay=np.float32(0.25), threshold=np.float32(1.0)),
        Dense("fc2", ("perfect_syn",), weight=w(4, 4)),
        CubaLIF("perfect_mem", ("fc2",), current_decay=np.float32(0.5),
                voltage_decay=np.float32(0.0), threshold=np.float32(1.0)),
    ), output="perfect_mem")


def delayed_input() -> Graph:
    """A recurrent Dense outside any cycle: an explicit one-step NIR Delay."""
    return Graph((
        Input("x", (), shape=(4,)),
        Dense("late", ("x",), weight=w(4, 4), recurrent=True),
        Dense("now", ("x",), weight=w(4, 4)),
        Add("sum", ("late", "now")),
        LIF("lif", ("sum",), beta=np.float32(0.9), threshold=np.float32(0.5)),
    ), output="lif")


EXPORTABLE: dict[str, Callable[[], Graph]] = {
    "recurrent_mlp": recurrent_mlp, "conv_net": conv_net, "conv1d_net": conv1d_net,
    "cuba_without_decay": cuba_without_decay, "delayed_input": delayed_input,
}


def _drive(graph: Graph) -> np.ndarray:
    return RNG.random((3, *graph.input.shape)).astype(np.float32) * 2


def _same_outputs(a: Trace, b: Trace) -> None:
    assert np.array_equal(a.output, b.output)
    for layer in set(a.spikes) & set(b.spikes):
        assert np.array_equal(a.spikes[layer], b.spikes[layer]), layer


@pytest.mark.parametrize("name", sorted(EXPORTABLE))
def test_graph_nir_graph_keeps_reference_outputs(name: str) -> None:
    graph = EXPORTABLE[name]()
    again = nir_to_graph(graph_to_nir(graph))
    x = _drive(graph)
    first = simulate(graph, x, steps=15)
    assert first.output.any()
    _same_outputs(first, simulate(again, x, steps=15))
    assert again.timesteps == graph.timesteps and again.encoding == graph.encoding


@pytest.mark.parametrize("name", sorted(EXPORTABLE))
def test_nir_graph_nir_is_a_fixed_point_of_the_outputs(name: str) -> None:
    once = nir_to_graph(graph_to_nir(EXPORTABLE[name]()))
    twice = nir_to_graph(graph_to_nir(once))
    x = _drive(once)
    _same_outputs(simulate(once, x, steps=15), simulate(twice, x, steps=15))


def test_file_round_trip_is_byte_stable(tmp_path: Path) -> None:
    graph = recurrent_mlp()
    save_nir(graph, tmp_path / "a.nir")
    save_nir(load_nir(tmp_path / "a.nir"), tmp_path / "b.nir")
    save_nir(graph, tmp_path / "c.nir")
    assert (tmp_path / "a.nir").read_bytes() == (tmp_path / "c.nir").read_bytes()
    back = load_nir(tmp_path / "b.nir")
    assert (back.timesteps, back.encoding) == (12, "rate")
    x = _drive(graph)
    _same_outputs(simulate(graph, x), simulate(back, x))


def test_recurrent_synapse_in_a_cycle_is_a_plain_nir_edge() -> None:
    exported = graph_to_nir(recurrent_mlp())
    assert ("cuba", "rec") in exported.edges
    assert not any(isinstance(n, nir.Delay) for n in exported.nodes.values())


def test_recurrent_synapse_outside_a_cycle_gets_a_delay_node() -> None:
    exported = graph_to_nir(delayed_input())
    delays = [k for k, n in exported.nodes.items() if isinstance(n, nir.Delay)]
    assert len(delays) == 1
    np.testing.assert_allclose(exported.nodes[delays[0]].delay, 1e-4)


def test_reset_rules_nir_cannot_state_travel_as_metadata() -> None:
    exported = graph_to_nir(recurrent_mlp())
    assert exported.nodes["lif1"].metadata == {"snnc.reset": "subtract",
                                               "snnc.reset_timing": "next",
                                               "snnc.compare": "ge"}
    assert exported.nodes["cuba"].metadata == {}


def test_exported_neurons_have_unit_input_gains() -> None:
    lif = graph_to_nir(recurrent_mlp(), dt=1e-3).nodes["lif1"]
    assert isinstance(lif, nir.LIF)
    np.testing.assert_allclose(lif.r * 1e-3 / lif.tau, 1.0)
    np.testing.assert_allclose(1 - 1e-3 / lif.tau, 0.85, rtol=1e-6)


def _one(layer: Layer, shape: tuple[int, ...] = (2, 4, 4)) -> Graph:
    return Graph((Input("x", (), shape=shape), layer), output=layer.name)


UNSUPPORTED: dict[str, Graph] = {
    "max pooling": _one(Pool2d("pool", ("x",), pool="max")),
    "multi-level spikes": _one(MultiLevelSpike("mls", ("x",), levels=3), shape=(4,)),
    "attention": Graph((Input("x", (), shape=(3, 4)),
                        SpikingSelfAttention("att", ("x", "x", "x"))), output="att"),
    "asymmetric padding": _one(Conv2d("conv", ("x",), weight=w(2, 2, 2, 2),
                                      padding=(0, 0, 1, 1))),
    "IF with a bias": _one(LIF("if", ("x",), beta=np.float32(1.0), bias=np.float32(0.1)),
                           shape=(4,)),
    "general reshape": _one(Reshape("r", ("x",), shape=(4, 8))),
}


@pytest.mark.parametrize("what", sorted(UNSUPPORTED))
def test_layers_without_a_nir_form_raise_unsupported_naming_the_layer(what: str) -> None:
    graph = UNSUPPORTED[what]
    with pytest.raises(UnsupportedError, match=f"'{graph.output}'"):
        graph_to_nir(graph)


def test_every_layer_type_is_either_exported_or_refused() -> None:
    covered = {type(lay) for make in EXPORTABLE.values() for lay in make().layers}
    covered |= {type(lay) for g in UNSUPPORTED.values() for lay in g.layers}
    assert set(ALL_LAYER_TYPES) <= covered


def test_conv1d_chain_is_written_as_one_nir_conv1d() -> None:
    exported = graph_to_nir(conv1d_net())
    conv = exported.nodes["conv"]
    assert isinstance(conv, nir.Conv1d) and conv.weight.shape == (4, 3, 3)
    assert "conv.2d" not in exported.nodes and "seq.to2d" not in exported.nodes
