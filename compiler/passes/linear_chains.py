"""Consecutive dense layers as one, for integer targets.

Exported graphs can hold two ``Linear`` layers with nothing between them (SpikingJelly's
``LinearRecurrentContainer`` through the dynamo exporter: the block's input projection follows
the model's own ``Linear``). In integer arithmetic the chain quantizes twice: the first layer's
output becomes an integer in its own unit, and the second layer's weights are then rounded in
units of (its current unit / that unit), often only a few levels, so the spikes behind it are
lost. ``W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)`` is one dense layer whose weights the
quantizer rounds once, at full ``weight_bits``.

The product is formed in float64 and stored as float32: exact for the dyadic weights of
exported models, otherwise within float32 rounding of the chain's own float arithmetic.
Applied by :func:`snnc.passes.quantize.quantize`; the float model itself is not changed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from snnc.ir.layers import Dense, Graph, Layer


def _fusable(graph: Graph, first: Layer, readers: dict[str, list[str]]) -> bool:
    """A feed-forward dense layer read only by one feed-forward dense layer."""
    return (isinstance(first, Dense) and not first.recurrent and first.name != graph.output
            and len(readers.get(first.name, [])) == 1)


def fuse_dense_chains(graph: Graph) -> Graph:
    """``graph`` with every dense layer that only feeds another dense layer folded into it.
    The second layer keeps its name (its readers and the trace still find it)."""
    readers: dict[str, list[str]] = {}
    for lay in graph.layers:
        for src in lay.inputs:
            readers.setdefault(src, []).append(lay.name)
    merged: dict[str, Dense] = {}
    dropped: set[str] = set()
    for lay in graph.layers:
        if not isinstance(lay, Dense) or lay.recurrent or len(lay.inputs) != 1:
            continue
        first = merged.get(lay.inputs[0], graph.layer(lay.inputs[0]))
        if not _fusable(graph, first, readers):
            continue
        assert isinstance(first, Dense)
        w2 = np.asarray(lay.weight, np.float64)
        weight = w2 @ np.asarray(first.weight, np.float64)
        bias = None if lay.bias is None else np.asarray(lay.bias, np.float64)
        if first.bias is not None:
            inner = w2 @ np.asarray(first.bias, np.float64)
            bias = inner if bias is None else bias + inner
        merged[lay.name] = replace(
            lay, inputs=first.inputs, weight=weight.astype(np.float32),
            bias=None if bias is None else bias.astype(np.float32))
        dropped.add(first.name)
    if not dropped:
        return graph
    return graph.replace_layers([merged.get(lay.name, lay) for lay in graph.layers
                                 if lay.name not in dropped])
