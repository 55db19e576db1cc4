"""Whether a neuron layer has a QNN twin, and whether the twin is exact.

The twin itself (the conversion and its check on data) is a pass, :mod:`snnc.passes.snn_to_qnn`;
this is the structural analysis both the cost model (which mapping can a stage take) and that
pass read, so it lives on the cost side and the passes import it.
"""

from __future__ import annotations

import numpy as np

from snnc.ir import layers as ir

_PASS_THROUGH = (ir.Flatten, ir.Reshape, ir.Pool2d)


def twin_blocker(graph: ir.Graph, name: str) -> str | None:
    """Why layer ``name`` has no QNN twin, or None when it has one."""
    lay = graph.layer(name)
    if isinstance(lay, ir.MultiLevelSpike):
        return "multi-level layer: it already emits D levels per step, there is no twin"
    if not isinstance(lay, ir.LIF | ir.CubaLIF):
        return f"{lay.kind} layer is not a neuron"
    if isinstance(lay, ir.LIF) and lay.graded:
        return "graded spikes: a count per step, not one of T levels per inference"
    if any(getattr(x, "recurrent", False) for x in graph.layers):
        return "recurrent graph: a layer run once per inference cannot feed a recurrence"
    if scalar_value(lay.threshold) is None:
        return "per-neuron thresholds: the twin needs one threshold per layer"
    if len(lay.inputs) != 1 or not isinstance(graph.layer(lay.inputs[0]), ir.Dense | ir.Conv2d):
        return "the neuron must be fed directly by one Dense or Conv2d synapse"
    syn = graph.layer(lay.inputs[0])
    if [c.name for c in graph.consumers(syn.name)] != [name]:
        return f"synapse '{syn.name}' has other consumers; its bias cannot absorb the twin shift"
    if lay.bias is not None and fold_bias(syn, np.asarray(lay.bias)) is None:
        return "the neuron bias varies along a non-channel axis and cannot move to the synapse"
    return _path_blocker(graph, syn.inputs[0])


def _path_blocker(graph: ir.Graph, name: str) -> str | None:
    """Between the synapse and its source only operations that commute with summing over
    time may appear (reshapes, average and sum pooling)."""
    lay = graph.layer(name)
    while not (lay.is_neuron or isinstance(lay, ir.Input)):
        if not isinstance(lay, _PASS_THROUGH):
            return f"'{lay.name}' ({lay.kind}) lies between the synapse and its spike source"
        if isinstance(lay, ir.Pool2d) and lay.pool == "max":
            return f"max pooling '{lay.name}' does not commute with summing spikes over time"
        lay = graph.layer(lay.inputs[0])
    return None


def structural_exactness(layer: ir.Layer) -> str | None:
    """None when the twin reproduces the layer's spike counts whenever every step's input
    current lies in ``[0, theta)``; otherwise what makes the twin an approximation."""
    if isinstance(layer, ir.CubaLIF):
        return "CUBA current dynamics (the twin sums the synaptic input, not the current)"
    if not isinstance(layer, ir.LIF):
        return f"{layer.kind} layer"
    problems = []
    if not np.all(np.asarray(layer.beta) == 1):
        problems.append("leak beta != 1")
    if layer.reset != "subtract":
        problems.append(f"reset to {layer.reset}, not by subtraction")
    return "; ".join(problems) or None


def scalar_value(value: np.ndarray | None) -> float | None:
    """The single value of a uniform array, else None."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.size == 0:
        return None
    first = arr.flat[0]
    return first.item() if np.all(arr == first) else None


def bias_len(syn: ir.Dense | ir.Conv2d) -> int:
    return int(syn.weight.shape[0])


def fold_bias(syn: ir.Dense | ir.Conv2d, neuron_bias: np.ndarray) -> np.ndarray | None:
    """The neuron bias as one value per output channel of ``syn`` (dtype kept), or None if it
    varies along a non-channel axis."""
    n = bias_len(syn)
    shape = np.shape(neuron_bias)
    if neuron_bias.size == 1:
        return np.full(n, neuron_bias.reshape(()).item(), neuron_bias.dtype)
    if isinstance(syn, ir.Dense) and shape[-1] == n and int(np.prod(shape[:-1])) == 1:
        return neuron_bias.reshape(n)
    if isinstance(syn, ir.Conv2d) and shape == (n, 1, 1):
        return neuron_bias.reshape(n)
    return None
