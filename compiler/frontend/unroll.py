"""Fold a whole time loop exported at once back into one step function.

``torch.onnx.export`` of a module that loops over time inlines the loop: ``T`` copies of the
step, the input sliced per step (``Gather``/``Slice``+``Squeeze``/``Split`` along the time axis,
or the same input read by every step), the state threaded from copy to copy, and the per-step
outputs stacked (``Unsqueeze`` + ``Concat``). snnc runs one step with explicit state
(DESIGN.md section 2), so such a graph is cut back into that step:

1. **Steps by program order.** Exporters write the copies in the order the loop ran, so step
   ``k`` starts at the first node that reads step ``k``'s input; every node up to the next
   start belongs to step ``k``. A node may read constants, its own step's input, its own step's
   values and the previous step's values (the state); anything else is refused.
2. **A template step.** The first copy is often simplified (a zero initial state folded into
   constants) and the last one lacks what only a next step would read, so the template is
   copy 2, checked node by node against copies 1 .. T-2 (``T >= 4``, or ``T = 3`` when the last
   copy is complete).
3. **State.** Every value copy 2 reads from copy 1 is state, paired with the same value of copy
   2. A state value copy 1 computes from other state values and constants alone (snnTorch's
   reset test on the previous membrane, which an exporter reuses from the previous step's
   spike) is recomputed inside the template instead, so the state is what the model really
   carries, in the form a one-step export has; a synapse (``Gemm``, ``MatMul``, ``Conv``)
   reading such a value still reads it as state, the previous step's layer output that a
   recurrent synapse of the layer view reads (snnTorch ``RLeaky``).
4. **Check.** The unrolled graph and the folded step looped ``T`` times from a zero state are
   run with ONNX's reference evaluator on one random input; their stacked outputs must agree
   bit for bit, which also proves that step 0 starts from zero.

The folded model has the original data input (time axis removed), the first stacked output as
its data output, metadata ``snnc.timesteps = T`` and ``snnc.state`` pairing. Other outputs
(recorded membranes, final states) are dropped: snnc records membranes itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper

from snnc.errors import UnsupportedError
from snnc.frontend.inference import infer_shapes
from snnc.frontend.onnx_graph import GraphIndex, upstream

F32 = np.float32
STATE_KEY = "snnc.state"
TIMESTEPS_KEY = "snnc.timesteps"
ADVICE = ("export one step instead, with the state as inputs and outputs, e.g. "
          "torch.onnx.export(step, (x[0], mem), 'step.onnx', input_names=['x', 'mem_in'], "
          "output_names=['spk', 'mem_out'])")


@dataclass(frozen=True)
class _Loop:
    """What marks a graph as an unrolled loop."""

    data: str
    time_axis: int | None  # None: every step reads the whole data input
    step_inputs: tuple[frozenset[str], ...]  # per step, the tensors holding its input
    plumbing: frozenset[str]  # names of the slicing and stacking nodes
    outputs: tuple[tuple[str, int, tuple[str, ...]], ...]  # (graph output, axis, per step)

    @property
    def steps(self) -> int:
        return len(self.outputs[0][2])


class _Refused(Exception):
    """Internal: the graph is an unrolled loop that cannot be folded (the reason)."""


def fold_unrolled_loop(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` itself when it is not an unrolled loop, else the folded one-step model.

    Raises :class:`UnsupportedError` (with export advice) for an unrolled loop that cannot be
    folded."""
    index = GraphIndex(model.graph)
    try:
        loop = _find_loop(index)
        if loop is None:
            return model
        folded, trace = _fold(model, index, loop)
        _check_numerically(model, folded, loop, trace)
    except _Refused as exc:
        raise UnsupportedError(f"the model is a whole time loop exported at once and cannot "
                               f"be folded back into one step ({exc}); {ADVICE}") from None
    return folded


# -- recognising the loop ----------------------------------------------------------------------

