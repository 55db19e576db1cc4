"""Dead-neuron elimination: remove neurons that never fired on the calibration data.

A neuron that never fires outputs 0 at every step, so its outgoing weights never contribute:
deleting the neuron, its incoming weight row (and bias) and its outgoing weight columns leaves
every other value of the run unchanged. Neurons are removed per *channel*: one unit of a
Dense-fed layer, or a whole channel of a Conv-fed (C, H, W) layer when no position fired.

Needs: :func:`snnc.passes.calibrate.calibrate` (the ``active`` annotation).
Preserves: the float reference outputs exactly on the calibration data, and on any input for
which the removed neurons would stay silent. A layer is left alone when the removal could not
be local: it is the graph output, its synapse has other readers, or its spikes reach an
``Add``, ``Reshape``, attention or another neuron directly (shapes there must not change), or
its threshold is input-aware (``MultiLevelSpike`` with an axis: the mean over neurons would
change). At least one channel is kept so no tensor becomes empty. Integer quantization runs
afterwards and may choose a finer scale where a dead neuron held the largest weight.

The removal is exact in real arithmetic, not always in float32: a dot product over fewer terms
may be summed in another order (the BLAS blocks its sums by vector length), and a layer that
amplifies its input, such as a graded count ``floor(v / theta)`` with a tiny ``theta``, turns
that last-bit difference into another count. Given a ``keeps_outputs`` check (the pipeline
passes its own, on the calibration data), a layer's removal is undone when it changes the
outputs; the layer records the silent channels it kept (``dead_kept``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from snnc.errors import InputError
from snnc.ir import layers as ir

# (consumer layer, keep-mask over its input feature axis)
Edit = tuple[str, np.ndarray]
# (graph before the pass, candidate graph) -> whether the candidate's outputs are identical
OutputCheck = Callable[[ir.Graph, ir.Graph], bool]


def dead_channels(graph: ir.Graph, name: str) -> np.ndarray:
    """Bool mask over the layer's channels: True where no neuron of the channel ever fired."""
    layer = graph.layer(name)
    if "active" not in layer.attrs:
        raise InputError(f"layer '{name}': dead-neuron elimination needs calibration data "
                         "(run calibrate first)")
    active = np.asarray(layer.attrs["active"], bool)
    if active.ndim <= 1:
        return ~active.reshape(-1)
    return ~active.reshape(active.shape[0], -1).any(axis=1)


def removal_plan(graph: ir.Graph, name: str) -> str | None:
    """The producing synapse when the layer's channels can be removed locally, else None."""
    layer = graph.layer(name)
    if not isinstance(layer, ir.LIF | ir.CubaLIF | ir.MultiLevelSpike) or name == graph.output:
        return None
    if isinstance(layer, ir.MultiLevelSpike) and layer.axis is not None:
        return None
    if len(layer.inputs) != 1:
        return None
    syn = graph.layer(layer.inputs[0])
    if not isinstance(syn, ir.Dense | ir.Conv2d) or syn.recurrent:
        return None
    if isinstance(syn, ir.Conv2d) and syn.groups != 1:  # rows of a grouped conv are tied to groups
        return None
    if [c.name for c in graph.consumers(syn.name)] != [name]:
        return None
    shape = graph.shape(name)
    if isinstance(syn, ir.Dense) and len(shape) != 1:
        return None
    channels = shape[0]
    if _downstream(graph, name, np.ones(channels, bool)) is None:
        return None
    return syn.name


def _downstream(graph: ir.Graph, name: str, keep: np.ndarray) -> list[Edit] | None:
    """Consumer edits for removing the False entries of ``keep`` (over ``name``'s channel
    axis), following pooling and flattening; None when some reader cannot be edited."""
    shape = graph.shape(name)
    edits: list[Edit] = []
    for consumer in graph.consumers(name):
        if _reads_channels(consumer, len(shape)):
            edits.append((consumer.name, keep))
        elif isinstance(consumer, ir.Pool2d | ir.Flatten) and consumer.name != graph.output:
            flat = keep if isinstance(consumer, ir.Pool2d) or len(shape) == 1 else \
                np.repeat(keep, math.prod(shape[1:]))
            sub = _downstream(graph, consumer.name, flat)
            if sub is None:
                return None
            edits.extend(sub)
        else:
            return None
    return edits


