"""Quantize a float layer view to a target's numeric profile.

Guarantees: every weight fits ``weight_bits``, every threshold ``threshold_bits``, decays lie in
[0, 2^decay_bits]; the weight layers of one synaptic stage that meet in an ``Add`` share one
current unit, so their integer sums are exact. Spikes and spike levels have unit 1. The float and
integer runs agree up to rounding of parameters; :func:`agreement` measures by how much.

Must run after BatchNorm folding and pruning (they change the float weights it reads).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.errors import QuantizationError
from snnc.ir.layers import (
    LIF,
    Add,
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
    SpikingSelfAttention,
)
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer, round_clip
from snnc.passes.or_pooling import or_neurons

_PASS_THROUGH = (Pool2d, Flatten, Reshape, Add)


def _stage_neuron(graph: Graph, name: str) -> Layer | None:
    """The neuron layer that a synaptic value ends up driving (through pooling/reshapes/adds)."""
    for consumer in graph.consumers(name):
        if consumer.is_neuron:
            return consumer
        if isinstance(consumer, _PASS_THROUGH):
            found = _stage_neuron(graph, consumer.name)
            if found is not None:
                return found
    return None


def _add_groups(graph: Graph) -> dict[str, str]:
    """Map each weight layer to a representative: layers summed by one Add share a unit."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    def weight_roots(name: str) -> list[str]:
        lay = graph.layer(name)
        if isinstance(lay, Dense | Conv2d):
            return [name]
        if isinstance(lay, _PASS_THROUGH):
            return [r for s in lay.inputs for r in weight_roots(s)]
        return []

    for lay in graph.layers:
        if isinstance(lay, Add):
            roots = weight_roots(lay.name)
            for other in roots[1:]:
                parent[find(other)] = find(roots[0])
    return {lay.name: find(lay.name) for lay in graph.layers if isinstance(lay, Dense | Conv2d)}


def _max_abs(a: np.ndarray | None) -> float:
    return 0.0 if a is None or np.size(a) == 0 else float(np.max(np.abs(a)))


def _threshold_of(neuron: Layer | None) -> float:
    if isinstance(neuron, LIF | CubaLIF):
        return _max_abs(neuron.threshold)
    if isinstance(neuron, MultiLevelSpike) and neuron.axis is None:
        return abs(neuron.theta or 0.0)
    return 0.0


def _decay_int(rate: np.ndarray, p: NumericProfile, offset: int = 0) -> np.ndarray:
    """A decay rate in [0, 1] as the integer ``d`` with ``(2^D - d - offset) / 2^D ~ 1 - rate``."""
    one = 1 << p.decay_bits
    d = np.rint(np.asarray(rate, np.float64) * one).astype(np.int64) - offset
    return np.clip(d, 0, one - offset)


def _round_clip(x: np.ndarray | None, unit: float, bits: int) -> np.ndarray | None:
    return None if x is None else round_clip(x, unit, (1 << (bits - 1)) - 1)


@dataclass(frozen=True)
class QuantizeOptions:
    """``input_scale``: real value of one integer input unit; None picks 1 for spike inputs
    (rate encoding) and ``max|calib| / input_max`` (or ``1 / input_max``) for real inputs."""

    input_scale: float | None = None


def choose_input_scale(graph: Graph, p: NumericProfile, calib: np.ndarray | None) -> float:
    if graph.encoding == "rate":
        return 1.0
    peak = _max_abs(calib) if calib is not None else 1.0
    return (peak or 1.0) / p.input_max