def _int_list(index: GraphIndex, node: NodeProto, position: int | None,
              attr: str) -> list[int] | None:
    """Integers given as the constant input at ``position`` (newer opsets) or as the
    attribute ``attr``."""
    if position is not None and len(node.input) > position and node.input[position]:
        value = index.const(node.input[position])
        return None if value is None else [int(v) for v in np.ravel(value)]
    for a in node.attribute:
        if a.name == attr:
            value = helper.get_attribute_value(a)
            return [int(v) for v in (value if isinstance(value, list) else [value])]
    return None


def _stacked(index: GraphIndex, output: str) -> tuple[int, tuple[str, ...], set[str]] | None:
    """``Concat(Unsqueeze(y_0, a), ..., Unsqueeze(y_T-1, a), axis=a)``: (a, ys, node names)."""
    concat = index.producer.get(output)
    if concat is None or concat.op_type != "Concat" or len(concat.input) < 2:
        return None
    axis = _int_list(index, concat, None, "axis")
    if not axis:
        return None
    values, nodes = [], {concat.name}
    for name in concat.input:
        unsqueeze = index.producer.get(name)
        if unsqueeze is None or unsqueeze.op_type != "Unsqueeze":
            return None
        if _int_list(index, unsqueeze, 1, "axes") != axis or index.readers(name) != 1:
            return None
        values.append(unsqueeze.input[0])
        nodes.add(unsqueeze.name)
    return axis[0], tuple(values), nodes


def _data_rank(model: onnx.ModelProto, name: str) -> list[int | None]:
    value = next(v for v in model.graph.input if v.name == name)
    return [d.dim_value if d.HasField("dim_value") else None
            for d in value.type.tensor_type.shape.dim]


def _slices(index: GraphIndex, data: str, length: int | None,
            ) -> tuple[int, dict[int, set[str]], set[str]] | None:
    """How the data input is cut into steps: (axis, step -> tensors, slicing nodes), or None
    when no reader slices it. Raises :class:`_Refused` for a partial or mixed slicing."""
    found: dict[int, set[str]] = {}
    nodes: set[str] = set()
    axes: set[int] = set()
    readers = index.consumers.get(data, [])
    for node in readers:
        cut = _cut(index, node, length)
        if cut is None:
            continue
        axis, parts = cut
        axes.add(axis)
        nodes.add(node.name)
        for step, tensor, squeeze in parts:
            found.setdefault(step, set()).add(tensor)
            if squeeze:
                nodes.add(squeeze)
    if not nodes:
        return None
    if any(n.name not in nodes for n in readers):
        raise _Refused(f"'{data}' is read both per step and whole")
    if len(axes) != 1:
        raise _Refused(f"'{data}' is sliced along several axes")
    return axes.pop(), found, nodes


def _cut(index: GraphIndex, node: NodeProto,
         length: int | None) -> tuple[int, list[tuple[int, str, str]]] | None:
    """One slicing reader: (axis, [(step, tensor, squeeze node or '')])."""
    def step_of(i: int) -> int | None:
        if i < 0 and length is not None:
            i += length
        return i if i >= 0 else None

    if node.op_type == "Gather" and len(node.input) == 2:
        indices = index.const(node.input[1])
        if indices is None or indices.shape != ():
            return None
        axis = _int_list(index, node, None, "axis") or [0]
        step = step_of(int(indices))
        return None if step is None else (axis[0], [(step, node.output[0], "")])
    if node.op_type == "Slice" and len(node.input) >= 4:
        starts = _int_list(index, node, 1, "starts")
        ends = _int_list(index, node, 2, "ends")
        axes = _int_list(index, node, 3, "axes")
        steps = _int_list(index, node, 4, "steps") if len(node.input) > 4 else [1]
        if not (starts and ends and axes and len(starts) == len(ends) == len(axes) == 1):
            return None
        step = step_of(starts[0])
        if steps != [1] or step is None or ends[0] != starts[0] + 1:
            return None
        squeeze = _only_squeeze(index, node.output[0], axes[0])
        return None if squeeze is None else (axes[0], [(step, squeeze.output[0],
                                                        squeeze.name)])
    if node.op_type == "Split":
        axis = (_int_list(index, node, None, "axis") or [0])[0]
        sizes = _int_list(index, node, 1, "split")
        if sizes is not None and any(s != 1 for s in sizes):
            return None
        parts = []
        for step, out in enumerate(node.output):
            squeeze = _only_squeeze(index, out, axis)
            if squeeze is None:
                return None
            parts.append((step, squeeze.output[0], squeeze.name))
        return axis, parts
    return None


