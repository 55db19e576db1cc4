"""Consecutive dense layers fold into one before quantization."""

from __future__ import annotations

import numpy as np

from snnc import api
from snnc.ir.layers import LIF, Add, Dense, Graph, Input
from snnc.passes.linear_chains import fuse_dense_chains
from snnc.reference.integer import run_quantized
from snnc.reference.simulate import run_graph

F32 = np.float32


def dyadic(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.integers(-8, 12, shape) / 16).astype(F32)


def chain(rng: np.random.Generator) -> Graph:
    layers = (Input("x", (), shape=(6,)),
              Dense("a", ("x",), weight=dyadic(rng, (8, 6)), bias=dyadic(rng, (8,)) / 4),
              Dense("b", ("a",), weight=dyadic(rng, (8, 8)), bias=dyadic(rng, (8,)) / 8),
              LIF("n", ("b",), beta=F32(1.0), threshold=F32(1.0), compare="ge"),
              Dense("c", ("n",), weight=dyadic(rng, (4, 8))),
              LIF("out", ("c",), beta=F32(0.875), threshold=F32(1.0)))
    return Graph(layers, output="out", timesteps=8)


def test_a_dense_chain_becomes_one_layer_with_the_same_float_spikes():
    rng = np.random.default_rng(3)
    graph = chain(rng)
    fused = fuse_dense_chains(graph)
    assert [lay.name for lay in fused.layers] == ["x", "b", "n", "c", "out"]
    assert fused.layer("b").inputs == ("x",)
    drive = (rng.integers(0, 16, (8, 5, 6)) / 8).astype(F32)
    want, got = run_graph(graph, drive), run_graph(fused, drive)
    for name, spikes in want.spikes.items():  # dyadic weights: the product is exact
        assert np.array_equal(got.spikes[name], spikes), name


def test_the_quantized_chain_rounds_once_and_keeps_the_spikes():
    """Dyadic weights and inputs: the folded weights are exact integers at a power-of-two unit
    (the fidelity search's first candidate), so the integer spikes are the float ones."""
    rng = np.random.default_rng(5)
    graph = chain(rng)
    drive = (rng.integers(0, 16, (8, 5, 6)) / 8).astype(F32)
    qg = api.quantize(graph, "cortex-m4", calib=drive)
    assert "a" not in qg.layers and qg.graph.layer("b").inputs == ("x",)
    want, got = run_graph(graph, drive), run_quantized(qg, drive)
    for name, spikes in want.spikes.items():
        assert np.array_equal(got.spikes[name], spikes), name


def test_recurrent_shared_and_output_layers_stay_apart():
    rng = np.random.default_rng(7)
    layers = (Input("x", (), shape=(6,)),
              Dense("a", ("x",), weight=dyadic(rng, (8, 6))),
              Dense("b", ("a",), weight=dyadic(rng, (8, 8))),
              Dense("r", ("n",), weight=dyadic(rng, (8, 8)), recurrent=True),
              Add("s", ("b", "r")),
              LIF("n", ("s",), beta=F32(1.0), threshold=F32(1.0)),
              Dense("p", ("n",), weight=dyadic(rng, (4, 8))),
              Dense("q", ("p",), weight=dyadic(rng, (4, 4))),
              Dense("o", ("p",), weight=dyadic(rng, (4, 4))),
              Add("out", ("q", "o")))
    graph = Graph(layers, output="out", timesteps=4)
    fused = fuse_dense_chains(graph)
    # a -> b folds; r is recurrent; p has two readers
    assert [lay.name for lay in fused.layers] == ["x", "b", "r", "s", "n", "p", "q", "o", "out"]
    read = Graph((Input("x", (), shape=(6,)), Dense("a", ("x",), weight=dyadic(rng, (8, 6))),
                  Dense("b", ("a",), weight=dyadic(rng, (8, 8)))), output="a", timesteps=2)
    assert fuse_dense_chains(read) is read  # the output itself is read: kept
