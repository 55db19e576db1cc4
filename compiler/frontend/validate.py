"""Early structural checks of an ONNX step graph, before anything reaches TVM.

Each check raises a one-line ``snnc.errors`` error that names the node (or tensor), so a user
learns what is wrong with *their* model rather than where an importer tripped. Order matters:
names first (everything else reports them), then operators, topology, attributes, constants.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import numpy_helper

from snnc.errors import InvalidModelError, ModelError, UnsupportedOpError
from snnc.frontend.schema import DOMAIN, DOMAIN_VERSION, OPS, AttrSpec, OpSpec

MIN_OPSET = 13

# Standard operators the patterns can raise (synapses, and the primitives of neurons/attention).
STANDARD_OPS = frozenset({
    "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Constant", "Conv", "Div",
    "Dropout", "Flatten", "Floor", "Gemm", "Greater", "GreaterOrEqual", "Identity", "MatMul",
    "Max", "MaxPool", "Min", "Mul", "ReduceMean", "Relu", "Reshape", "Sub", "Transpose", "Where",
})

# Standard operators that only exporter idioms use (a whole time loop exported at once, no-op
# Unsqueeze round trips): allowed on input, gone after :mod:`snnc.frontend.idioms` and
# :mod:`snnc.frontend.unroll`, refused if any is left.
REWRITTEN_OPS = frozenset({"Concat", "Gather", "Slice", "Split", "Squeeze", "Unsqueeze"})

# Standard operators that compute constants (initial states from shapes, in-graph parameter
# arithmetic) or that neuron recovery reduces (spike tests, graded spikes): allowed on input;
# constant folding and neuron recovery remove them, and any left is refused by name.
FOLDED_OPS = frozenset({"Shape", "Size", "ConstantOfShape", "Expand", "Reciprocal", "Exp",
                        "Log", "Pow", "Neg", "Sqrt", "Range", "Tile", "Sigmoid", "Tanh",
                        "Softplus", "Equal", "Not", "And", "Or", "Less", "LessOrEqual",
                        "Sign", "Round", "Ceil", "CastLike", "Mod"})

_ATTR_KINDS = {
    "float": onnx.AttributeProto.FLOAT,
    "int": onnx.AttributeProto.INT,
    "string": onnx.AttributeProto.STRING,
    "floats": onnx.AttributeProto.FLOATS,
}


def default_opset(model: onnx.ModelProto) -> int:
    """The model's default-domain opset; older opsets lack ops the expansion emits."""
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise InvalidModelError("the model imports no default-domain opset")
    if versions[0] < MIN_OPSET:
        raise InvalidModelError(f"opset {versions[0]} is older than the supported {MIN_OPSET}")
    for entry in model.opset_import:
        if entry.domain == DOMAIN and entry.version != DOMAIN_VERSION:
            # another version of the contract may mean other semantics: never guess
            raise InvalidModelError(f"the {DOMAIN} domain is imported at version "
                                    f"{entry.version}; snnc reads version {DOMAIN_VERSION}")
    return versions[0]


def name_nodes(model: onnx.ModelProto) -> None:
    """Give unnamed nodes a stable name (``<OpType>_<index>``) so every error can name one."""
    taken = {n.name for n in model.graph.node if n.name}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name, k = f"{node.op_type}_{index}", 1
            while name in taken:
                name, k = f"{node.op_type}_{index}_{k}", k + 1
            node.name = name
            taken.add(name)