def _only_squeeze(index: GraphIndex, tensor: str, axis: int) -> NodeProto | None:
    readers = index.consumers.get(tensor, [])
    if len(readers) != 1 or tensor in index.outputs:
        return None
    squeeze = readers[0]
    if squeeze.op_type != "Squeeze" or _int_list(index, squeeze, 1, "axes") != [axis]:
        return None
    return squeeze


def _find_loop(index: GraphIndex) -> _Loop | None:
    stacks = [(out, found) for out in index.outputs
              if (found := _stacked(index, out)) is not None]
    sliced = {name: found for name in index.inputs
              if (found := _input_slices(index, name)) is not None}
    if len(index.inputs) != 1:
        if sliced:
            raise _Refused(f"it has {len(index.inputs)} inputs; an exported loop must create "
                           "its initial state itself")
        return None
    data = index.inputs[0]
    cut = sliced.get(data)
    if not stacks:
        if cut is not None and len(cut[1]) > 1:
            raise _Refused("its input is sliced per step but no output stacks the steps")
        return None
    lengths = {len(found[1]) for _, found in stacks}
    if len(lengths) != 1:
        raise _Refused("its stacked outputs have different numbers of steps")
    steps = lengths.pop()
    plumbing: set[str] = set()
    for _, found in stacks:
        plumbing |= found[2]
    outputs = tuple((out, found[0], found[1]) for out, found in stacks)
    if cut is None:
        return _Loop(data, None, tuple(frozenset({data}) for _ in range(steps)),
                     frozenset(plumbing), outputs)
    axis, parts, nodes = cut
    if sorted(parts) != list(range(steps)):
        raise _Refused(f"its input is sliced into steps {sorted(parts)} but {steps} outputs "
                       "are stacked")
    return _Loop(data, axis, tuple(frozenset(parts[k]) for k in range(steps)),
                 frozenset(plumbing | nodes), outputs)


def _input_slices(index: GraphIndex, data: str,
                  ) -> tuple[int, dict[int, set[str]], set[str]] | None:
    """:func:`_slices` with negative step indices resolved against the input's length."""
    found = _slices(index, data, None)
    dims = _data_rank_from_index(index, data)
    if found is None or dims is None or not -len(dims) <= found[0] < len(dims):
        return found
    return _slices(index, data, dims[found[0]])


def _data_rank_from_index(index: GraphIndex, data: str) -> list[int | None] | None:
    value = next((v for v in index.graph.input if v.name == data), None)
    if value is None:
        return None
    return [d.dim_value if d.HasField("dim_value") else None
            for d in value.type.tensor_type.shape.dim]


# -- cutting it into steps -----------------------------------------------------------------------

@dataclass
class _Blocks:
    """Nodes per step in program order, and where every non-constant tensor comes from."""

    nodes: list[list[NodeProto]]
    home: dict[str, tuple[int, int, int]]  # tensor -> (step, position in step, output index)
    constants: set[str]


