"""Time-structure recovery: a whole-sequence graph rewritten as one copy of the step per time step.

Exporters write a network that runs over ``T`` steps in two forms, often mixed in one graph:

- **unrolled**: each step's copy reads a slice of the input (``Gather``, ``Slice`` + ``Squeeze``,
  ``Split``) and the per-step results are stacked (``Unsqueeze`` + ``Concat``);
- **vectorized**: an op applied once to a time-stacked tensor (``MatMul`` on ``[T, B, F]``, a
  ``Conv`` on ``[T*B, C, H, W]`` between ``Reshape``s, an elementwise op) is the same op on
  every step. SpikingJelly's multi-step modules, Sinabs' batch-first ``[B, T, ...]`` layers and
  ``IAFSqueeze``'s ``[B*T, ...]`` flattening are of this kind; only the neuron is unrolled.

Every tensor of the graph is classified: *constant*; *per step* (one step's value, computed in
the copy of step ``t``); or *time-stacked*, with a :class:`TimeAxis` saying where the steps sit
(an axis of length ``T``, or an axis of length ``T*B`` in time-major or batch-major order). The
classification is propagated op by op; reshapes and transposes are followed by mapping element
indices, so any row-major reshaping that keeps each step's values together is understood,
whatever its spelling. Then the canonical unrolled graph is written: the input as ``[T, ...]``,
sliced per step with ``Gather``; per step, every time-stacked op applied to that step's slice and
every per-step node once; the output stacked on axis 0. Time slices of a stack (an unrolled
neuron reading its step of a vectorized synapse) become the stacked value itself.

The rewrite is accepted only when onnxruntime computes the same output, bit for bit, from the
original graph and from the canonical one on a random input. The layout of the input and output
(where time and batch sit) is recorded in the metadata (``snnc.input_layout``,
``snnc.output_layout``) for ``snnc simulate``, which takes an input exactly as the exported
graph does. :mod:`.unroll` then folds the canonical graph into one step with state.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper, numpy_helper

from snnc.frontend.inference import InitializerValues, infer_shapes
from snnc.frontend.onnx_graph import live_nodes, upstream

F32 = np.float32
INPUT_LAYOUT_KEY = "snnc.input_layout"
OUTPUT_LAYOUT_KEY = "snnc.output_layout"

_ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Greater", "GreaterOrEqual", "Less", "LessOrEqual",
    "Equal", "Cast", "Relu", "Sign", "Abs", "Floor", "Ceil", "Round", "Neg", "Exp", "Log",
    "Sigmoid", "Tanh", "Where", "Clip", "Max", "Min", "Not", "And", "Or", "Xor", "Identity",
    "Reciprocal", "Sqrt", "Mod", "Erf", "LeakyRelu", "HardSigmoid", "Softplus", "IsNaN",
    "IsInf", "Heaviside", "CastLike"})
_BATCH_OPS = frozenset({"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool",
                        "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization", "Gemm",
                        "InstanceNormalization"})
_SHAPE_OPS = frozenset({"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze"})


@dataclass(frozen=True)
class TimeAxis:
    """Where the steps of a time-stacked tensor sit: ``axis`` has length ``T`` (``merged``
    empty, the axis disappears per step), or ``T*B`` with step ``t`` at rows
    ``t*B .. t*B+B-1`` (``"tb"``, time-major) or ``t, t+T, ...`` (``"bt"``, batch-major)."""

    axis: int
    merged: str = ""

    def take(self, a: np.ndarray, t: int, steps: int) -> np.ndarray:
        if not self.merged:
            return np.take(a, t, axis=self.axis)
        n = a.shape[self.axis]
        rows = (np.arange(t * (n // steps), (t + 1) * (n // steps)) if self.merged == "tb"
                else np.arange(t, n, steps))
        return np.take(a, rows, axis=self.axis)

    def stack(self, parts: list[np.ndarray]) -> np.ndarray:
        """The inverse of :meth:`take` over all steps."""
        if not self.merged:
            return np.stack(parts, axis=self.axis)
        if self.merged == "tb":
            return np.concatenate(parts, axis=self.axis)
        joined = np.stack(parts, axis=self.axis + 1)  # (..., B, T, ...) batch-major
        shape = list(parts[0].shape)
        shape[self.axis] *= len(parts)
        return joined.reshape(shape)

    def describe(self, rank: int) -> str:
        """``T,B,*`` style text: where time and batch sit."""
        names = ["*"] * rank
        if not self.merged:
            names[self.axis] = "T"
            rest = [i for i in range(rank) if i != self.axis]
            if rest:
                names[rest[0]] = "B"
        else:
            names[self.axis] = "T*B" if self.merged == "tb" else "B*T"
        return ",".join(names)

    def to_json(self, steps: int, dims: list[int]) -> str:
        return json.dumps({"axis": self.axis, "merged": self.merged, "steps": steps,
                           "shape": dims, "layout": self.describe(len(dims))})


class _NotTime(Exception):
    """Internal: the graph does not fit the tried time layout (the reason)."""


@dataclass(frozen=True)
class _Slice1:
    """A size-1 slice of step ``t`` on ``axis`` of a time-stacked tensor (before Squeeze)."""

    source: str
    step: int
    axis: int


def _attr(node: NodeProto, name: str, default: object = None) -> object:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


class _Graph:
    """Producers, constants and static shapes of the graph being recovered."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        graph = model.graph
        self.nodes = list(graph.node)
        self.producer = {o: n for n in self.nodes for o in n.output if o}
        self.consts = InitializerValues(graph)
        init = set(self.consts)
        self.inputs = [v.name for v in graph.input if v.name not in init]
        self.outputs = [v.name for v in graph.output]
        inferred = infer_shapes(model)
        self.shapes: dict[str, list[int | None]] = {}
        self.types: dict[str, int] = {}
        for tensor in graph.initializer:
            self.shapes[tensor.name] = list(tensor.dims)
        for value in [*inferred.graph.input, *inferred.graph.value_info,
                      *inferred.graph.output]:
            tensor = value.type.tensor_type
            self.types[value.name] = tensor.elem_type
            if tensor.HasField("shape"):
                self.shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None
                                           for d in tensor.shape.dim]

    def ints(self, node: NodeProto, position: int, attr: str) -> list[int] | None:
        if len(node.input) > position and node.input[position]:
            value = self.consts.get(node.input[position])
            return None if value is None else [int(v) for v in np.ravel(value)]
        value = _attr(node, attr)
        if value is None:
            return None
        return [int(v) for v in (value if isinstance(value, list) else [value])]

    def shape(self, name: str) -> list[int]:
        dims = self.shapes.get(name)
        if dims is None or any(d is None for d in dims):
            raise _NotTime(f"the shape of '{name}' is not static")
        return [int(d) for d in dims]  # type: ignore[arg-type]


