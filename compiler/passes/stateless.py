"""Lower a quantized SNN for a target whose layers are stateless (``execution = "qnn"``).

Such a target (BrainChip Akida 1.0) computes ``clip(ceil((x.W - threshold) / step), 0,
2^b - 1)`` once per inference with ``b``-bit activations, ``b <= activation_bits``. Every neuron
stage runs as its QNN twin (:mod:`snnc.passes.snn_to_qnn`): the level of a T-step stage is a
count in ``0..T``, held in ``b = ceil(log2(T + 1))`` bits rounded up to a width the target has
(1, 2 or 4: T = 1, 3, 15 fill them exactly; other T leave levels above T unused, and the twin
clips at ``2^b - 1`` as the hardware does, which changes nothing while the twin is exact, since
an exact twin never exceeds ``T - 1``).

Guarantees: a stage without a twin is refused with the reason; a stage whose twin is only an
approximation (a leak, a reset to zero, CUBA current dynamics) is refused unless the mapping
mode is ``qnn``, which asks for approximations explicitly. The input must be spike (rate-coded)
counts, which the twin reads as counts ``0..T`` of ``b`` bits.
"""

from __future__ import annotations

from dataclasses import replace

from snnc.cost.twins import structural_exactness, twin_blocker
from snnc.errors import UnsupportedError
from snnc.ir.layers import Graph, MultiLevelSpike
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.snn_to_qnn import convert_quantized

ACTIVATION_WIDTHS = (1, 2, 4)


def activation_width(steps: int, widest: int) -> int:
    """The narrowest activation width that holds ``0..steps``, or UnsupportedError."""
    for bits in ACTIVATION_WIDTHS:
        if bits <= widest and steps <= (1 << bits) - 1:
            return bits
    raise UnsupportedError(
        f"T = {steps} steps needs {steps.bit_length()}-bit activations; stateless layers "
        f"here hold at most {widest} bits (T <= {(1 << widest) - 1})")


def stage_problem(graph: Graph, name: str, mode: str) -> str | None:
    """Why neuron layer ``name`` cannot run as a stateless layer (None when it can)."""
    blocker = twin_blocker(graph, name)
    if blocker is not None:
        return f"no QNN twin: {blocker}"
    approximate = structural_exactness(graph.layer(name))
    if approximate is not None and mode != "qnn":
        return (f"its QNN twin is an approximation ({approximate}); pass --mapping qnn to run "
                "it as one")
    return None


def lower_stateless(qg: QuantizedGraph, mode: str = "auto") -> QuantizedGraph:
    """Every neuron stage of ``qg`` replaced by its integer QNN twin with hardware levels."""
    graph = qg.graph
    if graph.encoding != "rate":
        raise UnsupportedError(
            f"{graph.encoding}-encoded input: a stateless target reads input spike counts, "
            "so the model needs rate-coded (spike) inputs", layer=graph.input.name,
            target=qg.target)
    bits = activation_width(graph.timesteps, qg.profile.activation_bits)
    neurons = [lay.name for lay in graph.layers if lay.is_neuron]
    if not neurons:
        raise UnsupportedError("no neuron layer: nothing to run as a stateless layer",
                               target=qg.target)
    for name in neurons:
        problem = stage_problem(graph, name, mode)
        if problem is not None:
            raise UnsupportedError(problem, layer=name, target=qg.target)
    twin = convert_quantized(qg, neurons)
    levels = (1 << bits) - 1
    layers = [replace(lay, levels=levels, attrs={**lay.attrs, "activation_bits": bits})
              if isinstance(lay, MultiLevelSpike) and lay.name in neurons else lay
              for lay in twin.graph.layers]
    return replace(twin, graph=twin.graph.replace_layers(layers))
