"""Exact rewrites of a one-step graph that put exporter arithmetic into the layer view's terms.

Each rewrite gives the same value for every input (bit for bit, or, for the split of a
concatenated product, exactly in real arithmetic), and checks every constant it relies on:

- ``Pow(x, 1)`` and ``x + 0`` are ``x`` (up to the sign of a zero); ``Sign(y) * Relu(Abs(y))`` is
  ``y`` (PyTorch's ``LPPool2d`` with
  ``p = 1``, which Sinabs' ``SumPool2d`` is, writes both around ``AveragePool`` times the
  window area, the sum pool the patterns raise);
- ``Gemm``/``MatMul`` of ``Concat([a, b], axis=-1)`` with a constant weight is the sum of two
  products with the weight split (SpikingJelly's ``LinearRecurrentContainer`` concatenates the
  input with the previous spikes): two synapses, the second recurrent;
- a state that is a synapse's output (``r_{t+1} = W s_t``, Sinabs' ``LIFRecurrent`` carries the
  recurrent current) is carried as the synapse's input instead, the synapse applied at the start
  of the next step: the layer view's recurrent synapses read their source one step late.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import onnx
from onnx import NodeProto, helper

from snnc.frontend.inference import InitializerValues, infer_shapes
from snnc.frontend.onnx_graph import live_nodes
from snnc.frontend.primitives import NodeSink
from snnc.frontend.validate import sort_topologically

STATE_KEY = "snnc.state"
_SYNAPSES = ("Gemm", "MatMul", "Conv")


def _attr(node: NodeProto, name: str, default: object = None) -> object:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _consts(model: onnx.ModelProto) -> Mapping[str, np.ndarray]:
    return InitializerValues(model.graph)


def _rename_reads(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def _alias(graph: onnx.GraphProto, out: str, source: str) -> None:
    """Readers of ``out`` read ``source``; a graph output keeps its name through Identity."""
    if out in {o.name for o in graph.output}:
        graph.node.append(helper.make_node("Identity", [source], [out],
                                           name=f"{out}/identity"))
    else:
        _rename_reads(graph, out, source)


def simplify_identities(model: onnx.ModelProto) -> onnx.ModelProto:
    """``Pow(x, 1)`` -> ``x`` and ``Sign(y) * Relu(Abs(y))`` -> ``y`` (see the module doc)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    consts = _consts(out)
    producer = {o: n for n in graph.node for o in n.output}
    dropped = []
    for node in list(graph.node):
        source = None
        if node.op_type == "Pow" and node.input[1] in consts and np.all(
                consts[node.input[1]] == 1) and consts[node.input[1]].size == 1:
            source = node.input[0]
        elif node.op_type in ("Add", "Sub") and _zero(consts, node.input[1]) \
                and node.input[0] not in consts and _no_wider(consts, node.input[1]):
            source = node.input[0]  # Norse's v_leak = 0 added to the input current
        elif node.op_type == "Add" and _zero(consts, node.input[0]) \
                and node.input[1] not in consts and _no_wider(consts, node.input[0]):
            source = node.input[1]
        elif node.op_type == "Mul":
            a, b = (producer.get(i) for i in node.input)
            for sign, relu in ((a, b), (b, a)):
                if sign is None or relu is None or sign.op_type != "Sign" \
                        or relu.op_type != "Relu":
                    continue
                inner = producer.get(relu.input[0])
                if inner is not None and inner.op_type == "Abs" \
                        and inner.input[0] == sign.input[0]:
                    source = sign.input[0]
        if source is not None:
            dropped.append(node)
            _alias(graph, node.output[0], source)
    if not dropped:
        return model
    kept = [n for n in graph.node if all(n is not d for d in dropped)]
    del graph.node[:]
    graph.node.extend(kept)
    sort_topologically(out)
    _drop_dead(graph)
    return out


def _zero(consts: Mapping[str, np.ndarray], name: str) -> bool:
    value = consts.get(name)
    return value is not None and value.dtype.kind == "f" and not np.any(value)


def _no_wider(consts: Mapping[str, np.ndarray], name: str) -> bool:
    """A constant of at most one element broadcasts without changing the other's shape."""
    return consts[name].size == 1