def _stack_inputs(g: _Graph, node: NodeProto) -> tuple[int, list[str]] | None:
    """``Concat(Unsqueeze(y_0, a), ..., axis=a)``: (a, [y_0, ...])."""
    if node.op_type != "Concat" or len(node.input) < 2:
        return None
    axis = int(_attr(node, "axis", 0))  # type: ignore[arg-type]
    rank = len(g.shapes.get(node.output[0]) or [])
    axis = axis % rank if rank else axis
    values = []
    for name in node.input:
        unsq = g.producer.get(name)
        if unsq is None or unsq.op_type != "Unsqueeze":
            return None
        axes = g.ints(unsq, 1, "axes")
        if axes is None or [a % rank for a in axes] != [axis]:
            return None
        values.append(unsq.input[0])
    return axis, values


def steps_of(model: onnx.ModelProto) -> int | None:
    """The number of steps: the length shared by the graph's stacks of per-step values."""
    g = _Graph(model)
    lengths = {len(found[1]) for n in g.nodes if (found := _stack_inputs(g, n)) is not None}
    return max(lengths) if lengths else None


class _Classifier:
    """Forward classification of every tensor for one tried input layout."""

    def __init__(self, g: _Graph, steps: int, data: str, layout: TimeAxis) -> None:
        self.g, self.steps = g, steps
        self.kind: dict[str, object] = {data: layout}  # TimeAxis | ("plain", t) | _Slice1
        for name in g.consts:
            self.kind[name] = "const"
        self.stacks: dict[str, list[str]] = {}
        self.maps: dict[str, tuple] = {}  # shape-op output -> per-step op description
        for node in g.nodes:
            self.visit(node)

    def of(self, name: str) -> object:
        if not name:
            return "const"
        if name not in self.kind:
            raise _NotTime(f"'{name}' is read before it is computed")
        return self.kind[name]

    def visit(self, node: NodeProto) -> None:
        kinds = [self.of(i) for i in node.input]
        outs = [o for o in node.output if o]
        if all(k == "const" for k in kinds):
            for o in outs:
                self.kind[o] = "const"
            return
        stack = _stack_inputs(self.g, node)
        if stack is not None and len(stack[1]) == self.steps:
            axis, values = stack
            for t, value in enumerate(values):
                k = self.of(value)
                if not (k == "const" or (isinstance(k, tuple) and k[1] <= t)):
                    raise _NotTime(f"stack '{node.name}' holds a value that is not one step's")
            self.kind[outs[0]] = TimeAxis(axis)
            self.stacks[outs[0]] = values
            return
        timed = [k for k in kinds if isinstance(k, TimeAxis)]
        sliced = [k for k in kinds if isinstance(k, _Slice1)]
        if sliced:
            self.squeeze(node, kinds, sliced[0])
            return
        if not timed:
            step = max((k[1] for k in kinds if isinstance(k, tuple)), default=0)
            for o in outs:
                self.kind[o] = ("plain", step)
            return
        if any(isinstance(k, tuple) for k in kinds):
            raise _NotTime(f"node '{node.name}' mixes a per-step value with a stacked one")
        self.timed(node, kinds)

    def squeeze(self, node: NodeProto, kinds: list[object], s: _Slice1) -> None:
        if node.op_type != "Squeeze" or kinds[0] != s:
            raise _NotTime(f"node '{node.name}' reads a time slice without squeezing it")
        axes = self.g.ints(node, 1, "axes")
        rank = len(self.g.shape(node.input[0]))
        if axes is None or [a % rank for a in axes] != [s.axis]:
            raise _NotTime(f"node '{node.name}' squeezes another axis than time")
        self.kind[node.output[0]] = ("plain", s.step)
        self.maps[node.output[0]] = ("slice", s.source, s.step)

    def timed(self, node: NodeProto, kinds: list[object]) -> None:
        op, g = node.op_type, self.g
        first = next(k for k in kinds if isinstance(k, TimeAxis))
        assert isinstance(first, TimeAxis)
        data = node.input[0]
        if op in ("Gather", "Slice", "Split") and isinstance(kinds[0], TimeAxis) \
                and not kinds[0].merged and self.slice(node, kinds[0]):
            return
        if op in _ELEMENTWISE:
            out_rank = len(g.shape(node.output[0]))
            axes = set()
            for name, k in zip(node.input, kinds, strict=True):
                if isinstance(k, TimeAxis):
                    axes.add((k.axis + out_rank - len(g.shape(name)), k.merged))
            if len(axes) != 1:
                raise _NotTime(f"node '{node.name}' combines differently stacked values")
            axis, merged = axes.pop()
            for name, k in zip(node.input, kinds, strict=True):
                if k == "const" and name:
                    dims = g.shape(name)
                    offset = axis - (out_rank - len(dims))
                    if offset >= 0 and dims[offset] != 1:
                        raise _NotTime(f"constant '{name}' varies over time")
            self.kind[node.output[0]] = TimeAxis(axis, merged)
            return
        if op == "MatMul" and kinds[1] == "const":
            rank = len(g.shape(data))
            if first.axis >= rank - 1 or g.consts[node.input[1]].ndim != 2:
                raise _NotTime(f"MatMul '{node.name}' contracts the time axis")
            self.kind[node.output[0]] = first
            return
        if op in _BATCH_OPS:
            if first.axis != 0 or not first.merged or any(
                    k != "const" for k in kinds[1:]):
                raise _NotTime(f"{op} '{node.name}' needs time merged into the batch axis")
            self.kind[node.output[0]] = first
            if len(node.output) > 1:
                for o in node.output[1:]:
                    if o:
                        self.kind[o] = "const"
            return
        if op in _SHAPE_OPS and all(k == "const" for k in kinds[1:]):
            self.reshape(node, first)
            return
        raise _NotTime(f"{op} '{node.name}' on a time-stacked tensor")

    def slice(self, node: NodeProto, k: TimeAxis) -> bool:
        g = self.g
        rank = len(g.shape(node.input[0]))
        if node.op_type == "Gather":
            index = g.consts.get(node.input[1])
            axis = int(_attr(node, "axis", 0)) % rank  # type: ignore[arg-type]
            if index is None or axis != k.axis or index.size != 1:
                return False
            t = int(np.ravel(index)[0]) % self.steps
            if index.ndim == 0:
                self.kind[node.output[0]] = ("plain", t)
                self.maps[node.output[0]] = ("slice", node.input[0], t)
            else:
                self.kind[node.output[0]] = _Slice1(node.input[0], t, axis)
            return True
        if node.op_type == "Slice":
            starts, ends = g.ints(node, 1, "starts"), g.ints(node, 2, "ends")
            axes = g.ints(node, 3, "axes") or [0]
            steps = g.ints(node, 4, "steps") or [1]
            if not starts or not ends or len(starts) != 1 or axes[0] % rank != k.axis \
                    or steps != [1]:
                return False
            t = starts[0] % self.steps
            if min(ends[0], self.steps) != t + 1:
                return False
            self.kind[node.output[0]] = _Slice1(node.input[0], t, k.axis)
            return True
        axis = int(_attr(node, "axis", 0)) % rank  # type: ignore[arg-type]
        sizes = g.ints(node, 1, "split")
        if axis != k.axis or len(node.output) != self.steps or (sizes and set(sizes) != {1}):
            return False
        for t, out in enumerate(node.output):
            self.kind[out] = _Slice1(node.input[0], t, axis)
        return True

    def reshape(self, node: NodeProto, k: TimeAxis) -> None:
        """Follow element indices through a shape op to find where the steps land."""
        g = self.g
        in_dims = g.shape(node.input[0])
        index = np.arange(math.prod(in_dims), dtype=np.int64).reshape(in_dims)
        out = _apply_shape_op(g, node, index)
        before = [k.take(index, t, self.steps) for t in range(self.steps)]
        for candidate in _candidates(list(out.shape), self.steps):
            after = [candidate.take(out, t, self.steps) for t in range(self.steps)]
            if all(np.array_equal(a.ravel(), b.ravel()) for a, b in zip(after, before,
                                                                         strict=True)):
                self.kind[node.output[0]] = candidate
                self.maps[node.output[0]] = ("reshape", list(after[0].shape))
                return
        if node.op_type == "Transpose":
            perm = [int(p) for p in _attr(node, "perm")]  # type: ignore[union-attr]
            axis = perm.index(k.axis)
            candidate = TimeAxis(axis, k.merged)
            step_perm = perm if k.merged else [p - (p > k.axis) for p in perm if p != k.axis]
            after = [candidate.take(out, t, self.steps) for t in range(self.steps)]
            if all(np.array_equal(a, np.transpose(b, step_perm)) for a, b in
                   zip(after, before, strict=True)):
                self.kind[node.output[0]] = candidate
                self.maps[node.output[0]] = ("transpose", step_perm)
                return
        raise _NotTime(f"{node.op_type} '{node.name}' mixes values of different steps")


