"""The sizes of a synaptic stage the energy model needs (:class:`StageShape`).

A stage (:mod:`snnc.ir.stages`) is the unit the cost model and the SNN/QNN mapping decide on:
its synapses run once per step in the SNN mapping and once per inference in the QNN mapping, so
the stage is what gets mapped as a whole.
"""

from __future__ import annotations

import math

from snnc.cost.model import InputKind, StageShape
from snnc.cost.twins import twin_blocker
from snnc.ir.layers import Conv2d, Dense, Graph, Input, Layer, SpikingSelfAttention, nonzero_count
from snnc.ir.quantized import NumericProfile
from snnc.ir.stages import Stage, source_peak


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
    """(kind, bits on the wire, largest value per step) of a source population; a graded
    (not rate-coded) input is ``real``."""
    lay = graph.layer(source)
    if isinstance(lay, Input) and graph.encoding != "rate":
        return "real", profile.input_bits, 1
    peak = source_peak(lay, profile, graph.encoding)
    return "spikes", max(1, peak.bit_length()), peak


def sends_spike_trains(graph: Graph, source: str) -> bool:
    """Whether ``source`` keeps sending step-by-step spikes in the all-QNN program: the
    rate-coded graph input and layers without a QNN twin. A twin-capable source is taken to
    run as a twin with the stage (the QNN column prices the stage with its sources' levels)."""
    lay = graph.layer(source)
    if isinstance(lay, Input):
        return graph.encoding == "rate"
    return twin_blocker(graph, source) is not None


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
        spike_inputs=sum(graph.size(s) for s in stage.sources if sends_spike_trains(graph, s)),
    )


def weighted_mean(values: list[tuple[float, int]]) -> float:
    """Mean of ``value`` weighted by ``size``; 0 for an empty list."""
    total = sum(size for _, size in values)
    if total == 0:
        return 0.0
    return math.fsum(v * size for v, size in values) / total
