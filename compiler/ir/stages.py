"""Synaptic stages: the unit in which every executor moves values between neuron populations.

A *source* is a layer whose output crosses a synaptic stage: the graph input or a neuron layer.
A *stage* is a *head* (a neuron layer, or the graph output when that is not a neuron) together
with every non-source layer between it and the sources that feed it (synapses, pooling,
reshapes, adds, attention). The stage reads its sources ``synapse_delay`` steps late, a
recurrent synapse at least one step late; layers inside a stage read each other at once.

The integer reference defines these rules; the cost model, the SNN/QNN mapping and every backend
read them from here, so bit-exactness is decided in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from snnc.ir.layers import (
    LIF,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Layer,
    MultiLevelSpike,
    Pool2d,
    Reshape,
)
from snnc.ir.quantized import NumericProfile


def is_source(layer: Layer) -> bool:
    """True for layers whose outputs travel through a synaptic stage (and its delay)."""
    return layer.is_neuron or isinstance(layer, Input)


def read_lag(consumer: Layer, source: Layer, profile: NumericProfile) -> int:
    """Steps between ``source``'s value and what ``consumer`` reads of it.

    A recurrent synapse reads its source at least one step late (else it would read a value not
    yet computed); a synapse reading a source waits ``synapse_delay`` steps; a neuron reading a
    source directly, and any layer reading another layer of its own stage, reads at once.
    """
    if getattr(consumer, "recurrent", False):
        return max(1, profile.synapse_delay)
    if is_source(source) and not consumer.is_neuron:
        return profile.synapse_delay
    return 0


def source_peak(layer: Layer, profile: NumericProfile, encoding: str = "direct",
                vth: Any = None) -> int:
    """Largest |value| a source sends in one step, in integer units.

    Spikes send 1, a graded LIF up to the profile's ``max_spikes``, a multi-level spike layer up
    to ``levels``, the graph input up to ``input_max`` (clipped to ``input_bits``); a rate-coded
    input (``encoding == "rate"``) is a 0/1 spike train, so it sends 1. Given a graded LIF's
    integer thresholds ``vth``, its count is also at most what its membrane register can hold,
    ``2^(state_bits-1) // (min(vth) << threshold_shift)``: the count is ``floor(v / theta)`` of
    a membrane within ``state_bits`` (a 24-bit Loihi membrane over a fine threshold sends far
    fewer than 127).
    """
    if isinstance(layer, Input):
        return 1 if encoding == "rate" else profile.input_max
    if isinstance(layer, MultiLevelSpike):
        return int(layer.levels)
    if isinstance(layer, LIF) and layer.graded:
        if vth is None or np.size(vth) == 0:
            return profile.max_spikes
        theta = max(1, int(np.min(vth))) << profile.threshold_shift
        return min(profile.max_spikes, (1 << (profile.state_bits - 1)) // theta)
    return 1


def sends_binary(graph: Graph, name: str) -> bool:
    """True when every value ``name`` produces is 0 or 1: a LIF/CubaLIF's spikes (not a graded
    LIF's counts), a rate-coded input, and reshapes or max pools of those. Max pooling of such
    values is an OR, which a neuron firing on any input computes; of anything else (currents,
    spike levels, graded counts, real-valued inputs) it is not."""
    layer = graph.layer(name)
    if isinstance(layer, Flatten | Reshape) or (isinstance(layer, Pool2d)
                                                 and layer.pool == "max"):
        return sends_binary(graph, layer.inputs[0])
    if isinstance(layer, Input):
        return graph.encoding == "rate"
    return isinstance(layer, CubaLIF) or (isinstance(layer, LIF) and not layer.graded)


@dataclass(frozen=True)
class Stage:
    """``members``: the non-source layers of the stage in graph order (synapses, pooling,
    reshapes, adds, attention); ``sources``: the layers feeding it where the walk stopped (the
    input and neuron layers), in graph order."""

    head: str
    members: tuple[str, ...]
    sources: tuple[str, ...]

    def weight_layers(self, graph: Graph) -> list[Dense | Conv2d]:
        return [lay for lay in (graph.layer(m) for m in self.members)
                if isinstance(lay, Dense | Conv2d)]


def stage_of(graph: Graph, head: str, stop: Callable[[Layer], bool] = is_source) -> Stage:
    """Walk back from ``head`` through non-source layers (recurrent edges included).

    A non-neuron head (a read-out such as a final Dense, or the value a neuron layer reads) is
    a member itself: its weights run in the stage. ``stop`` says where the walk ends (default:
    at sources); a backend that treats some other layer as a stage boundary (an attention layer
    run off-chip) passes its own, and finds those layers among ``sources``.
    """
    members: set[str] = set() if graph.layer(head).is_neuron else {head}
    sources: set[str] = set()
    pending = list(graph.layer(head).inputs)
    while pending:
        name = pending.pop()
        if name in members or name in sources:
            continue
        lay = graph.layer(name)
        if stop(lay):
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
