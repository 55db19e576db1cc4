"""Expand ``snnc`` domain ops into standard ONNX primitives, in place of each node.

TVM's ONNX importer has no converter for custom ops (and silently mis-imports a custom op that
shares a standard op's type), so instead of registering private converters the frontend rewrites
each ``snnc`` node into the very idiom :mod:`snnc.frontend.primitives` writes for exporters; the
Relax patterns then raise it back. Expanded nodes are named ``<node>/<part>`` so errors in them
still point at the original node. The expanded model is also what onnxruntime can run.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from snnc.errors import ModelError, ShapeError
from snnc.frontend.inference import infer_shapes
from snnc.frontend.primitives import (
    NeuronParams,
    NodeSink,
    emit_attention,
    emit_cuba,
    emit_lif,
    emit_multilevel,
)
from snnc.frontend.schema import DOMAIN, OPS

F32 = np.float32


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The constant inputs of ``snnc`` nodes (the weight matrices of standard ops, however
    large, are not converted)."""
    read = {name for node in model.graph.node if node.domain == DOMAIN for name in node.input}
    found = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if t.name in read}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output[0] in read:
            for attr in node.attribute:
                if attr.name == "value":
                    found[node.output[0]] = numpy_helper.to_array(attr.t)
    return found


class _Params:
    """Attribute-or-constant-input lookup for one ``snnc`` node, with schema defaults."""

    def __init__(self, node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> None:
        self.node = node
        self.spec = OPS[node.op_type]
        self.attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        self.inputs = dict(zip(self.spec.inputs, node.input, strict=False))
        self.constants = constants

    def array(self, name: str) -> np.ndarray | None:
        if self.inputs.get(name):
            return np.asarray(self.constants[self.inputs[name]], F32)
        value = self.attrs.get(name, self.spec.attrs[name].default)
        return None if value is None else np.asarray(value, F32)

    def text(self, name: str) -> str:
        value = self.attrs.get(name, self.spec.attrs[name].default)
        return value.decode() if isinstance(value, bytes) else str(value)

    def value(self, name: str) -> object:
        return self.attrs.get(name, self.spec.attrs[name].default)

    def neuron(self, with_beta: bool) -> NeuronParams:
        bias = self.array("bias")
        if bias is not None and not self.inputs.get("bias") and float(bias) == 0.0:
            bias = None
        return NeuronParams(
            threshold=self.array("threshold"), beta=self.array("beta") if with_beta else None,
            bias=bias, reset=self.text("reset"), reset_timing=self.text("reset_timing"),
            compare=self.text("compare"))


def _expand_node(sink: NodeSink, node: onnx.NodeProto, p: _Params,
                 shapes: dict[str, list[int | str]], opset: int) -> None:
    name, ins, outs = node.name, list(node.input), list(node.output)
    if node.op_type in ("LIF", "IF"):
        emit_lif(sink, name, ins[0], ins[1], outs[0], outs[1], p.neuron(node.op_type == "LIF"))
    elif node.op_type == "CubaLIF":
        emit_cuba(sink, name, ins[0], ins[1], ins[2], outs[0], outs[1], outs[2],
                  p.array("current_decay"), p.array("voltage_decay"), p.neuron(False))
    elif node.op_type == "MultiLevelSpike":
        theta = p.value("theta")
        if theta is not None and not float(theta) > 0:
            raise ModelError("MultiLevelSpike 'theta' must be positive", name)
        levels = int(p.value("levels"))
        if levels < 1:
            raise ModelError("MultiLevelSpike 'levels' must be at least 1", name)
        axis = p.value("axis")
        if theta is None and axis is None:
            axis = -1
        emit_multilevel(sink, name, ins[0], outs[0], levels, float(p.value("alpha")),
                        None if theta is not None else int(axis),
                        None if theta is None else float(theta), opset=opset)
    else:
        _expand_attention(sink, node, p, shapes)


def _expand_attention(sink: NodeSink, node: onnx.NodeProto, p: _Params,
                      shapes: dict[str, list[int | str]]) -> None:
    q_shapes = [shapes.get(x) for x in node.input]
    if any(s is None or len(s) != 3 for s in q_shapes) or len({str(s[1:]) for s in q_shapes}) > 1:
        raise ShapeError(f"SpikingSelfAttention needs Q, K, V of one shape (N, L, D), got "
                         f"{q_shapes}", node.name)
    length, dim = q_shapes[0][1:]
    if not isinstance(length, int) or not isinstance(dim, int):
        raise ShapeError("SpikingSelfAttention needs static L and D", node.name)
    heads = int(p.value("heads"))
    gammas = np.asarray(p.value("gammas"), F32)
    if heads < 1 or dim % heads:
        raise ShapeError(f"D={dim} is not divisible by heads={heads}", node.name)
    if gammas.shape != (heads,):
        raise ModelError(f"'gammas' needs one value per head ({heads})", node.name)
    emit_attention(sink, node.name, *node.input, node.output[0], heads,
                   float(p.value("scale")), gammas, length, dim)


def value_shapes(model: onnx.ModelProto) -> dict[str, list[int | str]]:
    """Shapes ONNX shape inference can give (up to the first op it cannot see through)."""
    inferred = infer_shapes(model)
    shapes: dict[str, list[int | str]] = {}
    graph = inferred.graph
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else d.dim_param
                                  for d in tensor.shape.dim]
    return shapes


def expand_snnc_ops(model: onnx.ModelProto,
                    opset: int) -> tuple[onnx.ModelProto, dict[str, str]]:
    """A copy of ``model`` with every ``snnc`` node replaced by standard ONNX nodes, and the
    map from each new node's name to the ``snnc`` node it came from.

    Neurons need no shapes; attention needs L for its decay mask, so each attention node is
    expanded in a pass of its own, once shape inference can see through everything before it.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    origin: dict[str, str] = {}
    while any(node.domain == DOMAIN for node in out.graph.node):
        first = next(node for node in out.graph.node if node.domain == DOMAIN)
        out = _expand_pass(out, opset, first.op_type == "SpikingSelfAttention", origin)
    kept = [o for o in out.opset_import if o.domain != DOMAIN]
    del out.opset_import[:]
    out.opset_import.extend(kept)
    _drop_unused_initializers(out)
    return out, origin


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    """Parameter tensors of expanded nodes were copied into new constants; drop the originals
    nothing reads any more (onnxruntime warns about them)."""
    used = {name for node in model.graph.node for name in node.input}
    used |= {o.name for o in model.graph.output}
    kept = [t for t in model.graph.initializer if t.name in used]
    if len(kept) != len(model.graph.initializer):
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)


def _expand_pass(model: onnx.ModelProto, opset: int, with_shapes: bool,
                 origin: dict[str, str]) -> onnx.ModelProto:
    """Expand custom nodes in order up to the first attention node, which is expanded only
    ``with_shapes``; everything after it waits for the next pass."""
    graph = model.graph
    shapes = value_shapes(model) if with_shapes else {}
    constants = _constants(model)
    sink = NodeSink.for_graph(graph)
    nodes: list[onnx.NodeProto] = []
    blocked = False
    for node in graph.node:
        if node.domain != DOMAIN or blocked:
            nodes.append(node)
            continue
        if node.op_type == "SpikingSelfAttention":
            blocked = True
            if not with_shapes:
                nodes.append(node)
                continue
        start = len(sink.nodes)
        _expand_node(sink, node, _Params(node, constants), shapes, opset)
        for new in sink.nodes[start:]:
            origin[new.name] = node.name
        nodes.extend(sink.nodes[start:])
    return sink.model_with(model, nodes)