def _candidates(dims: list[int], steps: int) -> list[TimeAxis]:
    found = [TimeAxis(a) for a, d in enumerate(dims) if d == steps]
    for a, d in enumerate(dims):
        if d > steps and d % steps == 0:
            found += [TimeAxis(a, "tb"), TimeAxis(a, "bt")]
    return found


def _apply_shape_op(g: _Graph, node: NodeProto, x: np.ndarray) -> np.ndarray:
    op = node.op_type
    if op == "Reshape":
        target = [int(v) for v in g.consts[node.input[1]]]
        target = [x.shape[i] if v == 0 and not _attr(node, "allowzero", 0) else v
                  for i, v in enumerate(target)]
        return x.reshape(target)
    if op == "Flatten":
        axis = int(_attr(node, "axis", 1)) % max(x.ndim, 1)  # type: ignore[arg-type]
        return x.reshape(math.prod(x.shape[:axis]), -1)
    if op == "Transpose":
        perm = _attr(node, "perm")
        return np.transpose(x, None if perm is None else [int(p) for p in perm])  # type: ignore
    axes = g.ints(node, 1, "axes")
    if op == "Squeeze":
        return np.squeeze(x, axis=None if axes is None else tuple(a % x.ndim for a in axes))
    rank = x.ndim + len(axes or [])
    out = x
    for a in sorted(a % rank for a in axes or []):
        out = np.expand_dims(out, a)
    return out