def split_concatenated_products(model: onnx.ModelProto) -> onnx.ModelProto:
    """``W @ concat(a, b)`` -> ``W_a @ a + W_b @ b`` for a constant weight (module doc)."""
    graph = model.graph
    consts = _consts(model)
    producer = {o: n for n in graph.node for o in n.output}
    shapes = _shapes(model)
    targets = []
    for node in graph.node:
        if node.op_type not in ("Gemm", "MatMul") or node.input[1] not in consts:
            continue
        cat = producer.get(node.input[0])
        if cat is None or cat.op_type != "Concat" or len(cat.input) < 2:
            continue
        rank = len(shapes.get(cat.output[0], []))
        axis = int(_attr(cat, "axis", 0))  # type: ignore[arg-type]
        if not rank or axis % rank != rank - 1:
            continue
        widths = [shapes.get(i, [None])[-1] for i in cat.input]
        if any(w is None for w in widths):
            continue
        if node.op_type == "Gemm" and (_attr(node, "transA", 0) or float(
                _attr(node, "alpha", 1.0)) != 1.0 or float(_attr(node, "beta", 1.0)) != 1.0):
            continue
        targets.append((node, cat, widths))
    if not targets:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    sink = NodeSink(tensors={t for n in graph.node for t in (*n.input, *n.output)}
                    | set(consts) | {v.name for v in graph.input},
                    node_names={n.name for n in graph.node})
    replaced = set()
    for node, cat, widths in targets:
        weight = consts[node.input[1]]
        trans = node.op_type == "Gemm" and bool(_attr(node, "transB", 0))
        start, parts = 0, []
        for k, (part, width) in enumerate(zip(cat.input, widths, strict=True)):
            block = weight[:, start:start + width] if trans else weight[start:start + width]
            start += width
            w = sink.const(f"{node.input[1]}/part{k}", block, block.dtype.type)
            inputs = [part, w]
            if k == 0 and node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
                inputs.append(node.input[2])
            attrs = {"transB": 1} if trans else {}
            parts.append(sink.one(node.op_type, inputs, f"{node.name}/part{k}", **attrs))
        total = parts[0]
        for k, p in enumerate(parts[1:], start=1):
            last = k == len(parts) - 1
            total = sink.one("Add", [total, p], f"{node.name}/sum{k}",
                             node.output[0] if last else None)
        replaced.add(node.name)
    kept = [n for n in out.graph.node if n.name not in replaced]
    del out.graph.node[:]
    out.graph.node.extend([*kept, *sink.nodes])
    out.graph.initializer.extend(sink.initializers)
    sort_topologically(out)
    _drop_dead(out.graph)
    return out


def state_at_synapse_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """Carry ``s`` instead of ``r = W s`` when a state output is a synapse's output (module
    doc); the pairing metadata is rewritten to match."""
    meta = {p.key: p.value for p in model.metadata_props}
    if STATE_KEY not in meta:
        return model
    try:
        pairs = json.loads(meta[STATE_KEY])
    except json.JSONDecodeError:  # reported by the state pairing, which reads it next
        return model
    if not isinstance(pairs, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in pairs.items()):
        return model
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    consts = _consts(model)
    moves = []
    for s_in, s_out in pairs.items():
        chain = _synapse_chain(producer, consts, s_out)
        if chain is None:
            continue
        source = chain[0].input[0]
        if source in pairs or (source in pairs.values() and source != s_out):
            continue
        moves.append((s_in, s_out, chain, source))
    if not moves:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inputs = {v.name: v for v in g.input}
    shapes = _shapes(model)
    new_nodes = []
    for s_in, s_out, chain, source in moves:
        prev = f"{source}.prev"
        dims = shapes.get(source)
        if dims is None:
            return model
        g.input.append(helper.make_tensor_value_info(
            prev, onnx.TensorProto.FLOAT, ["N" if d is None else d for d in dims]))
        value = prev
        for node in chain:
            copy = NodeProto()
            copy.CopyFrom(node)
            copy.name = f"{node.name}.late"
            copy.input[0] = value
            copy.output[0] = f"{node.output[0]}.late"
            value = copy.output[0]
            new_nodes.append(copy)
        _rename_reads(g, s_in, value)
        g.input.remove(inputs[s_in])
        del pairs[s_in]
        pairs[prev] = source
        outs = [o for o in g.output if o.name == s_out]
        for o in outs:
            g.output.remove(o)
        if source not in {o.name for o in g.output}:
            g.output.append(helper.make_tensor_value_info(
                source, onnx.TensorProto.FLOAT, ["N" if d is None else d for d in dims]))
    g.node.extend(new_nodes)
    sort_topologically(out)
    _drop_dead(g)
    meta[STATE_KEY] = json.dumps(pairs)
    del out.metadata_props[:]
    helper.set_model_props(out, meta)
    return out


def _synapse_chain(producer: dict[str, NodeProto], consts: Mapping[str, np.ndarray],
                   tensor: str) -> list[NodeProto] | None:
    """The synapse computing ``tensor`` and the shape ops after it, in order; None when
    ``tensor`` is not a constant-weight synapse's output (possibly reshaped)."""
    chain: list[NodeProto] = []
    node = producer.get(tensor)
    while node is not None and node.op_type in ("Reshape", "Flatten", "Identity") \
            and all(i in consts for i in node.input[1:] if i):
        chain.append(node)
        node = producer.get(node.input[0])
    if node is None or node.op_type not in _SYNAPSES or node.input[0] in consts:
        return None
    if any(i and i not in consts for i in node.input[1:]):
        return None
    return [node, *reversed(chain)]


def _shapes(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    try:
        inferred = infer_shapes(model)
    except Exception:  # shapes only enable rewrites; the strict check comes later
        return {}
    found: dict[str, list[int | None]] = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        t = value.type.tensor_type
        if t.HasField("shape"):
            found[value.name] = [d.dim_value if d.HasField("dim_value") else None
                                 for d in t.shape.dim]
    return found


def _drop_dead(graph: onnx.GraphProto) -> None:
    kept = live_nodes(list(graph.node), (o.name for o in graph.output))
    if len(kept) != len(graph.node):
        del graph.node[:]
        graph.node.extend(kept)


def rewrite_step(model: onnx.ModelProto) -> onnx.ModelProto:
    """All rewrites of this module, in order."""
    return state_at_synapse_inputs(split_concatenated_products(simplify_identities(model)))