def _segment(index: GraphIndex, loop: _Loop) -> _Blocks:
    constants = index.constant_names()
    position = {node.name: i for i, node in enumerate(index.nodes)}
    starts = []
    for step, tensors in enumerate(loop.step_inputs):
        readers = [n for t in tensors for n in index.consumers.get(t, [])
                   if n.name not in loop.plumbing]
        if loop.time_axis is None:  # the whole input: the readers that serve this step
            readers = [n for n in readers if _serves(index, n, loop, step)]
        if not readers:
            raise _Refused(f"step {step} does not read its input")
        starts.append(min(position[n.name] for n in readers))
    if starts != sorted(set(starts)):
        raise _Refused("the steps are not written one after another")
    blocks: list[list[NodeProto]] = [[] for _ in starts]
    home: dict[str, tuple[int, int, int]] = {}
    for node in index.nodes:
        if node.name in loop.plumbing or all(o in constants for o in node.output if o):
            continue
        pos = position[node.name]
        step = max((k for k, s in enumerate(starts) if s <= pos), default=None)
        if step is None:
            raise _Refused(f"node '{node.name}' computes from the input before the first step")
        for i, out in enumerate(node.output):
            if out:
                home[out] = (step, len(blocks[step]), i)
        blocks[step].append(node)
    return _Blocks(blocks, home, constants)


def _serves(index: GraphIndex, node: NodeProto, loop: _Loop, step: int) -> bool:
    """Whether ``node`` feeds the stacked output of ``step`` but no earlier one."""
    cones = [_cone(index, ys[k]) for _, _, ys in loop.outputs for k in (step,)]
    earlier = [_cone(index, ys[k]) for _, _, ys in loop.outputs for k in range(step)]
    return any(node.name in c for c in cones) and not any(node.name in c for c in earlier)


def _cone(index: GraphIndex, tensor: str) -> set[str]:
    """The names of the nodes ``tensor`` is computed by."""
    return {node.name for name in upstream(index.producer, tensor)
            if (node := index.producer.get(name)) is not None}


def _describe(index: GraphIndex, blocks: _Blocks, loop: _Loop, step: int,
              node: NodeProto, positions: bool) -> tuple:
    """A node as its step sees it: op, attributes and where each input comes from."""
    args: list[tuple] = []
    for name in node.input:
        if not name:
            args.append(("none",))
        elif name in blocks.constants:
            value = index.const(name)
            args.append(("const", name) if value is None else
                        ("const", str(value.dtype), value.shape, value.tobytes()))
        elif name in loop.step_inputs[step]:
            args.append(("input",))
        elif name in blocks.home:
            src, pos, out = blocks.home[name]
            if src == step:
                args.append(("local", pos, out))
            elif src == step - 1:
                args.append(("prev", pos if positions else None, out))
            else:
                raise _Refused(f"node '{node.name}' of step {step} reads a value of step {src}")
        elif any(name in tensors for tensors in loop.step_inputs):
            raise _Refused(f"node '{node.name}' of step {step} reads another step's input")
        else:
            raise _Refused(f"node '{node.name}' reads '{name}', which is neither a constant "
                           "nor a step's value")
    attrs = tuple(sorted(a.SerializeToString() for a in node.attribute))
    return node.op_type, node.domain, attrs, tuple(args), len(node.output)


def _template_step(index: GraphIndex, blocks: _Blocks, loop: _Loop) -> tuple[int, range]:
    """The copy to fold into (2) and the copies checked to agree with it node by node:
    1 .. T-2, and the last copy too when T = 3."""
    steps = loop.steps
    if steps < 3:
        raise _Refused(f"only {steps} steps are exported; folding needs at least 3")
    last_checked = steps - 2 if steps >= 4 else steps - 1
    shapes = {}
    for step in range(1, last_checked + 1):
        shapes[step] = [_describe(index, blocks, loop, step, n, positions=step >= 2)
                        for n in blocks.nodes[step]]
    for step in range(2, last_checked + 1):
        a = [(*d[:3], tuple(x if x[0] != "prev" else ("prev", x[2]) for x in d[3]), d[4])
             for d in shapes[step - 1]]
        b = [(*d[:3], tuple(x if x[0] != "prev" else ("prev", x[2]) for x in d[3]), d[4])
             for d in shapes[step]]
        if a != b or (step >= 3 and shapes[step - 1] != shapes[step]):
            raise _Refused(f"steps {step - 1} and {step} do not compute the same thing")
    for step in range(steps):  # no step may read further back than one step
        for node in blocks.nodes[step]:
            _describe(index, blocks, loop, step, node, positions=True)
    return 2, range(1, last_checked + 1)


