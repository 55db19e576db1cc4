"""The NIR paper's own graphs: snnc reads them the way the frameworks that wrote them do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnc.errors import InputError
from snnc.frontend.nir import graph_to_nir, load_nir, nir_to_graph
from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense, Pool2d
from snnc.reference.simulate import run_graph, simulate

PAPER = Path(__file__).resolve().parents[2] / "fixtures" / "nir"
GRAPHS = ["lif_norse.nir", "lif_rockpool.nir", "two_lif_neurons.nir", "cnn_sinabs.nir",
          "braille_noDelay_bias_zero.nir", "braille_noDelay_noBias_subtract.nir"]


def _single_lif_run(trace_csv: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drive the paper's single LIF with the recorded input; (spikes, v, recorded columns)."""
    recorded = np.loadtxt(PAPER / trace_csv, delimiter=",")
    graph = load_nir(PAPER / "lif_norse.nir")
    trace = run_graph(graph, recorded[:, 0].reshape(-1, 1, 1).astype(np.float32))
    return trace.output[:, 0, 0], trace.v["1"][:, 0, 0], recorded


def test_single_lif_membrane_equals_snntorch_bit_for_bit() -> None:
    # snnTorch imports NIR with dt = 1e-4, beta = 1 - dt/tau and the input gain folded into
    # the threshold: exactly the mapping snnc uses, so the float32 membranes agree exactly.
    spikes, v, recorded = _single_lif_run("lif_snntorch.csv")
    assert np.array_equal(v, recorded[:, 1].astype(np.float32))
    assert np.array_equal(spikes, recorded[:, 2])
    assert spikes.sum() == 4


def test_single_lif_matches_norse_spikes_and_scaled_membrane() -> None:
    # Norse keeps the membrane in volts (v += dt/tau * (I - v)); snnc's membrane is in units
    # of the input gain dt*R/tau = 0.04, so it matches after scaling.
    spikes, v, recorded = _single_lif_run("lif_norse.csv")
    assert np.array_equal(spikes, recorded[:, 2])
    np.testing.assert_allclose(v * 0.04, recorded[:, 1], atol=1e-6)


@pytest.mark.parametrize("name", GRAPHS)
def test_paper_graph_round_trips_through_nir_with_identical_outputs(name: str) -> None:
    graph = load_nir(PAPER / name)
    again = nir_to_graph(graph_to_nir(graph))
    x = np.random.default_rng(7).random((3, *graph.input.shape)).astype(np.float32) * 2
    first, second = simulate(graph, x, steps=20), simulate(again, x, steps=20)
    assert np.array_equal(first.output, second.output)
    for layer in first.spikes:
        assert np.array_equal(first.spikes[layer], second.spikes[layer])


def test_paper_graphs_produce_spikes_on_random_input() -> None:
    # Guards the round-trip test above against passing on silent networks.
    for name in ("cnn_sinabs.nir", "braille_noDelay_bias_zero.nir"):
        graph = load_nir(PAPER / name)
        x = np.random.default_rng(7).random((3, *graph.input.shape)).astype(np.float32) * 2
        assert simulate(graph, x, steps=20).output.sum() > 0, name


def test_braille_recurrence_becomes_a_recurrent_dense_summed_into_the_cuba_neuron() -> None:
    graph = load_nir(PAPER / "braille_noDelay_bias_zero.nir")
    rec = graph.layer("lif1.w_rec")
    assert isinstance(rec, Dense) and rec.recurrent and rec.inputs == ("lif1.lif",)
    neuron = graph.layer("lif1.lif")
    assert isinstance(neuron, CubaLIF)
    summed = graph.layer(neuron.inputs[0])
    assert isinstance(summed, Add) and set(summed.inputs) == {"fc1", "lif1.w_rec"}
    # snnTorch exported alpha = 0.55, beta = 0.9 as tau = dt/(1 - decay) with dt = 1e-4.
    assert np.isclose(float(neuron.current_decay), 0.45, atol=1e-6)
    assert np.isclose(float(neuron.voltage_decay), 0.1, atol=1e-6)
    # w_in = tau_syn/dt and r = tau_mem/dt make both input gains 1: the threshold stays 1.
    assert np.isclose(float(neuron.threshold), 1.0, atol=1e-6)


def test_sinabs_cnn_keeps_strides_padding_and_sum_pooling() -> None:
    graph = load_nir(PAPER / "cnn_sinabs.nir")
    first = graph.layer("0")
    assert isinstance(first, Conv2d)
    assert first.stride == (2, 2) and first.padding == (1, 1, 1, 1)
    pool = graph.layer("4")
    assert isinstance(pool, Pool2d) and pool.pool == "sum" and pool.kernel == (2, 2)
    neuron = graph.layer("1")
    assert isinstance(neuron, LIF) and float(neuron.beta) == 1.0 and neuron.reset == "zero"
    assert graph.shape(graph.output) == (10,)


def test_rockpool_graph_with_a_wrong_output_shape_still_loads() -> None:
    graph = load_nir(PAPER / "lif_rockpool.nir")
    assert graph.shape(graph.output) == (1,)


def test_subgraph_file_with_dangling_edge_is_refused_with_the_missing_node() -> None:
    with pytest.raises(InputError, match="'lif'"):
        load_nir(PAPER / "braille_noDelay_bias_zero_subgraph.nir")
