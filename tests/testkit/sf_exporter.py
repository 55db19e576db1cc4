"""Write spikeformer layer views as ONNX the way a PyTorch export spells them.

No ``snnc`` ops and none of ``snnc.onnx_builder``'s own spellings: IMLS as
``Abs -> ReduceMean -> [Mul alpha] -> Div -> Add 0.5 -> Floor -> Clip(0, D)`` (or
``Max``/``Min`` for the clip, with or without a guard for a zero threshold), attention as
``Reshape -> Transpose`` per operand, ``Transpose`` of the key heads, ``MatMul``, ``Mul`` by the
scale and by the constant decay mask, ``MatMul``, ``Transpose -> Reshape`` (or, for one head,
plain ``MatMul(Q, Transpose(K))`` without head reshapes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnx

from snnc.frontend.primitives import NodeSink
from snnc.ir.layers import (
    Add,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Layer,
    MultiLevelSpike,
    Reshape,
    SpikingSelfAttention,
)
from snnc.onnx_builder import make_model, tensor_info

F32 = np.float32
Clip = Literal["clip", "max_min"]


@dataclass(frozen=True)
class Spelling:
    """How the exporter writes each idiom."""

    clip: Clip = "clip"
    guard: bool = False          # Where(theta > 0, ...) around the threshold and the level
    opset: int = 17              # ReduceMean axes: attribute (<= 17) or input (>= 18)
    split_heads: bool = True     # False: one head written without head reshapes


def to_exporter_onnx(graph: Graph, spelling: Spelling = Spelling()) -> onnx.ModelProto:
    sink = NodeSink(tensors={lay.name for lay in graph.layers}, node_names=set())
    for layer in graph.layers[1:]:
        _WRITERS[type(layer)](sink, graph, layer, spelling)
    return make_model(sink.nodes, [tensor_info(graph.input.name, graph.input.shape)],
                      [tensor_info(graph.output, graph.shape(graph.output))],
                      sink.initializers, timesteps=graph.timesteps, encoding=graph.encoding,
                      name=graph.name, opset=spelling.opset)


def _dense(sink: NodeSink, graph: Graph, layer: Dense, _: Spelling) -> None:
    (x,) = layer.inputs
    name = layer.name
    if len(graph.shape(x)) == 1:
        args = [x, sink.const(f"{name}.weight", layer.weight)]
        if layer.bias is not None:
            args.append(sink.const(f"{name}.bias", layer.bias))
        sink.one("Gemm", args, f"/{name}/Gemm", name, transB=1)
        return
    out = name if layer.bias is None else None
    y = sink.one("MatMul", [x, sink.const(f"{name}.weight", layer.weight.T)],
                 f"/{name}/MatMul", out)
    if layer.bias is not None:
        sink.one("Add", [sink.const(f"{name}.bias", layer.bias), y], f"/{name}/Add", name)


def _conv(sink: NodeSink, graph: Graph, layer: Conv2d, _: Spelling) -> None:
    args = [layer.inputs[0], sink.const(f"{layer.name}.weight", layer.weight)]
    if layer.bias is not None:
        args.append(sink.const(f"{layer.name}.bias", layer.bias))
    kh, kw = layer.weight.shape[2:]
    sink.one("Conv", args, f"/{layer.name}/Conv", layer.name, kernel_shape=[kh, kw],
             strides=list(layer.stride), pads=list(layer.padding),
             dilations=list(layer.dilation), group=layer.groups)


def _add(sink: NodeSink, graph: Graph, layer: Add, _: Spelling) -> None:
    a, b = layer.inputs
    sink.one("Add", [a, b], f"/{layer.name}/Add", layer.name)


def _flatten(sink: NodeSink, graph: Graph, layer: Flatten, _: Spelling) -> None:
    sink.one("Flatten", [layer.inputs[0]], f"/{layer.name}/Flatten", layer.name, axis=1)


def _reshape(sink: NodeSink, graph: Graph, layer: Reshape, _: Spelling) -> None:
    shape = sink.const(f"{layer.name}.shape", [-1, *layer.shape], np.int64)
    sink.one("Reshape", [layer.inputs[0], shape], f"/{layer.name}/Reshape", layer.name)


def _imls(sink: NodeSink, graph: Graph, layer: MultiLevelSpike, sp: Spelling) -> None:
    """``clip(floor(I/theta + 0.5), 0, D)``; ``theta = [alpha *] mean(|I|)`` or a constant."""
    (x,) = layer.inputs
    n = f"/{layer.name}"
    if layer.axis is None:
        theta = sink.const(f"{n}/theta", float(layer.theta or 1.0))
        positive = None
    else:
        axis = layer.axis % len(graph.shape(layer.name)) + 1
        mag = sink.one("Abs", [x], f"{n}/Abs")
        if sp.opset >= 18:
            mean = sink.one("ReduceMean", [mag, sink.const(f"{n}/axes", [axis], np.int64)],
                            f"{n}/ReduceMean", keepdims=1)
        else:
            mean = sink.one("ReduceMean", [mag], f"{n}/ReduceMean", axes=[axis], keepdims=1)
        theta = mean if layer.alpha == 1.0 else sink.one(
            "Mul", [mean, sink.const(f"{n}/alpha", layer.alpha)], f"{n}/Mul")
        positive = None
        if sp.guard:
            positive = sink.one("Greater", [theta, sink.const(f"{n}/zero", 0.0)],
                                f"{n}/Greater")
            theta = sink.one("Where", [positive, theta, sink.const(f"{n}/one", 1.0)],
                             f"{n}/Where")
    scaled = sink.one("Div", [x, theta], f"{n}/Div")
    rounded = sink.one("Floor", [sink.one("Add", [scaled, sink.const(f"{n}/half", 0.5)],
                                          f"{n}/Add")], f"{n}/Floor")
    out = layer.name if positive is None else None
    lo, hi = sink.const(f"{n}/min", 0.0), sink.const(f"{n}/max", float(layer.levels))
    if sp.clip == "clip":
        level = sink.one("Clip", [rounded, lo, hi], f"{n}/Clip", out)
    else:
        level = sink.one("Min", [sink.one("Max", [rounded, lo], f"{n}/Max"), hi], f"{n}/Min",
                         out)
    if positive is not None:
        sink.one("Where", [positive, level, sink.const(f"{n}/zero_level", 0.0)],
                 f"{n}/Where_1", layer.name)


def _attention(sink: NodeSink, graph: Graph, layer: SpikingSelfAttention,
               sp: Spelling) -> None:
    q, k, v = layer.inputs
    length, dim = graph.shape(layer.name)
    heads, n = layer.heads, f"/{layer.name}"
    mask = layer.decay_mask(length)
    if not sp.split_heads and heads == 1:
        kt = sink.one("Transpose", [k], f"{n}/Transpose", perm=[0, 2, 1])
        scores = sink.one("MatMul", [q, kt], f"{n}/MatMul")
        scores = sink.one("Mul", [scores, sink.const(f"{n}/scale", layer.scale)], f"{n}/Mul")
        scores = sink.one("Mul", [scores, sink.const(f"{n}/mask", mask[0])], f"{n}/Mul_1")
        sink.one("MatMul", [scores, v], f"{n}/MatMul_1", layer.name)
        return
    split = sink.const(f"{n}/split", [-1, length, heads, dim // heads], np.int64)

    def heads_of(x: str, tag: str) -> str:
        parts = sink.one("Reshape", [x, split], f"{n}/{tag}/Reshape")
        return sink.one("Transpose", [parts], f"{n}/{tag}/Transpose", perm=[0, 2, 1, 3])

    qh, kh, vh = heads_of(q, "q"), heads_of(k, "k"), heads_of(v, "v")
    kt = sink.one("Transpose", [kh], f"{n}/Transpose", perm=[0, 1, 3, 2])
    scores = sink.one("MatMul", [qh, kt], f"{n}/MatMul")
    scores = sink.one("Mul", [scores, sink.const(f"{n}/scale", layer.scale)], f"{n}/Mul")
    scores = sink.one("Mul", [scores, sink.const(f"{n}/mask", mask)], f"{n}/Mul_1")
    mixed = sink.one("MatMul", [scores, vh], f"{n}/MatMul_1")
    merged = sink.one("Transpose", [mixed], f"{n}/Transpose_1", perm=[0, 2, 1, 3])
    sink.one("Reshape", [merged, sink.const(f"{n}/merge", [-1, length, dim], np.int64)],
             f"{n}/Reshape", layer.name)


_WRITERS = {Dense: _dense, Conv2d: _conv, Add: _add, Flatten: _flatten, Reshape: _reshape,
            MultiLevelSpike: _imls, SpikingSelfAttention: _attention}


def writable(layer: Layer) -> bool:
    return type(layer) in _WRITERS