# -- the folded model ----------------------------------------------------------------------------

def _fold(model: onnx.ModelProto, index: GraphIndex,
          loop: _Loop) -> tuple[onnx.ModelProto, dict[int, dict[str, str]]]:
    """The folded model, and for the steps whose copies match the template the unrolled
    tensors that hold each state after that step (for the numerical check)."""
    blocks = _segment(index, loop)
    m, matching = _template_step(index, blocks, loop)
    block = blocks.nodes[m]
    crossing: list[str] = []  # tensors of copy m-1 read by copy m, in program order
    for node in block:
        for name in node.input:
            home = blocks.home.get(name)
            if home is not None and home[0] == m - 1 and name not in crossing:
                crossing.append(name)
    crossing.sort(key=lambda t: blocks.home[t][1:])
    kept = list(crossing)
    for tensor in reversed(crossing):
        rest = set(kept) - {tensor}
        if _derivable(blocks, m - 1, tensor, rest):
            kept.remove(tensor)
    derived = [t for t in crossing if t not in kept]
    # a synapse reading a derived value reads it as state all the same: in the layer view only
    # a recurrent synapse reads the previous step (snnTorch RLeaky's spikes)
    carried = [t for t in derived if any(n.op_type in _SYNAPSES and t in n.input for n in block)]
    again = _recompute(blocks, m - 1, derived, set(kept))
    template = [*again.values(), *(_read_recomputed(n, again) for n in block)]
    outputs = [ys[m] for _, _, ys in loop.outputs]
    if blocks.home.get(outputs[0], (None,))[0] != m:
        raise _Refused("the stacked output is not computed by its own step")
    pairs = {}
    for tensor in kept + carried:
        _, pos, out = blocks.home[tensor]
        pairs[tensor] = block[pos].output[out]
    trace = {step: {tensor: blocks.nodes[step][pos].output[out]
                    for tensor in pairs for _, pos, out in [blocks.home[tensor]]}
             for step in matching}
    return _assemble(model, index, blocks, loop, template, pairs, outputs[0], m), trace


# Ops that may read the previous step's value (recurrent synapses of the layer view).
_SYNAPSES = frozenset({"Gemm", "MatMul", "Conv"})
_AGAIN = ".recomputed"


def _recompute(blocks: _Blocks, step: int, tensors: list[str],
               leaves: set[str]) -> dict[str, NodeProto]:
    """Copies of the nodes of copy ``step`` that compute ``tensors`` from ``leaves``, their
    outputs renamed ``<tensor>.recomputed`` (the original name may stay a state input)."""
    names = _closure(blocks, step, tensors, leaves)
    copies: dict[str, NodeProto] = {}
    for node in blocks.nodes[step]:
        if node.name not in names:
            continue
        copy = NodeProto()
        copy.CopyFrom(node)
        copy.name = f"{node.name}{_AGAIN}"
        for i, name in enumerate(copy.input):
            home = blocks.home.get(name)
            if home is not None and home[0] == step and name not in leaves:
                copy.input[i] = f"{name}{_AGAIN}"
        for i, name in enumerate(copy.output):
            if name:
                copy.output[i] = f"{name}{_AGAIN}"
        copies[node.name] = copy
    return copies


def _read_recomputed(node: NodeProto, again: dict[str, NodeProto]) -> NodeProto:
    """``node`` reading the recomputed values, except a synapse, which reads the state."""
    recomputed = {o.removesuffix(_AGAIN) for copy in again.values() for o in copy.output}
    if node.op_type in _SYNAPSES or not any(i in recomputed for i in node.input):
        return node
    copy = NodeProto()
    copy.CopyFrom(node)
    for i, name in enumerate(copy.input):
        if name in recomputed:
            copy.input[i] = f"{name}{_AGAIN}"
    return copy