class _Writer:
    """Writes the canonical unrolled graph for one classification."""

    def __init__(self, g: _Graph, c: _Classifier, data: str, steps: int) -> None:
        self.g, self.c, self.data, self.steps = g, c, data, steps
        self.nodes: list[NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.sel: dict[tuple[str, int], str] = {}
        self.plain: dict[str, str] = {}
        self.taken = {o for n in g.nodes for o in n.output} | set(g.consts) | {data}
        self.node_names = {n.name for n in g.nodes}

    def fresh(self, base: str, names: set[str] | None = None) -> str:
        taken = self.taken if names is None else names
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.inits[name] = value
        return name

    def add(self, op: str, inputs: list[str], outputs: list[str], name: str,
            like: NodeProto | None = None, **attrs: object) -> None:
        node = helper.make_node(op, inputs, outputs, name=self.fresh(name, self.node_names),
                                **attrs)
        if like is not None:
            node.metadata_props.extend(like.metadata_props)
        self.nodes.append(node)

    def step_value(self, name: str, t: int) -> str:
        """Step ``t`` of the time-stacked tensor ``name``."""
        key = (name, t)
        if key in self.sel:
            return self.sel[key]
        if name == self.data:
            out = self.fresh(f"{name}_step{t}")
            self.add("Gather", [name, self.const(f"{name}/step{t}", np.asarray(t, np.int64))],
                     [out], f"{name}/slice_{t}", axis=0)
        elif name in self.c.stacks:
            out = self.value(self.c.stacks[name][t])
        else:
            out = self.copy_timed(self.g.producer[name], name, t)
        self.sel[key] = out
        return out

    def copy_timed(self, node: NodeProto, name: str, t: int) -> str:
        layout = self.c.kind[name]
        assert isinstance(layout, TimeAxis)
        kind = self.c.maps.get(name)
        source = self.step_value(node.input[0], t) if kind is not None else ""
        out = self.fresh(f"{name}_{t}")
        if kind is not None and kind[0] == "reshape":
            shape = self.const(f"{name}/step_shape", np.asarray(kind[1], np.int64))
            self.add("Reshape", [source, shape], [out], f"{node.name}_{t}", node)
            return out
        if kind is not None:  # transpose
            self.add("Transpose", [source], [out], f"{node.name}_{t}", node, perm=kind[1])
            return out
        inputs = []
        out_rank = len(self.g.shape(name))
        for arg in node.input:
            k = self.c.kind.get(arg, "const")
            if isinstance(k, TimeAxis):
                inputs.append(self.step_value(arg, t))
            elif arg and not layout.merged and arg in self.g.consts \
                    and node.op_type in _ELEMENTWISE:
                value = self.g.consts[arg]
                offset = layout.axis - (out_rank - value.ndim)
                inputs.append(self.const(f"{arg}/step", np.squeeze(value, offset))
                              if offset >= 0 else arg)
            else:
                inputs.append(arg)
        copy = NodeProto()
        copy.CopyFrom(node)
        copy.name = self.fresh(f"{node.name}_{t}", self.node_names)
        del copy.input[:]
        copy.input.extend(inputs)
        outs = [out if o == name else (self.fresh(f"{o}_{t}") if o else "")
                for o in node.output]
        del copy.output[:]
        copy.output.extend(outs)
        self.nodes.append(copy)
        return out

    def value(self, name: str) -> str:
        """A per-step or constant tensor, written once."""
        if name in self.plain:
            return self.plain[name]
        kind = self.c.kind.get(name, "const")
        if not name:
            return name
        if kind == "const":
            node = self.g.producer.get(name)
            if node is not None:  # a constant no folding could evaluate: written once
                self.nodes.append(node)
                for o in node.output:
                    self.plain[o] = o
            return name
        mapped = self.c.maps.get(name)
        if mapped is not None and mapped[0] == "slice":
            out = self.step_value(mapped[1], mapped[2])
            self.plain[name] = out
            return out
        node = self.g.producer[name]
        inputs = [self.value(i) if i else "" for i in node.input]
        copy = NodeProto()
        copy.CopyFrom(node)
        del copy.input[:]
        copy.input.extend(inputs)
        self.nodes.append(copy)
        for o in node.output:
            if o:
                self.plain[o] = o
        return name


def _write(g: _Graph, c: _Classifier, data: str, steps: int, out_layout: TimeAxis,
           eager: bool) -> onnx.ModelProto:
    output = g.outputs[0]
    w = _Writer(g, c, data, steps)
    live = set(upstream(g.producer, output))
    # per-step nodes keep the exporter's order (which copy of the loop body computed what
    # decides what the state is); a stacked value's step copies come just before their first
    # reader, and step t of the output right before the first node of step t + 1
    ys: list[str] = []
    nodes = g.nodes
    if eager:  # every per-step value in the block of the step it depends on
        step_of = {id(n): max((k[1] for o in n.output if isinstance(k := c.kind.get(o), tuple)),
                              default=0) for n in g.nodes}
        nodes = sorted(g.nodes, key=lambda n: step_of[id(n)])
    for node in nodes:
        for o in node.output:
            k = c.kind.get(o)
            if o not in live or not isinstance(k, tuple) or o in w.plain:
                continue
            while len(ys) < min(k[1], steps):
                ys.append(w.step_value(output, len(ys)))
            w.value(o)
    while len(ys) < steps:
        ys.append(w.step_value(output, len(ys)))
    axis0 = w.const("steps/axis", np.asarray([0], np.int64))
    parts = []
    for t, y in enumerate(ys):
        part = w.fresh(f"{output}/step{t}")
        w.add("Unsqueeze", [y, axis0], [part], f"{output}/stack_{t}")
        parts.append(part)
    w.add("Concat", parts, [output], f"{output}/stack", axis=0)
    in_dims = g.shape(data)
    step_in = list(c.kind[data].take(np.zeros(in_dims, np.int8), 0, steps).shape)  # type: ignore
    out_dims = g.shape(output)
    step_out = list(out_layout.take(np.zeros(out_dims, np.int8), 0, steps).shape)
    w.nodes[:] = live_nodes(w.nodes, (output,))
    used = {i for n in w.nodes for i in n.input}
    inits = [numpy_helper.from_array(v, k) for k, v in g.consts.items() if k in used]
    inits += [numpy_helper.from_array(v, k) for k, v in w.inits.items() if k in used]
    elem = g.types.get(output, TensorProto.FLOAT)
    graph = helper.make_graph(
        w.nodes, g.model.graph.name or "unrolled",
        [helper.make_tensor_value_info(data, g.types.get(data, TensorProto.FLOAT),
                                       [steps, *step_in])],
        [helper.make_tensor_value_info(output, elem, [steps, *step_out])], inits)
    model = helper.make_model(graph, opset_imports=list(g.model.opset_import))
    model.ir_version = g.model.ir_version
    meta = {p.key: p.value for p in g.model.metadata_props}
    meta[INPUT_LAYOUT_KEY] = c.kind[data].to_json(steps, in_dims)  # type: ignore[union-attr]
    meta[OUTPUT_LAYOUT_KEY] = out_layout.to_json(steps, out_dims)
    helper.set_model_props(model, meta)
    return model


def recover_time(model: onnx.ModelProto, eager: bool = False) -> onnx.ModelProto:
    """The canonical unrolled graph (input ``[T, ...]`` sliced per step, output stacked on
    axis 0, layouts in the metadata) of a whole-sequence graph; ``model`` itself when the graph
    has state inputs, no stacks, or no layout reproduces it exactly.

    Per-step nodes are written in the exporter's order, or with ``eager`` each in the block of
    the latest step it reads (which puts a reset the exporter deferred to the next copy of the
    loop body back into its own step: the state is then the membrane after reset)."""
    try:
        g = _Graph(model)
    except Exception:  # shape inference failed: later stages report the model's defects
        return model
    if len(g.inputs) != 1 or not g.outputs:
        return model
    steps = steps_of(model)
    if steps is None or steps < 2:
        return model
    data = g.inputs[0]
    try:
        dims = g.shape(data)
    except _NotTime:
        return model
    for layout in _candidates(dims, steps):
        try:
            c = _Classifier(g, steps, data, layout)
            out_layout = c.kind.get(g.outputs[0])
            if not isinstance(out_layout, TimeAxis):
                continue
            canonical = _write(g, c, data, steps, out_layout, eager)
        except (_NotTime, KeyError, ValueError, IndexError):
            continue
        if _same_outputs(model, canonical, data, layout, out_layout, steps, dims):
            return canonical
    return model


def _same_outputs(original: onnx.ModelProto, canonical: onnx.ModelProto, data: str,
                  layout: TimeAxis, out_layout: TimeAxis, steps: int, dims: list[int]) -> bool:
    import onnxruntime as ort

    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 2.0, dims).astype(F32)
    x_steps = np.stack([layout.take(x, t, steps) for t in range(steps)])
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        a = ort.InferenceSession(original.SerializeToString(), options,
                                 providers=["CPUExecutionProvider"])
        b = ort.InferenceSession(canonical.SerializeToString(), options,
                                 providers=["CPUExecutionProvider"])
        want = a.run([original.graph.output[0].name], {data: x})[0]
        got = b.run(None, {data: x_steps})[0]
    except Exception:  # a graph onnxruntime cannot run is not rewritten
        return False
    back = out_layout.stack(list(got))
    return back.shape == want.shape and np.array_equal(back, want)


def layouts(graph_layout: str) -> tuple[TimeAxis, TimeAxis, int] | None:
    """(input layout, output layout, exported steps) of a graph's ``layout`` text, or None
    for a one-step model."""
    if not graph_layout:
        return None
    found = json.loads(graph_layout)
    inp, out = found["input"], found["output"] or found["input"]
    return (TimeAxis(inp["axis"], inp["merged"]), TimeAxis(out["axis"], out["merged"]),
            int(inp["steps"]))


def to_steps(x: np.ndarray, layout: TimeAxis, steps: int) -> np.ndarray:
    """An input laid out as the exported graph takes it, as (steps, batch, ...)."""
    if not layout.merged:
        steps = x.shape[layout.axis]
    return np.stack([layout.take(x, t, steps) for t in range(steps)])


def from_steps(y: np.ndarray, layout: TimeAxis) -> np.ndarray:
    """(steps, batch, ...) laid out as the exported graph's output."""
    return layout.stack(list(y))