def check_names(model: onnx.ModelProto) -> None:
    """Node names unique, every tensor defined once. Any string is a valid name (ONNX allows
    every one; names are labels): generated code sees them only through
    :mod:`snnc.ir.names`, error messages through :func:`snnc.errors.label`."""
    graph = model.graph
    seen_nodes: set[str] = set()
    for node in graph.node:
        if node.name in seen_nodes:
            raise InvalidModelError("duplicate node name", node.name)
        seen_nodes.add(node.name)
    defined: dict[str, str] = {}
    for name, owner, what in _definitions(graph):
        if name in defined:
            raise InvalidModelError(f"{what} '{name}' is already defined by {defined[name]}",
                                    owner)
        defined[name] = f"{what} '{owner}'" if what == "node output" else what
    for node in graph.node:
        for name in node.input:
            if name and name not in defined:
                raise InvalidModelError(f"reads tensor '{name}', which nothing defines",
                                        node.name)
    seen_outputs: set[str] = set()
    for out in graph.output:
        if out.name not in defined:
            raise InvalidModelError(f"graph output '{shown(out.name)}' is never computed")
        if out.name in seen_outputs:
            raise InvalidModelError(f"graph output '{out.name}' is listed twice")
        seen_outputs.add(out.name)


def _definitions(graph: onnx.GraphProto) -> Iterable[tuple[str, str, str]]:
    """Every tensor definition: (tensor, owner to name in errors, what defines it)."""
    initializers = {t.name for t in graph.initializer}
    for t in graph.initializer:
        yield t.name, t.name, "initializer"
    for value in graph.input:
        if value.name not in initializers:
            yield value.name, value.name, "graph input"
    for node in graph.node:
        for name in node.output:
            if name:
                yield name, node.name, "node output"


def shown(text: str, limit: int = 80) -> str:
    """Untrusted text as it may appear inside a one-line message (escaped, shortened)."""
    return text.encode("unicode_escape").decode("ascii")[:limit]


def check_ops(model: onnx.ModelProto, also: frozenset[str] = frozenset()) -> None:
    """Every node is a supported standard op (or one of ``also``) or an ``snnc`` op (the
    domain counts)."""
    for node in model.graph.node:
        if node.domain in ("", "ai.onnx"):
            if node.op_type not in STANDARD_OPS and node.op_type not in also:
                raise UnsupportedOpError(node.op_type, node.name)
        elif node.domain == DOMAIN:
            if node.op_type not in OPS:
                raise UnsupportedOpError(node.op_type, node.name, node.domain)
        else:
            raise UnsupportedOpError(node.op_type, node.name, node.domain)


def sort_topologically(model: onnx.ModelProto) -> None:
    """Reorder nodes so producers precede consumers; a cycle is a loop without state."""
    graph = model.graph
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output if out}
    deps = [{producer[x] for x in node.input if x in producer} for node in graph.node]
    order: list[int] = []
    state = [0] * len(deps)  # 0 new, 1 on the stack, 2 done
    for start in range(len(deps)):
        stack = [(start, iter(sorted(deps[start])))]
        if state[start]:
            continue
        state[start] = 1
        while stack:
            index, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                stack.pop()
                state[index] = 2
                order.append(index)
            elif state[nxt] == 1:
                raise InvalidModelError(
                    "is part of a cycle without state (carry the value to the next step "
                    "through a state input/output pair instead)", graph.node[nxt].name)
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(deps[nxt]))))
    if order != list(range(len(order))):
        nodes = [graph.node[i] for i in order]
        del graph.node[:]
        graph.node.extend(nodes)


