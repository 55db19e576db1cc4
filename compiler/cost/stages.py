"""Stages: the unit the cost model and the SNN/QNN mapping decide on.

A stage is a *head* (a neuron layer, or the graph output when that is not a neuron) together
with every non-neuron layer between it and the neuron layers or graph input that feed it (its
*sources*). The synapses of a stage run once per step in the SNN mapping and once per
inference in the QNN mapping, so the stage is what gets mapped as a whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnc.cost.model import InputKind, StageShape
from snnc.ir.layers import (
    Conv2d,
    Dense,
    Graph,
    Input,
    Layer,
    MultiLevelSpike,
    SpikingSelfAttention,
    nonzero_count,
)
from snnc.ir.quantized import NumericProfile


@dataclass(frozen=True)
class Stage:
    """``members``: the non-neuron layers of the stage in graph order (synapses, pooling,
    reshapes, adds); ``sources``: the neuron layers or the input feeding it."""

    head: str
    members: tuple[str, ...]
    sources: tuple[str, ...]

    def weight_layers(self, graph: Graph) -> list[Dense | Conv2d]:
        return [lay for lay in (graph.layer(m) for m in self.members)
                if isinstance(lay, Dense | Conv2d)]


def stage_of(graph: Graph, head: str) -> Stage:
    """Walk back from ``head`` through non-neuron layers (recurrent edges included). A
    non-neuron head (a read-out such as a final Dense) is a member itself: its weights run in
    the stage."""
    members: set[str] = set() if graph.layer(head).is_neuron else {head}
    sources: set[str] = set()
    pending = list(graph.layer(head).inputs)
    while pending:
        name = pending.pop()
        if name in members or name in sources:
            continue
        lay = graph.layer(name)
        if lay.is_neuron or isinstance(lay, Input):
            sources.add(name)
            continue
        members.add(name)
        pending.extend(lay.inputs)
    order = {lay.name: i for i, lay in enumerate(graph.layers)}
    return Stage(head, tuple(sorted(members, key=order.__getitem__)),
                 tuple(sorted(sources, key=order.__getitem__)))


def stages(graph: Graph) -> list[Stage]:
    """One stage per neuron layer, plus one for a non-neuron graph output, in graph order."""
    heads = [lay.name for lay in graph.layers if lay.is_neuron]
    if not graph.layer(graph.output).is_neuron:
        heads.append(graph.output)
    return [stage_of(graph, h) for h in heads]


def synapse_count(graph: Graph, layer: Layer) -> int:
    """Connections a synaptic layer evaluates per step (zero weights excluded)."""
    if isinstance(layer, Dense):
        positions = graph.size(layer.name) // layer.weight.shape[0]
        return nonzero_count(layer.weight) * positions
    if isinstance(layer, Conv2d):
        _, h, w = graph.shape(layer.name)
        return nonzero_count(layer.weight) * h * w
    return 0


def activation_product_count(graph: Graph, layer: Layer) -> int:
    """Multiplies of two activations per step, which no spike can turn into accumulates:
    attention's ``Q K^T`` and ``A V`` (``L*L*D`` multiply-accumulates each) and its decay mask
    (one multiply per score and head)."""
    if isinstance(layer, SpikingSelfAttention):
        length, dim = graph.shape(layer.name)
        return 2 * length * length * dim + layer.heads * length * length
    return 0


def dynamic_macs(graph: Graph, stage: Stage) -> tuple[int, set[str]]:
    """(MACs per step on non-spike operands, the weight layers they include).

    Attention's products are MACs. Its output is a wide integer, not a spike, so a weight layer
    of the same stage that reads it (directly or through reshapes, pooling, adds) multiplies
    every synapse every step too: its synapses move from the accumulate count to the MACs.
    """
    carried: set[str] = set()
    macs = 0
    weight_layers: set[str] = set()
    for name in stage.members:
        lay = graph.layer(name)
        if isinstance(lay, SpikingSelfAttention):
            macs += activation_product_count(graph, lay)
            carried.add(name)
        elif any(src in carried for src in lay.inputs):
            carried.add(name)
            if isinstance(lay, Dense | Conv2d):
                macs += synapse_count(graph, lay)
                weight_layers.add(name)
    return macs, weight_layers


def source_kind(graph: Graph, source: str, profile: NumericProfile) -> tuple[InputKind, int, int]:
    """(kind, bits on the wire, largest value per step) of a source population."""
    lay = graph.layer(source)
    if isinstance(lay, Input):
        if graph.encoding == "rate":
            return "spikes", 1, 1
        return "real", profile.input_bits, 1
    if isinstance(lay, MultiLevelSpike):
        return "spikes", max(1, int(lay.levels).bit_length()), int(lay.levels)
    return "spikes", 1, 1


def stage_shape(graph: Graph, stage: Stage, profile: NumericProfile) -> StageShape:
    """Sizes the energy model needs; a stage fed by a real-valued input is ``real``."""
    member_layers = [graph.layer(m) for m in stage.members]
    macs, mac_layers = dynamic_macs(graph, stage)
    synapses = sum(synapse_count(graph, lay) for lay in member_layers
                   if lay.name not in mac_layers)
    weights = sum(nonzero_count(lay.weight) for lay in member_layers
                  if isinstance(lay, Dense | Conv2d))
    kinds = [source_kind(graph, s, profile) for s in stage.sources]
    real = any(k[0] == "real" for k in kinds)
    return StageShape(
        synapses=synapses,
        outputs=graph.size(stage.head),
        inputs=sum(graph.size(s) for s in stage.sources),
        weights=weights,
        weight_bits=profile.weight_bits,
        in_kind="real" if real else "spikes",
        in_bits=max((k[1] for k in kinds), default=1),
        max_level=max((k[2] for k in kinds), default=1),
        dynamic_macs=macs,
    )


def weighted_mean(values: list[tuple[float, int]]) -> float:
    """Mean of ``value`` weighted by ``size``; 0 for an empty list."""
    total = sum(size for _, size in values)
    if total == 0:
        return 0.0
    return math.fsum(v * size for v, size in values) / total
