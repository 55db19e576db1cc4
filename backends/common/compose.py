"""Compose a synaptic stage into one exact integer matrix per frontier layer, plus a bias.

A stage's linear layers (Dense, Conv2d, sum/average pooling, Flatten, Reshape, Add) between its
frontier (its sources, or a layer whose value is given, such as an attention layer run
elsewhere) and its value make the value affine in the frontier's outputs:
``value(node) = sum_f M_f @ flat(f) + b``. Each layer's own matrix comes from
:mod:`snnc.backends.common.sparse`; the maps are composed layer by layer in int64, so the
composed map computes the very integers of ``snnc.reference.integer`` running the layers one by
one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from snnc.backends.common import sparse
from snnc.backends.common.sparse import Coo
from snnc.ir.layers import Add, Conv2d, Dense, Flatten, Graph, Layer, Pool2d, Reshape
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.ir.stages import is_source

I64 = np.int64
Affine = tuple[dict[str, Coo], np.ndarray]


def layer_matrix(graph: Graph, layer: Layer, q: QuantLayer) -> tuple[Coo, np.ndarray | None]:
    """A single-input linear layer as (matrix over flattened tensors, bias or None)."""
    (src,) = layer.inputs
    in_shape, out_shape = graph.shape(src), graph.shape(layer.name)
    if isinstance(layer, Dense):
        lead = math.prod(in_shape[:-1])
        bias = None if q.bias is None else np.tile(np.asarray(q.bias, I64).reshape(-1), lead)
        return sparse.dense_matrix(q.weight, lead), bias  # in the weights' storage type
    if isinstance(layer, Conv2d):
        mat = sparse.conv_matrix(np.asarray(q.weight, I64), in_shape, out_shape, layer.stride,
                                 layer.padding, layer.dilation, layer.groups)
        bias = None if q.bias is None else np.repeat(np.asarray(q.bias, I64).reshape(-1),
                                                     out_shape[1] * out_shape[2])
        return mat, bias
    if isinstance(layer, Pool2d) and layer.pool in ("sum", "avg"):
        return sparse.sum_pool_matrix(in_shape, out_shape, layer.kernel, layer.stride,
                                      layer.padding), None
    raise TypeError(f"layer '{layer.name}' ({type(layer).__name__}) has no affine form")


class StageComposer:
    """Affine maps of layer values over a frontier, memoised per layer (one composer serves
    every stage of a graph when the frontier is the same rule for all of them).

    ``frontier`` says which layers are the stage's inputs (default: the sources); every other
    layer reached must be linear.
    """

    def __init__(self, qg: QuantizedGraph,
                 frontier: Callable[[Layer], bool] = is_source) -> None:
        self.qg = qg
        self.graph = qg.graph
        self.frontier = frontier
        self.memo: dict[str, Affine] = {}

    def affine(self, name: str) -> Affine:
        if name not in self.memo:
            self.memo[name] = self._build(self.graph.layer(name))
        return self.memo[name]

    def _build(self, layer: Layer) -> Affine:
        n = self.graph.size(layer.name)
        if self.frontier(layer):
            return {layer.name: sparse.identity(n)}, np.zeros(n, I64)
        if isinstance(layer, Flatten | Reshape):
            return self.affine(layer.inputs[0])
        if isinstance(layer, Add):
            maps: dict[str, Coo] = {}
            bias = np.zeros(n, I64)
            for src in layer.inputs:
                part, b = self.affine(src)
                for key, mat in part.items():
                    maps[key] = sparse.add(maps[key], mat) if key in maps else mat
                bias = bias + b
            return maps, bias
        mat, own_bias = layer_matrix(self.graph, layer,
                                     self.qg.layers.get(layer.name, QuantLayer()))
        maps_in, bias_in = self.affine(layer.inputs[0])
        maps = {key: sparse.matmul(mat, m) for key, m in maps_in.items()}
        bias = mat.apply(bias_in)
        if own_bias is not None:
            bias = bias + own_bias
        return maps, bias


def compose(qg: QuantizedGraph, node: str, frontier: tuple[str, ...]) -> Affine:
    """Per frontier layer its matrix into ``node`` (shape (size(node), size(f)), coalesced,
    empty when ``f`` does not reach ``node``) and the stage's constant bias."""
    names = frozenset(frontier)
    maps, bias = StageComposer(qg, lambda layer: layer.name in names).affine(node)
    size = qg.graph.size(node)
    empty = np.zeros(0, I64)
    out = {f: maps.get(f, Coo(empty, empty, empty, (size, qg.graph.size(f)))) for f in frontier}
    return out, np.asarray(bias, I64).reshape(-1)
