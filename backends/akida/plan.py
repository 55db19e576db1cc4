"""The Akida layer plan of a stateless (QNN twin) quantized graph, and the ``akida.Model``.

A twin stage is a Dense synapse (integer weights ``W``, bias ``B``) feeding a
``MultiLevelSpike`` with threshold ``V`` and ``2^b - 1`` levels, computing
``clip(floor((2(Wc + B) + V) / (2V)), 0, 2^b - 1)`` on the counts ``c`` of its source. An Akida
FullyConnected layer computes ``clip(ceil((Wc - threshold) / (act_step 2^(4-b))), 0, 2^b - 1)``;
with ``threshold = floor((V - 1 - 2B) / 2)`` and ``act_step = V / 2^(4-b)`` both are the same
integer for every ``c`` (``floor((n + 2V - 1) / 2V) = ceil(n / 2V)`` and, for integer ``A``,
``ceil((2A - K) / 2V) = ceil((A - floor(K/2)) / V)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from snnc.cost.twins import structural_exactness
from snnc.errors import UnsupportedError
from snnc.ir.layers import LIF, Dense, Input, Layer, MultiLevelSpike
from snnc.ir.quantized import QuantizedGraph

# act_step is a float32: V / 2^(4-b) is exact while V stays below 2^24.
_STEP_LIMIT = 1 << 24


@dataclass(frozen=True)
class FcLayer:
    """One FullyConnected layer: the twin's Dense and neuron layers and Akida's variables."""

    dense: str
    neuron: str
    weights: np.ndarray      # int8 (1, 1, inputs, units), Akida's kernel layout
    threshold: np.ndarray    # int32 (units,)
    act_step: np.ndarray     # float32 (units,)
    act_bits: int
    weight_bits: int


@dataclass(frozen=True)
class AkidaPlan:
    inputs: int
    input_bits: int
    layers: tuple[FcLayer, ...]
    steps: int


def unsupported_reason(layer: Layer, target: object = None) -> str | None:
    """Why ``layer`` has no Akida form in snnc (None when it has one)."""
    del target
    if isinstance(layer, Input | Dense):
        return None
    if isinstance(layer, LIF):
        approximate = structural_exactness(layer)
        return None if approximate is None else (
            f"approximate QNN twin ({approximate}): runs with --mapping qnn only")
    if isinstance(layer, MultiLevelSpike):
        return "multi-level layer: it already emits D levels per step, there is no QNN twin"
    if layer.kind == "cubalif":
        return ("CUBA current dynamics have no stateless twin; with --mapping qnn they run "
                "as an approximation")
    return (f"{layer.kind} layers are not lowered to Akida: snnc maps chains of "
            "Dense + spiking stages onto FullyConnected layers")


def weight_width(w: np.ndarray) -> int:
    """The narrowest Akida weight width (2 or 4 bits, signed) that holds ``w``."""
    peak = int(np.abs(w).max(initial=0))
    if peak <= 1:
        return 2
    if peak <= 7:
        return 4
    return 8


def build_plan(qg: QuantizedGraph) -> AkidaPlan:
    """The FullyConnected chain of ``qg`` (a stateless twin graph), or UnsupportedError."""
    graph = qg.graph
    if any(lay.kind in ("lif", "cubalif") for lay in graph.layers):
        raise UnsupportedError("the neuron stages are not lowered to QNN twins yet; quantize "
                               "with snnc.api.quantize (snnc.passes.stateless)",
                               target=qg.target)
    inp = graph.input
    if len(inp.shape) != 1:
        raise UnsupportedError(f"input shape {inp.shape}: snnc feeds Akida a 1-D vector "
                               "(FullyConnected layers)", layer=inp.name, target=qg.target)
    layers: list[FcLayer] = []
    previous = inp.name
    order = [lay for lay in graph.layers if not isinstance(lay, Input)]
    if len(order) % 2:
        raise UnsupportedError("the graph is not a chain of Dense + spiking stages",
                               target=qg.target)
    for dense, neuron in zip(order[::2], order[1::2], strict=True):
        if not isinstance(dense, Dense):
            raise UnsupportedError(unsupported_reason(dense) or "not a Dense layer",
                                   layer=dense.name, target=qg.target)
        if not (isinstance(dense, Dense) and isinstance(neuron, MultiLevelSpike)
                and dense.inputs == (previous,) and neuron.inputs == (dense.name,)):
            raise UnsupportedError(
                f"'{dense.name}' -> '{neuron.name}' is not a Dense + spiking stage reading "
                f"'{previous}': Akida runs a chain of FullyConnected layers",
                layer=neuron.name, target=qg.target)
        layers.append(_fc(qg, dense, neuron))
        previous = neuron.name
    if previous != graph.output:
        raise UnsupportedError("the output is not the last spiking stage", target=qg.target)
    steps = graph.timesteps
    bits = next(b for b in (1, 2, 4) if steps <= (1 << b) - 1)
    return AkidaPlan(inputs=int(inp.shape[0]), input_bits=bits, layers=tuple(layers),
                     steps=steps)


def _fc(qg: QuantizedGraph, dense: Dense, neuron: MultiLevelSpike) -> FcLayer:
    q_d, q_n = qg.q(dense.name), qg.q(neuron.name)
    w = np.asarray(q_d.weight, np.int64)           # (out, in)
    units = w.shape[0]
    bias = (np.zeros(units, np.int64) if q_d.bias is None
            else np.broadcast_to(np.asarray(q_d.bias, np.int64), (units,)))
    v = int(np.asarray(q_n.vth).reshape(-1)[0])
    if not 0 < v < _STEP_LIMIT:
        raise UnsupportedError(f"twin threshold {v} is outside 1..2^24", layer=neuron.name,
                               target=qg.target)
    threshold = (v - 1 - 2 * bias) // 2
    if np.any(np.abs(threshold) >= 1 << 31):
        raise UnsupportedError("the twin threshold does not fit Akida's int32 threshold",
                               layer=neuron.name, target=qg.target)
    act_bits = int(neuron.attrs.get("activation_bits", 4))
    return FcLayer(
        dense=dense.name, neuron=neuron.name,
        weights=w.T.reshape(1, 1, w.shape[1], units).astype(np.int8),
        threshold=threshold.astype(np.int32),
        act_step=np.full(units, v / (1 << (4 - act_bits)), np.float32),
        act_bits=act_bits, weight_bits=weight_width(w))


def build_model(plan: AkidaPlan) -> Any:
    """The ``akida.Model`` of ``plan`` with every variable set."""
    import akida

    model = akida.Model()
    model.add(akida.InputData((1, 1, plan.inputs), input_bits=plan.input_bits, name="input"))
    for i, fc in enumerate(plan.layers):
        model.add(akida.FullyConnected(int(fc.weights.shape[-1]), name=f"fc{i}",
                                       weights_bits=fc.weight_bits, act_bits=fc.act_bits))
        layer = model.get_layer(f"fc{i}")
        layer.set_variable("weights", fc.weights)
        layer.set_variable("threshold", fc.threshold)
        layer.set_variable("act_step", fc.act_step)
    return model
