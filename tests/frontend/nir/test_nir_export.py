"""Layer view -> NIR -> layer view keeps the reference outputs, for every layer NIR can express."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
from testkit.nir_graphs import EXPORTABLE, conv1d_net, delayed_input, recurrent_mlp, weights

from snnc.errors import UnsupportedError
from snnc.frontend.nir import graph_to_nir, load_nir, nir_to_graph, save_nir
from snnc.ir.layers import (
    ALL_LAYER_TYPES,
    LIF,
    Conv2d,
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
w = weights(11)


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
