"""Composed stage matrices equal the reference kernels run layer by layer, for every linear
layer type (the composition builds matrices from index arithmetic, never from the kernels)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from snnc.backends.common.compose import compose
from snnc.backends.common.sparse import conv_matrix, sum_pool_matrix
from snnc.ir.layers import (
    LIF,
    Add,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    Layer,
    Pool2d,
    Reshape,
    SpikingSelfAttention,
)
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.passes.quantize import quantize
from snnc.reference import kernels
from snnc.target import load_target

F32 = np.float32
I64 = np.int64
TARGET = load_target("loihi2")


def _kernel_value(layer: Layer, q: QuantLayer, args: list[np.ndarray]) -> np.ndarray:
    """What ``snnc.reference.integer`` computes for a linear layer (batch-first int64)."""
    bias = None if q.bias is None else np.asarray(q.bias, I64)
    if isinstance(layer, Dense):
        return kernels.dense(args[0], np.asarray(q.weight, I64), bias)
    if isinstance(layer, Conv2d):
        return kernels.conv2d(args[0], np.asarray(q.weight, I64), bias, layer.stride,
                              layer.padding, layer.dilation, layer.groups)
    if isinstance(layer, Pool2d):
        return kernels.pool2d(args[0], layer.pool, layer.kernel, layer.stride, layer.padding,
                              integer=True)
    if isinstance(layer, Flatten):
        return args[0].reshape(args[0].shape[0], -1)
    if isinstance(layer, Reshape):
        return args[0].reshape((args[0].shape[0], *layer.shape))
    assert isinstance(layer, Add)
    return sum(args[1:], args[0])


def run_stage(qg: QuantizedGraph, node: str, given: Mapping[str, np.ndarray]) -> np.ndarray:
    graph = qg.graph
    memo = dict(given)

    def value(name: str) -> np.ndarray:
        if name not in memo:
            layer = graph.layer(name)
            memo[name] = _kernel_value(layer, qg.layers.get(name, QuantLayer()),
                                       [value(s) for s in layer.inputs])
        return memo[name]

    return value(node).reshape(next(iter(given.values())).shape[0], -1)


def assert_composition_matches_kernels(qg: QuantizedGraph, node: str,
                                       frontier: tuple[str, ...]) -> None:
    """Probe with every unit vector of every frontier layer plus random integer inputs."""
    graph = qg.graph
    maps, bias = compose(qg, node, frontier)
    zero = {f: np.zeros((1, *graph.shape(f)), I64) for f in frontier}
    assert np.array_equal(run_stage(qg, node, zero)[0], bias)
    rng = np.random.default_rng(0)
    random = {f: rng.integers(-3, 4, (5, *graph.shape(f))).astype(I64) for f in frontier}
    total = np.broadcast_to(bias, (5, graph.size(node))).copy()
    for f in frontier:
        rows, cols, vals = maps[f].rows, maps[f].cols, maps[f].vals
        flat = np.ravel_multi_index((rows, cols), (graph.size(node), graph.size(f)))
        assert np.all(np.diff(flat) > 0), "COO entries are row-major and unique"
        assert np.all(vals != 0)
        matrix = np.zeros((graph.size(node), graph.size(f)), I64)
        matrix[rows, cols] = vals
        n = graph.size(f)
        probe = {g: np.zeros((n, *graph.shape(g)), I64) for g in frontier}
        probe[f] = np.eye(n, dtype=I64).reshape((n, *graph.shape(f)))
        assert np.array_equal(run_stage(qg, node, probe) - bias, matrix.T)
        total += random[f].reshape(5, -1) @ matrix.T
    assert np.array_equal(run_stage(qg, node, random), total)


def lif(name: str, src: str) -> LIF:
    return LIF(name, (src,), beta=F32(0.9), threshold=F32(1.0))


def weight(rng: np.random.Generator, *shape: int, zeros: float = 0.3) -> np.ndarray:
    w = rng.normal(0, 1, shape).astype(F32)
    return w * (rng.random(shape) >= zeros)


def q(graph: Graph) -> QuantizedGraph:
    return quantize(graph, TARGET.numeric, target=TARGET.name)


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [
    ((1, 1), (0, 0, 0, 0), (1, 1), 1),
    ((1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((2, 1), (1, 0, 2, 1), (1, 1), 2),
    ((1, 2), (2, 2, 0, 1), (2, 1), 1),
    ((3, 3), (0, 1, 0, 1), (1, 2), 4),
])
def test_conv_stage_matches_the_reference_kernel(stride, padding, dilation, groups):
    rng = np.random.default_rng(sum(stride) + groups)
    graph = Graph((Input("x", (), shape=(4, 7, 6)),
                   Conv2d("conv", ("x",), weight=weight(rng, 4, 4 // groups, 3, 2),
                          bias=rng.normal(0, 1, 4).astype(F32), stride=stride,
                          padding=padding, dilation=dilation, groups=groups),
                   lif("s", "conv")), output="s", encoding="rate")
    assert_composition_matches_kernels(q(graph), "conv", ("x",))


@pytest.mark.parametrize("pool", ["sum", "avg"])
def test_sum_and_average_pooling_stages_are_window_sums(pool):
    rng = np.random.default_rng(1)
    graph = Graph((Input("x", (), shape=(2, 7, 7)), lif("s", "x"),
                   Pool2d("pool", ("s",), pool=pool, kernel=(3, 2), stride=(2, 3),
                          padding=(1, 0, 1, 1)),
                   Flatten("flat", ("pool",)),
                   Dense("fc", ("flat",), weight=weight(rng, 3, 2 * 4 * 3)),
                   lif("out", "fc")), output="out", encoding="rate")
    assert_composition_matches_kernels(q(graph), "fc", ("s",))


def test_dense_on_a_sequence_applies_per_position_and_reshape_keeps_the_order():
    rng = np.random.default_rng(2)
    graph = Graph((Input("x", (), shape=(12,)), lif("s", "x"),
                   Reshape("seq", ("s",), shape=(3, 4)),
                   Dense("fc", ("seq",), weight=weight(rng, 5, 4),
                         bias=rng.normal(0, 1, 5).astype(F32)),
                   lif("out", "fc")), output="out", encoding="rate")
    assert_composition_matches_kernels(q(graph), "fc", ("s",))


def test_add_of_two_sources_and_a_shared_branch_sums_every_path():
    rng = np.random.default_rng(3)
    graph = Graph((Input("x", (), shape=(6,)), lif("a", "x"), lif("b", "x"),
                   Dense("fa", ("a",), weight=weight(rng, 4, 6)),
                   Dense("fb", ("b",), weight=weight(rng, 4, 6),
                         bias=rng.normal(0, 1, 4).astype(F32)),
                   Add("sum", ("fa", "fb")),
                   Dense("fa2", ("a",), weight=weight(rng, 4, 6)),
                   Add("total", ("sum", "fa2")),
                   lif("out", "total")), output="out", encoding="rate")
    assert_composition_matches_kernels(q(graph), "total", ("a", "b"))


def test_two_dense_layers_in_a_row_compose_into_their_product():
    rng = np.random.default_rng(4)
    graph = Graph((Input("x", (), shape=(2, 5, 5)), lif("s", "x"),
                   Conv2d("conv", ("s",), weight=weight(rng, 3, 2, 3, 3), padding=(1, 1, 1, 1)),
                   Flatten("flat", ("conv",)),
                   Dense("fc1", ("flat",), weight=weight(rng, 7, 75)),
                   Dense("fc2", ("fc1",), weight=weight(rng, 4, 7),
                         bias=rng.normal(0, 1, 4).astype(F32)),
                   lif("out", "fc2")), output="out", encoding="rate")
    assert_composition_matches_kernels(q(graph), "fc2", ("s",))


def test_a_given_attention_value_is_a_frontier_like_a_source():
    rng = np.random.default_rng(5)
    graph = Graph((Input("x", (), shape=(3, 4)), lif("s", "x"),
                   SpikingSelfAttention("attn", ("s", "s", "s"), heads=2,
                                        gammas=np.array([0.5, 0.9], F32)),
                   Dense("proj", ("attn",), weight=weight(rng, 4, 4)),
                   lif("out", "proj")), output="out", encoding="rate")
    assert_composition_matches_kernels(q(graph), "proj", ("attn",))


def test_a_frontier_layer_that_does_not_reach_the_node_gets_an_empty_matrix():
    rng = np.random.default_rng(6)
    graph = Graph((Input("x", (), shape=(3,)), lif("a", "x"), lif("b", "x"),
                   Dense("fc", ("a",), weight=weight(rng, 2, 3)), lif("out", "fc")),
                  output="out", encoding="rate")
    maps, _ = compose(q(graph), "fc", ("a", "b"))
    assert maps["b"].nnz == 0 and maps["b"].shape == (2, 3)


def test_conv_matrix_holds_one_entry_per_synapse_and_padding_adds_none():
    w = np.ones((2, 1, 3, 3), I64)
    mat = conv_matrix(w, (1, 4, 4), (2, 4, 4), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    # per output channel: 4 corners x 4 taps + 8 edges x 6 taps + 4 inner x 9 taps
    assert mat.nnz == 2 * (4 * 4 + 8 * 6 + 4 * 9)
    pool = sum_pool_matrix((1, 4, 4), (1, 2, 2), (2, 2), (2, 2), (0, 0, 0, 0))
    assert pool.nnz == 16 and np.array_equal(pool.to_dense().sum(axis=0), np.ones(16))
