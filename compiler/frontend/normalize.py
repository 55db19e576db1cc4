"""Rewrite exporter spellings of a clip into the idiom the Relax patterns raise.

PyTorch writes ``torch.clamp(x, 0, D)`` as ``Clip(x, 0, D)``, and ``x.clamp(min=0)`` /
``torch.minimum`` style code as ``Max(x, 0)`` / ``Min(x, D)``. TVM's Relax importer lowers all
of them into calls no dataflow pattern can see (``call_tir(maximum, ...)``, ``stack`` + ``max``),
so before import, on the ONNX graph:

- ``Clip(x, 0, hi)`` becomes ``Relu(x)`` then ``Where(r > hi, hi, r)`` (``Clip(x, 0)``:
  ``Relu``; ``Clip(x, None, hi)``: the ``Where`` alone);
- ``Max(x, 0)`` becomes ``Relu(x)`` and ``Min(x, hi)`` becomes ``Where(x > hi, hi, x)``.

Each rewrite computes the same value for every non-NaN input (that is the idiom
``snnc.frontend.primitives.emit_multilevel`` writes). Only a tensor against scalar constant
bounds is rewritten, and a lower bound only when it is 0; anything else is left for the
patterns, which name the node if no idiom absorbs it. New nodes are named ``<node>/relu`` and
``<node>/clip_high`` so they keep the exporter's name scope (which names the layer) and an
error in them still points at the original node.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from snnc.frontend.primitives import NodeSink

F32 = np.float32


def _scalar_constants(model: onnx.ModelProto) -> dict[str, float]:
    """Float constants of one element, by tensor name (initializers and ``Constant`` nodes)."""
    tensors = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value":
                    tensors[node.output[0]] = attr.t
    found = {name: numpy_helper.to_array(t) for name, t in tensors.items()
             if math.prod(t.dims) == 1}  # weight matrices are never converted
    return {name: float(np.ravel(value)[0]) for name, value in found.items()
            if np.size(value) == 1 and np.asarray(value).dtype.kind == "f"}


def _bounds(node: onnx.NodeProto, scalars: dict[str, float]) -> tuple[str, float | None,
                                                                       float | None] | None:
    """(tensor, lower bound, upper bound) of a clip-like node, or None to leave it alone."""
    args = list(node.input)
    if node.op_type == "Clip":
        if not args or args[0] in scalars:
            return None
        lo_name = args[1] if len(args) > 1 else ""
        hi_name = args[2] if len(args) > 2 else ""
        if any(n and n not in scalars for n in (lo_name, hi_name)):
            return None
        return args[0], scalars[lo_name] if lo_name else None, \
            scalars[hi_name] if hi_name else None
    if node.op_type in ("Max", "Min") and len(args) == 2:
        consts = [a for a in args if a in scalars]
        if len(consts) != 1:
            return None
        x = next(a for a in args if a not in scalars)
        bound = scalars[consts[0]]
        return (x, bound, None) if node.op_type == "Max" else (x, None, bound)
    return None


def _emit(sink: NodeSink, node: onnx.NodeProto, x: str, lo: float | None,
          hi: float | None) -> None:
    out = node.output[0]
    if lo is not None:
        x = sink.one("Relu", [x], f"{node.name}/relu", out if hi is None else None)
    if hi is not None:
        top = sink.const(f"{node.name}/max", F32(hi))
        over = sink.one("Greater", [x, top], f"{node.name}/over")
        sink.one("Where", [over, top, x], f"{node.name}/clip_high", out)


def normalize_clips(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with clips rewritten as described in the module docstring."""
    scalars = _scalar_constants(model)
    graph = model.graph
    sink = NodeSink.for_graph(graph)
    nodes: list[onnx.NodeProto] = []
    changed = False
    for node in graph.node:
        found = _bounds(node, scalars) if node.domain in ("", "ai.onnx") else None
        if found is None or (found[1] is not None and found[1] != 0.0) or found[1:] == (
                None, None):
            nodes.append(node)
            continue
        start = len(sink.nodes)
        _emit(sink, node, *found)
        nodes.extend(sink.nodes[start:])
        changed = True
    if not changed:
        return model
    return sink.model_with(model, nodes)