def _reads_channels(consumer: ir.Layer, ndim: int) -> bool:
    """A weight layer whose input feature axis is the channel axis of a ``ndim`` tensor."""
    if isinstance(consumer, ir.Dense):
        return ndim == 1
    return isinstance(consumer, ir.Conv2d) and ndim == 3 and consumer.groups == 1


def _index_param(value: np.ndarray | None, keep: np.ndarray, ndim: int) -> np.ndarray | None:
    """Select the kept channels of a neuron parameter that broadcasts to the layer shape."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.ndim == ndim and arr.shape[0] == keep.size:
        return arr[keep]
    return arr


def _shrink_neuron(layer: ir.Layer, keep: np.ndarray, ndim: int) -> ir.Layer:
    if isinstance(layer, ir.LIF):
        layer = replace(layer, beta=_index_param(layer.beta, keep, ndim),
                        threshold=_index_param(layer.threshold, keep, ndim),
                        bias=_index_param(layer.bias, keep, ndim))
    elif isinstance(layer, ir.CubaLIF):
        layer = replace(layer, current_decay=_index_param(layer.current_decay, keep, ndim),
                        voltage_decay=_index_param(layer.voltage_decay, keep, ndim),
                        threshold=_index_param(layer.threshold, keep, ndim),
                        bias=_index_param(layer.bias, keep, ndim))
    active = np.asarray(layer.attrs["active"], bool)[keep]
    removed = int(layer.attrs.get("dead_removed", 0)) + int((~keep).sum())
    return layer.with_attrs(active=active, dead_removed=removed)


def _shrink_rows(syn: ir.Layer, keep: np.ndarray) -> ir.Layer:
    assert isinstance(syn, ir.Dense | ir.Conv2d)
    bias = None if syn.bias is None else np.asarray(syn.bias)[keep]
    return replace(syn, weight=syn.weight[keep], bias=bias)


def _shrink_inputs(layer: ir.Layer, mask: np.ndarray) -> ir.Layer:
    assert isinstance(layer, ir.Dense | ir.Conv2d)
    return replace(layer, weight=layer.weight[:, mask])


def eliminate_dead_neurons(graph: ir.Graph, keeps_outputs: OutputCheck | None = None) -> ir.Graph:
    """Remove the never-firing channels of every layer where that is local (module docstring).

    With ``keeps_outputs``, every removal is checked at once and, only if that fails, layer by
    layer, so the usual case costs one check."""
    neurons = [lay.name for lay in graph.layers if lay.is_neuron]
    everything = graph
    for neuron in neurons:
        everything = _remove_dead(everything, neuron)
    if keeps_outputs is None or everything is graph or keeps_outputs(graph, everything):
        return everything
    current = graph
    for neuron in neurons:
        candidate = _remove_dead(current, neuron)
        if candidate is current:
            continue
        if keeps_outputs(graph, candidate):
            current = candidate
            continue
        layer = current.layer(neuron)
        kept = int(dead_channels(current, neuron).sum())
        current = current.replace_layers([layer.with_attrs(dead_kept=kept) if lay is layer
                                          else lay for lay in current.layers])
    return current


def _remove_dead(graph: ir.Graph, neuron: str) -> ir.Graph:
    """``graph`` without ``neuron``'s silent channels; ``graph`` itself when none can go."""
    syn_name = removal_plan(graph, neuron)
    if syn_name is None:
        return graph
    dead = dead_channels(graph, neuron)
    if not dead.any():
        return graph
    keep = ~dead
    if not keep.any():
        keep[0] = True
        if dead.size == 1:
            return graph
    edits = _downstream(graph, neuron, keep)
    assert edits is not None  # removal_plan checked every reader
    ndim = len(graph.shape(neuron))
    layers = {lay.name: lay for lay in graph.layers}
    layers[syn_name] = _shrink_rows(layers[syn_name], keep)
    layers[neuron] = _shrink_neuron(layers[neuron], keep, ndim)
    for consumer, mask in edits:
        layers[consumer] = _shrink_inputs(layers[consumer], mask)
    return graph.replace_layers([layers[lay.name] for lay in graph.layers])