def quantize(graph: Graph, profile: NumericProfile, calib: np.ndarray | None = None,
             options: QuantizeOptions | None = None, target: str = "generic") -> QuantizedGraph:
    """Float layer view -> :class:`QuantizedGraph` for ``profile``.

    With ``profile.max_pool_neuron`` the quantized graph's view has max pools of spikes as OR
    neurons (:func:`snnc.passes.or_pooling.or_neurons`), what the integer reference and the
    backend then both run."""
    options = options or QuantizeOptions()
    p = profile
    if p.max_pool_neuron:
        graph = or_neurons(graph)
    in_scale = options.input_scale or choose_input_scale(graph, p, calib)
    groups = _add_groups(graph)
    vth_max = (1 << p.threshold_bits) - 1
    unit: dict[str, float] = {}
    group_unit: dict[str, float] = {}
    out: dict[str, QuantLayer] = {}
    for lay in graph.layers:
        if isinstance(lay, Input):
            unit[lay.name] = in_scale
            out[lay.name] = QuantLayer(unit=in_scale)
        elif isinstance(lay, Dense | Conv2d):
            root = groups[lay.name]
            if root not in group_unit:
                members = [m for m, r in groups.items() if r == root]
                need = max(_max_abs(graph.layer(m).weight) * unit.get(graph.layer(m).inputs[0], 1.0)
                           for m in members)
                theta = _threshold_of(_stage_neuron(graph, lay.name))
                s = max(need / p.weight_max, theta / vth_max if theta else 0.0)
                group_unit[root] = s if s > 0 else 1.0
            s_out = group_unit[root]
            w_unit = s_out / unit.get(lay.inputs[0], 1.0)  # recurrent: a later neuron, unit 1
            out[lay.name] = QuantLayer(
                unit=s_out, weight=_round_clip(lay.weight, w_unit, p.weight_bits),
                bias=_round_clip(lay.bias, s_out, 32))
            unit[lay.name] = s_out
        elif isinstance(lay, Pool2d):
            area = lay.kernel[0] * lay.kernel[1]
            unit[lay.name] = unit[lay.inputs[0]] / (area if lay.pool == "avg" else 1)
            out[lay.name] = QuantLayer(unit=unit[lay.name])
        elif isinstance(lay, Flatten | Reshape):
            unit[lay.name] = unit[lay.inputs[0]]
            out[lay.name] = QuantLayer(unit=unit[lay.name])
        elif isinstance(lay, Add):
            units = {unit[s] for s in lay.inputs}
            if len(units) > 1 and not np.allclose(list(units), next(iter(units)), rtol=1e-9):
                raise QuantizationError(
                    f"layer '{lay.name}': Add of values in different fixed-point units "
                    f"({sorted(units)}); put weights on every branch")
            unit[lay.name] = unit[lay.inputs[0]]
            out[lay.name] = QuantLayer(unit=unit[lay.name])
        elif isinstance(lay, LIF | CubaLIF):
            out[lay.name] = _quantize_neuron(lay, unit[lay.inputs[0]], p)
            unit[lay.name] = 1.0
        elif isinstance(lay, MultiLevelSpike):
            s_in = unit[lay.inputs[0]]
            out[lay.name] = QuantLayer(
                unit=1.0, alpha_mant=round(lay.alpha * (1 << p.alpha_frac_bits)),
                vth=None if lay.axis is not None else
                np.asarray(max(1, round((lay.theta or 1.0) / s_in)), np.int64))
            unit[lay.name] = 1.0
        elif isinstance(lay, SpikingSelfAttention):
            length = graph.shape(lay.inputs[0])[0]
            mask = np.rint(lay.decay_mask(length).astype(np.float64) * (1 << p.mask_frac_bits))
            s = float(np.prod([unit[x] for x in lay.inputs])) * lay.scale
            out[lay.name] = QuantLayer(unit=s, mask=mask.astype(np.int64))
            unit[lay.name] = s
        else:  # pragma: no cover - every layer type is handled above
            raise QuantizationError(f"no quantization rule for {type(lay).__name__}")
    return QuantizedGraph(graph=graph, profile=p, layers=out, input_scale=in_scale,
                          target=target)


def _quantize_neuron(lay: LIF | CubaLIF, s_in: float, p: NumericProfile) -> QuantLayer:
    vth_max = (1 << p.threshold_bits) - 1
    theta = np.asarray(lay.threshold, np.float64)
    if np.any(theta < 0):
        raise QuantizationError(f"layer '{lay.name}': negative threshold")
    vth = np.clip(np.rint(theta / s_in), 0, vth_max).astype(np.int64)
    bias = _round_clip(lay.bias, s_in, p.bias_bits)
    if isinstance(lay, LIF):
        dv = _decay_int(1.0 - np.asarray(lay.beta, np.float64), p)
        return QuantLayer(unit=1.0, dv=dv, vth=vth, bias=bias)
    du = _decay_int(lay.current_decay, p, p.current_decay_offset)
    dv = _decay_int(lay.voltage_decay, p)
    return QuantLayer(unit=1.0, du=du, dv=dv, vth=vth, bias=bias)