def check_snnc_nodes(model: onnx.ModelProto) -> None:
    """``snnc`` nodes follow the contract in :mod:`snnc.frontend.schema`."""
    constants = {t.name for t in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    for node in model.graph.node:
        if node.domain == DOMAIN:
            check_snnc_node(node, OPS[node.op_type], constants)


def check_snnc_node(node: onnx.NodeProto, spec: OpSpec, constants: set[str]) -> None:
    inputs = list(node.input)
    if not spec.required_inputs <= len(inputs) <= len(spec.inputs):
        raise ModelError(f"{node.op_type} takes {spec.required_inputs} to {len(spec.inputs)} "
                         f"inputs, got {len(inputs)}", node.name)
    if any(not name for name in inputs[: spec.required_inputs]):
        raise ModelError(f"{node.op_type} input '{spec.inputs[inputs.index('')]}' is empty",
                         node.name)
    if len(node.output) != len(spec.outputs) or not all(node.output):
        raise ModelError(f"{node.op_type} has {len(spec.outputs)} outputs "
                         f"({', '.join(spec.outputs)}), got {len(node.output)}", node.name)
    attrs = {a.name: a for a in node.attribute}
    for name, attr in attrs.items():
        if name not in spec.attrs:
            raise ModelError(f"{node.op_type} has no attribute '{name}'", node.name)
        _check_attr(node, name, attr, spec.attrs[name])
    given = dict(zip(spec.inputs, inputs, strict=False))
    for pname in spec.params:
        if given.get(pname):
            if given[pname] not in constants:
                raise ModelError(f"parameter input '{pname}' must be a constant", node.name)
            if pname in attrs:
                raise ModelError(f"'{pname}' is given both as attribute and input", node.name)
    for name, aspec in spec.attrs.items():
        if aspec.required and name not in attrs and not given.get(name):
            raise ModelError(f"{node.op_type} requires attribute '{name}'", node.name)
    if node.op_type == "MultiLevelSpike" and "axis" in attrs and "theta" in attrs:
        raise ModelError("MultiLevelSpike takes either 'axis' (input-aware) or 'theta' "
                         "(constant), not both", node.name)


def _check_attr(node: onnx.NodeProto, name: str, attr: onnx.AttributeProto,
                spec: AttrSpec) -> None:
    if attr.type != _ATTR_KINDS[spec.kind]:
        raise ModelError(f"attribute '{name}' must be of type {spec.kind}", node.name)
    value = onnx.helper.get_attribute_value(attr)
    if spec.choices:
        text = value.decode("utf-8", "replace")
        if text not in spec.choices:
            raise ModelError(f"attribute '{name}' is '{text}', expected one of "
                             f"{', '.join(spec.choices)}", node.name)
    values = value if isinstance(value, list) else [value]
    if spec.kind in ("float", "floats") and not np.all(np.isfinite(values)):
        raise InvalidModelError(f"attribute '{name}' is NaN or inf", node.name)


def check_constants(model: onnx.ModelProto) -> None:
    """Float constants (initializers, ``Constant`` nodes) must be finite."""
    consumers: dict[str, str] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, node.name)
    for tensor in model.graph.initializer:
        _check_finite(tensor, consumers.get(tensor.name, tensor.name))
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                _check_finite(attr.t, node.name)
            elif attr.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.FLOATS):
                value = onnx.helper.get_attribute_value(attr)
                if not np.all(np.isfinite(value)):
                    raise InvalidModelError(f"attribute '{attr.name}' is NaN or inf", node.name)


def _check_finite(tensor: onnx.TensorProto, owner: str) -> None:
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidModelError(f"tensor '{tensor.name}' is unreadable ({exc})", owner) from None
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        raise InvalidModelError(f"tensor '{tensor.name}' contains NaN or inf", owner)


def check_model(model: onnx.ModelProto) -> None:
    """The ONNX checker, reported as one line."""
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid model"
        raise ModelError(f"ONNX checker: {message}") from None


def validate_structure(model: onnx.ModelProto) -> None:
    """Every check, in order, except that operators the exporter rewrites remove (the
    ``REWRITTEN_OPS`` of time loops and no-op shape chains) are still allowed; ``model`` is
    modified only by naming and sorting."""
    default_opset(model)
    name_nodes(model)
    check_names(model)
    check_ops(model, REWRITTEN_OPS | FOLDED_OPS)
    sort_topologically(model)
    check_snnc_nodes(model)
    check_constants(model)
    check_model(model)


def validate_ops(model: onnx.ModelProto) -> None:
    """Known operators only; runs again after the exporter rewrites."""
    check_ops(model)


def validate(model: onnx.ModelProto) -> None:
    """All checks, in order; ``model`` is modified only by naming and sorting."""
    validate_structure(model)
    validate_ops(model)
