"""lava-dl netx HDF5 export (``network.net``) for networks that netx can express.

netx (``lava.lib.dl.netx.hdf5.Network``) reads a chain of blocks ``layer/0..N``: an ``input``
block (shape only), then ``dense`` / ``conv`` blocks, each a synapse plus a CUBA neuron, with
``flatten`` blocks in between. Its reader maps a CUBA neuron to Lava's LIF with
``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``, ``bias_mant = bias``, ``bias_exp = 6``
and runs ``optimize_weight_bits`` on dense weights (it doubles mixed-sign weights with
``weight_exp = -1``, the same exact encoding as ``network.py``). So the export is possible when
the graph is such a chain and every neuron is a stock Lava LIF (uniform du/dv/vth, reset to zero,
``>``, no constant current) with a bias that fits ``bias_exp = 6``, and no neuron's bias
starts after step 0: netx neurons add their bias from the first step, while snnc adds a layer's
biases from the step its input arrives (on Loihi every neuron block is at least one synaptic
delay deep, so a netx network here has zero biases). Networks with biases run with ``run.py``.

Layouts: ``shape`` is stored (C, H, W) and read reversed as (W, H, C). Conv weights are stored
(out, in, kh, kw), i.e. ONNX's cross-correlation kernel: netx flips and transposes them into
Lava's convolution layout (out, kw, kh, in), which undoes the flip. ``stride``, ``padding`` and
``dilation`` are stored (y, x); netx needs symmetric padding. A dense block's ``bias`` has one
value per neuron, a conv block's one per channel (netx broadcasts it over W and H).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnc.ir.layers import LIF, Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Layer
from snnc.ir.quantized import QuantizedGraph

from .lower import BIAS_EXP_BASE, LoihiNet

TYPE_DTYPE = "S10"


@dataclass(frozen=True)
class Block:
    """One ``layer/<i>`` group: its datasets and, for neuron blocks, ``neuron/`` datasets."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    neuron: dict[str, Any] = field(default_factory=dict)


def _neuron_block(net: LoihiNet, layer: Layer) -> tuple[dict[str, Any], np.ndarray] | str:
    pop = net.by_layer()[layer.name]
    if pop.kind != "lif":
        return f"layer '{layer.name}' is not a stock Lava LIF (netx has no variant neurons)"
    if np.any(pop.params["bias_exp"] != BIAS_EXP_BASE):
        return f"layer '{layer.name}' needs a bias exponent other than 6"
    neuron = {"type": "CUBA", "iDecay": pop.params["du"] + 1, "vDecay": pop.params["dv"],
              "vThMant": pop.params["vth"], "refDelay": 1, "gradedSpike": False}
    return neuron, np.asarray(pop.params["bias_mant"], np.int64)


def _synapse_block(graph: Graph, qg: QuantizedGraph, syn: Layer) -> Block | str:
    q = qg.layers[syn.name]
    weight = q.weight  # in its storage type; written as int64 (:func:`_dataset`)
    if q.weight_exp:
        # netx rescales dense weights into 8 bits itself and clips beyond 254
        return (f"layer '{syn.name}' has weight exponent {q.weight_exp} (netx reads plain "
                "8-bit weights)")
    if isinstance(syn, Dense):
        return Block("dense", {"shape": np.array([weight.shape[0]], np.int64),
                               "inFeatures": np.int64(weight.shape[1]),
                               "outFeatures": np.int64(weight.shape[0]),
                               "weight": weight})
    assert isinstance(syn, Conv2d)
    top, left, bottom, right = syn.padding
    if (top, left) != (bottom, right):
        return f"layer '{syn.name}' has asymmetric padding {syn.padding} (netx: symmetric only)"
    return Block("conv", {
        "shape": np.array(graph.shape(syn.name), np.int64),
        "weight": weight,
        "stride": np.array(syn.stride, np.int64),
        "padding": np.array([top, left], np.int64),
        "dilation": np.array(syn.dilation, np.int64),
        "groups": np.int64(syn.groups),
        "inChannels": np.int64(weight.shape[1] * syn.groups),
        "outChannels": np.int64(weight.shape[0]),
        "kernelSize": np.array(weight.shape[2:], np.int64),
    })