def _derivable(blocks: _Blocks, step: int, tensor: str, leaves: set[str]) -> bool:
    """Whether copy ``step`` computes ``tensor`` from constants and ``leaves`` alone (not
    from its input or from ``tensor`` itself)."""
    memo: dict[str, bool] = {}

    def ok(name: str) -> bool:
        if name in leaves or name in blocks.constants:
            return True
        if name not in memo:
            home = blocks.home.get(name)
            memo[name] = False  # a value cannot come from itself
            if home is not None and home[0] == step:
                node = blocks.nodes[step][home[1]]
                memo[name] = all(not i or ok(i) for i in node.input)
        return memo[name]

    home = blocks.home.get(tensor)
    if home is None or home[0] != step:
        return False
    return all(not i or ok(i) for i in blocks.nodes[step][home[1]].input)


def _closure(blocks: _Blocks, step: int, tensors: list[str], leaves: set[str]) -> set[str]:
    """Names of the nodes of copy ``step`` that recompute ``tensors`` from ``leaves``."""
    names: set[str] = set()
    pending = list(tensors)
    while pending:
        tensor = pending.pop()
        home = blocks.home.get(tensor)
        if tensor in leaves or tensor in blocks.constants or home is None:
            continue
        node = blocks.nodes[step][home[1]]
        if node.name not in names:
            names.add(node.name)
            pending.extend(i for i in node.input if i)
    return names


def _assemble(model: onnx.ModelProto, index: GraphIndex, blocks: _Blocks, loop: _Loop,
              template: list[NodeProto], pairs: dict[str, str], output: str,
              step: int) -> onnx.ModelProto:
    graph = model.graph
    shapes = _inferred_shapes(model)
    data_dims = _data_rank(model, loop.data)
    if loop.time_axis is not None:
        axis = loop.time_axis % len(data_dims)
        data_dims = data_dims[:axis] + data_dims[axis + 1:]
    rename = {t: loop.data for t in loop.step_inputs[step]}
    nodes = []
    for node in _constant_nodes(index, blocks, template):
        nodes.append(node)
    for node in template:
        copy = NodeProto()
        copy.CopyFrom(node)
        for i, name in enumerate(copy.input):
            copy.input[i] = rename.get(name, name)
        nodes.append(copy)
    _tidy_names(nodes, blocks, step)
    used = {name for node in nodes for name in node.input}
    initializers = [t for t in graph.initializer if t.name in used]
    inputs = [_value(loop.data, data_dims)]
    for state in pairs:
        inputs.append(_value(state, shapes.get(state)))
    outputs = [_value(output, shapes.get(output))]
    outputs += [_value(out, shapes.get(out)) for out in pairs.values() if out != output]
    folded_graph = helper.make_graph(nodes, graph.name or "folded", inputs, outputs,
                                     initializers)
    folded = helper.make_model(folded_graph, opset_imports=list(model.opset_import))
    folded.ir_version = model.ir_version
    meta = {p.key: p.value for p in model.metadata_props}
    meta[STATE_KEY] = json.dumps(pairs)
    meta[TIMESTEPS_KEY] = str(loop.steps)
    helper.set_model_props(folded, meta)
    return folded


def _constant_nodes(index: GraphIndex, blocks: _Blocks,
                    template: list[NodeProto]) -> list[NodeProto]:
    """The constant-computing nodes the template reads, in program order."""
    needed: set[str] = set()
    pending = [i for node in template for i in node.input if i in blocks.constants]
    while pending:
        name = pending.pop()
        node = index.producer.get(name)
        if node is None or node.name in needed:
            continue
        needed.add(node.name)
        pending.extend(i for i in node.input if i)
    return [n for n in index.nodes if n.name in needed]


