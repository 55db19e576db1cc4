"""Constant folding before any matching: every value that depends on no graph input becomes an
initializer.

Exporters leave in-graph constant arithmetic behind: snnTorch's ``Clip(beta, 0, 1)``, Sinabs'
``exp(-dt/tau)`` (``Reciprocal``, ``Exp``, ``Div``), SpikingJelly's initial membrane as
``ConstantOfShape(Shape(x))``, weight ``Transpose``s, ``Expand``ed thresholds. Matching such a
graph means matching every spelling of the same number; folding first means matching numbers.

A node folds when all its inputs are constants, or when it is ``Shape``/``Size`` of a tensor
whose shape is fully static (after ONNX shape inference). The folded subgraph is evaluated in one
go by onnxruntime, so every folded value is bit for bit what onnxruntime computes when it runs
the exported graph (its ``exp`` in float32 can differ from numpy's by one unit in the last place,
and the exported graph is what snnc is compared with). Where onnxruntime cannot run the subgraph,
ONNX's reference evaluator is used instead; where neither can, nothing is folded and the later
stages name the node. Values larger than :data:`MAX_FOLD_ELEMENTS` are never materialised
(a hostile ``ConstantOfShape`` cannot make snnc allocate gigabytes).
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import NodeProto, helper, numpy_helper

from snnc.frontend.inference import infer_shapes

MAX_FOLD_ELEMENTS = 1 << 24
_NONDETERMINISTIC = frozenset({"RandomNormal", "RandomNormalLike", "RandomUniform",
                               "RandomUniformLike", "Multinomial", "Bernoulli"})
_SHAPE_OPS = frozenset({"Shape", "Size"})


def _static_shapes(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    try:
        inferred = infer_shapes(model, data_prop=True)
    except Exception:  # shapes only widen what folds; validation reports real problems later
        return {}
    shapes: dict[str, list[int | None]] = {}
    graph = inferred.graph
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None
                                  for d in tensor.shape.dim]
    return shapes


def _shape_value(node: NodeProto, dims: list[int | None]) -> np.ndarray | None:
    """``Shape``/``Size`` of a tensor of static ``dims`` (``start``/``end`` honoured)."""
    if any(d is None for d in dims):
        return None
    if node.op_type == "Size":
        return np.asarray(math.prod(dims), np.int64)  # type: ignore[arg-type]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    start, end = int(attrs.get("start", 0)), attrs.get("end")
    return np.asarray(dims[start:None if end is None else int(end)], np.int64)


def _too_large(node: NodeProto, shapes: dict[str, list[int | None]]) -> bool:
    for out in node.output:
        dims = shapes.get(out)
        if dims is None:
            if node.op_type in ("ConstantOfShape", "Expand", "Tile", "Range", "Resize"):
                return True  # size unknown for an op that can grow: leave it
            continue
        if any(d is None for d in dims) or math.prod(dims) > MAX_FOLD_ELEMENTS:  # type: ignore
            return True
    return False


def fold_constants(model: onnx.ModelProto, rounds: int = 8) -> onnx.ModelProto:
    """A copy of ``model`` with every input-independent value turned into an initializer
    (``model`` itself when nothing folds). A shape computed in the graph is only known to shape
    inference once the values it is computed from are folded, so folding repeats (at most
    ``rounds`` times) until nothing changes."""
    for _ in range(rounds):
        folded = _fold_once(model)
        if folded is model:
            return model
        model = folded
    return model


def _fold_once(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    constant = {t.name for t in graph.initializer}
    inputs = {v.name for v in graph.input} - constant
    shapes = _static_shapes(model)
    direct: dict[str, np.ndarray] = {}  # Shape/Size outputs known from static shapes
    folded: list[NodeProto] = []
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type in _NONDETERMINISTIC:
            continue
        if any(s.type == onnx.AttributeProto.GRAPH for s in node.attribute):
            continue
        if node.op_type in _SHAPE_OPS and node.input and node.input[0] not in constant \
                and node.input[0] in shapes:
            value = _shape_value(node, shapes[node.input[0]])
            if value is not None:
                direct[node.output[0]] = value
                constant.add(node.output[0])
            continue
        if node.op_type == "Constant" or (all(not i or i in constant for i in node.input)
                                          and not (set(node.input) & inputs)):
            if node.op_type != "Constant" and _too_large(node, shapes):
                continue
            folded.append(node)
            constant.update(o for o in node.output if o)
    if not folded and not direct:
        return model
    outputs = {o.name for o in graph.output}
    gone = {id(n) for n in folded}
    kept = [n for n in graph.node if id(n) not in gone and not (n.output and n.output[0] in direct)]
    needed = {i for n in kept for i in n.input if i} | outputs
    wanted = [o for n in folded for o in n.output if o and o in needed]
    values = _evaluate(model, folded, wanted, direct)
    if values is None:
        return model
    values.update({k: v for k, v in direct.items() if k in needed})
    result = onnx.ModelProto()
    result.CopyFrom(model)
    del result.graph.node[:]
    result.graph.node.extend(kept)
    live = {i for n in kept for i in n.input if i} | outputs
    initializers = [t for t in graph.initializer if t.name in live]
    present = {t.name for t in initializers}
    for name, value in values.items():
        if name in live and name not in present:
            initializers.append(numpy_helper.from_array(np.asarray(value), name))
    del result.graph.initializer[:]
    result.graph.initializer.extend(initializers)
    graph_inputs = [v for v in graph.input if v.name in inputs or v.name in present]
    del result.graph.input[:]
    result.graph.input.extend(graph_inputs)
    return result


def _evaluate(model: onnx.ModelProto, nodes: list[NodeProto], wanted: list[str],
              direct: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The values of ``wanted`` computed by ``nodes``: onnxruntime, else the reference
    evaluator; None when neither runs the subgraph."""
    if not wanted:
        return {}
    produced = {o for n in nodes for o in n.output}
    read = {i for n in nodes for i in n.input if i and i not in produced}
    inits = [t for t in model.graph.initializer if t.name in read]
    inits += [numpy_helper.from_array(v, k) for k, v in direct.items() if k in read]
    outs = [helper.make_empty_tensor_value_info(name) for name in wanted]
    sub = helper.make_graph(list(nodes), "constants", [], outs, inits)
    sub_model = helper.make_model(sub, opset_imports=list(model.opset_import))
    sub_model.ir_version = model.ir_version
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(sub_model.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        values = session.run(wanted, {})
    except Exception:  # onnxruntime refuses some graphs the reference evaluator runs
        try:
            from onnx.reference import ReferenceEvaluator

            values = ReferenceEvaluator(sub_model).run(wanted, {})
        except Exception:  # nothing can run it: fold nothing, later stages name the node
            return None
    found = {}
    for name, value in zip(wanted, values, strict=True):
        value = np.asarray(value)
        if value.dtype == object or value.size > MAX_FOLD_ELEMENTS:
            return None
        found[name] = value
    return found