def _late_bias(net: LoihiNet, layer: Layer) -> str | None:
    """Why a neuron block's bias cannot be a netx bias: netx neurons add it from step 0, snnc
    from the step the layer's input arrives (``snnc.reference.integer.bias_onsets``)."""
    onset = net.by_layer()[layer.name].params.get("bias_on", 0)
    if not onset:
        return None
    return (f"layer '{layer.name}' adds its bias from step {onset}, when its input arrives; "
            "netx neurons add theirs from step 0")


def netx_blocks(qg: QuantizedGraph, net: LoihiNet) -> list[Block] | str:
    """The netx blocks of ``qg``, or the reason it is not a netx chain (one that is not a
    chain at all is named before one whose biases start late)."""
    graph = qg.graph
    layers = list(graph.layers)
    late: str | None = None
    blocks = [Block("input", {"shape": np.array(graph.shape(layers[0].name), np.int64)})]
    previous = layers[0].name
    pending: Layer | None = None
    for layer in layers[1:]:
        if len(layer.inputs) != 1 or layer.inputs[0] != previous or getattr(
                layer, "recurrent", False):
            return f"layer '{layer.name}' does not continue a single chain of blocks"
        if isinstance(layer, Flatten) and pending is None:
            blocks.append(Block("flatten", {"shape": np.array(graph.shape(layer.name),
                                                              np.int64)}))
        elif isinstance(layer, Dense | Conv2d) and pending is None:
            if isinstance(layer, Conv2d) and len(graph.shape(previous)) != 3:
                return f"layer '{layer.name}': conv input must be (C, H, W)"
            pending = layer
        elif isinstance(layer, LIF | CubaLIF) and pending is not None and _late_bias(net, layer):
            late, pending = late or _late_bias(net, layer), None
        elif isinstance(layer, LIF | CubaLIF) and pending is not None:
            block = _synapse_block(graph, qg, pending)
            neuron = _neuron_block(net, layer)
            if isinstance(block, str):
                return block
            if isinstance(neuron, str):
                return neuron
            params, bias = neuron
            if block.kind == "conv":
                # netx broadcasts a conv block's bias over (W, H, C): one value per channel.
                per_channel = bias.reshape(graph.shape(layer.name)[0], -1)
                if np.any(per_channel != per_channel[:, :1]):
                    return f"layer '{layer.name}' has a bias that varies within a channel"
                bias = per_channel[:, 0]
            block.data["bias"] = bias
            block.neuron.update(params)
            blocks.append(block)
            pending = None
        else:
            return f"layer '{layer.name}' ({layer.kind}) has no netx block"
        previous = layer.name
    if pending is not None or graph.output != previous:
        return "netx networks end with a neuron block that is the graph output"
    if not isinstance(layers[0], Input):  # pragma: no cover - Graph guarantees it
        return "no input layer"
    return late or blocks


def _dataset(group: Any, name: str, value: Any) -> None:
    if name == "type":
        value = np.array([str(value).encode("ascii")], dtype=TYPE_DTYPE)
    elif isinstance(value, bool):
        value = np.bool_(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "i":
        # every integer array is an int64 dataset; HDF5 widens while writing, so a
        # board-size weight matrix never has an int64 copy in memory
        group.create_dataset(name, data=value, dtype=np.int64, track_times=False)
        return
    group.create_dataset(name, data=value, track_times=False)


def write_netx(path: Path, blocks: list[Block], sample_steps: int) -> None:
    """Write ``blocks`` as ``layer/<i>`` groups (deterministic bytes: no timestamps).

    ``simulation/tSample`` is ``sample_steps``: the model's steps plus its latency (one step
    per block), the steps after which a sample's last input has left the output, so a netx
    user who resets every ``tSample`` steps keeps every spike of every sample."""
    import h5py

    with h5py.File(path, "w", track_order=False) as f:
        sim = f.create_group("simulation")
        _dataset(sim, "Ts", np.int64(1))
        _dataset(sim, "tSample", np.int64(sample_steps))
        root = f.create_group("layer")
        for i, block in enumerate(blocks):
            g = root.create_group(str(i))
            _dataset(g, "type", block.kind)
            for name in sorted(block.data):
                _dataset(g, name, block.data[name])
            if block.neuron:
                n = g.create_group("neuron")
                for name in sorted(block.neuron):
                    _dataset(n, name, block.neuron[name])