def _tidy_names(nodes: list[NodeProto], blocks: _Blocks, step: int) -> None:
    """Drop the per-copy counter exporters append (``/lif_2/Mul`` -> ``/lif/Mul``,
    ``node_add_2`` -> ``node_add``) where copy 1 names the same node with ``_1``; layer names
    come from node names."""
    previous = {i: n.name for i, n in enumerate(blocks.nodes[step - 1])}
    current = {n.name: i for i, n in enumerate(blocks.nodes[step])}
    taken = {n.name for n in nodes}
    for node in nodes:
        pos = current.get(node.name)
        if pos is None or pos not in previous:
            continue
        new = _strip_counter(previous[pos], node.name, step)
        if new != node.name and new not in taken:
            taken.discard(node.name)
            taken.add(new)
            node.name = new


def _strip_counter(before: str, name: str, step: int) -> str:
    a, b = before.split("/"), name.split("/")
    if len(a) != len(b):
        return name
    parts = []
    for x, y in zip(a, b, strict=True):
        if x != y and x.endswith(f"_{step - 1}") and y.endswith(f"_{step}") \
                and x[: -len(str(step - 1)) - 1] == y[: -len(str(step)) - 1]:
            y = y[: -len(str(step)) - 1]
        parts.append(y)
    return "/".join(parts)


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    try:
        inferred = infer_shapes(model)
    except Exception:  # shapes are optional here; the step model is checked strictly later
        return {}
    shapes = {}
    for value in [*inferred.graph.value_info, *inferred.graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None
                                  for d in tensor.shape.dim]
    return shapes


def _value(name: str, dims: list[int | None] | None) -> onnx.ValueInfoProto:
    if dims is None:
        raise _Refused(f"the shape of '{name}' is unknown")
    return helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                         ["N" if d is None else d for d in dims])


# -- the numerical check ---------------------------------------------------------------------------

def _check_numerically(model: onnx.ModelProto, folded: onnx.ModelProto, loop: _Loop,
                       trace: dict[int, dict[str, str]]) -> None:
    """Stacked outputs equal, and every state equal after each step whose copy matched the
    template (spikes alone can hide a different initial state)."""
    from onnx.reference import ReferenceEvaluator

    dims = [d or 1 for d in _data_rank(model, loop.data)]
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 2.0, dims).astype(F32)
    watched = [loop.outputs[0][0], *sorted({t for step in trace.values() for t in
                                            step.values()})]
    try:
        unrolled = dict(zip(watched, ReferenceEvaluator(model).run(watched, {loop.data: x}),
                            strict=True))
        step = ReferenceEvaluator(folded)
    except Exception as exc:  # the reference evaluator refuses what it cannot run
        raise _Refused(f"it cannot be evaluated ({type(exc).__name__})") from None
    whole = unrolled[loop.outputs[0][0]]
    pairs = json.loads(next(p.value for p in folded.metadata_props if p.key == STATE_KEY))
    state = {name: np.zeros([d.dim_value or 1 for d in v.type.tensor_type.shape.dim], F32)
             for v in folded.graph.input for name in [v.name] if name in pairs}
    output = folded.graph.output[0].name
    names = [output, *[out for out in pairs.values() if out != output]]
    ys = []
    for k in range(loop.steps):
        x_k = x if loop.time_axis is None else np.take(x, k, axis=loop.time_axis)
        values = dict(zip(names, step.run(names, {loop.data: x_k, **state}), strict=True))
        ys.append(values[output])
        state = {inp: values[out] for inp, out in pairs.items()}
        if any(not np.array_equal(state[inp], unrolled[t]) for inp, t in
               trace.get(k, {}).items()):
            raise _Refused("its steps do not all compute the same step from a zero initial "
                           "state")
    stacked = np.stack(ys, axis=loop.outputs[0][1] % (ys[0].ndim + 1))
    if stacked.shape != whole.shape or not np.array_equal(stacked, whole):
        raise _Refused("its steps do not all compute the same step from a zero initial state")
