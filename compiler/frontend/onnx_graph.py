"""A small index over an ONNX graph, the walks every rewrite makes over it (what still reaches
an output, what a tensor is computed from) and a declarative matcher for exporter idioms.

The exporter rewrites (:mod:`.unroll`, :mod:`.idioms`) look at a graph the way a pattern
matcher does: who produces a tensor, who reads it, and which tensors are constants. Constants
are initializers, ``Constant`` nodes and what a handful of exact elementwise ops (``Clip`` of a
constant beta, ``Identity``, ``Neg``, ...) compute from them; an exporter leaves such folds
undone (snnTorch's ``Clip(beta, 0, 1)``), so the index folds them on demand, in float32.

Patterns are trees of :class:`Op` (one of several op types, operands in order or either order),
:class:`Var` (binds a tensor name; a second use must be the same tensor), :class:`Const`
(binds a constant's value), :class:`Named` (binds the tensor and matches a sub-pattern) and
:class:`Alt` (alternatives). :func:`match` backtracks over operand orders and alternatives and
returns the bindings with the nodes the pattern covered, so a rewrite knows exactly what it
replaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, numpy_helper

F32 = np.float32
# Constant subexpressions larger than this are left alone (a fold is only ever needed for
# per-neuron parameters); the reader already bounds every tensor.
MAX_FOLD_ELEMENTS = 1 << 20
_FOLDABLE = frozenset({"Identity", "Clip", "Neg", "Add", "Sub", "Mul", "Div", "Cast",
                       "Reciprocal"})


def live_nodes(nodes: Sequence[NodeProto], outputs: Iterable[str]) -> list[NodeProto]:
    """The nodes some of whose outputs reach one of ``outputs``, in their order: what is left
    of a graph once the nodes nothing reads are dropped."""
    live = set(outputs)
    kept: list[NodeProto] = []
    for node in reversed(nodes):
        if any(o in live for o in node.output):
            kept.append(node)
            live.update(i for i in node.input if i)
    return kept[::-1]


def upstream(producer: Mapping[str, NodeProto], tensor: str) -> Iterator[str]:
    """``tensor`` and every tensor it is computed from, each once, depth first (a caller that
    looks for one stops early)."""
    seen: set[str] = set()
    pending = [tensor]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        yield name
        node = producer.get(name)
        if node is not None:
            pending.extend(i for i in node.input if i)


def constant_node_value(node: NodeProto) -> np.ndarray | None:
    """The value of a ``Constant`` node (any of its value attributes)."""
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        if isinstance(value, TensorProto):
            return numpy_helper.to_array(value)
        if attr.name in ("value_float", "value_floats"):
            return np.asarray(value, F32)
        if attr.name in ("value_int", "value_ints"):
            return np.asarray(value, np.int64)
    return None


class GraphIndex:
    """Producers, consumers and constants of one graph (a snapshot: rebuild after edits)."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.nodes = list(graph.node)
        self.producer: dict[str, NodeProto] = {}
        self.consumers: dict[str, list[NodeProto]] = {}
        for node in self.nodes:
            for out in node.output:
                if out:
                    self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        initializers = {t.name for t in graph.initializer}
        self.inputs = [v.name for v in graph.input if v.name not in initializers]
        self.outputs = [v.name for v in graph.output]
        # initializers are converted when first asked for: most are weight matrices no
        # pattern reads, and converting a million-weight tensor is not free
        self._initializers = {t.name: t for t in graph.initializer}
        self._values: dict[str, np.ndarray | None] = {}
        self._constant_names: set[str] | None = None

    def op(self, tensor: str) -> str | None:
        node = self.producer.get(tensor)
        return node.op_type if node is not None and node.domain in ("", "ai.onnx") else None

    def readers(self, tensor: str) -> int:
        """How many node inputs and graph outputs read ``tensor``."""
        uses = sum(list(n.input).count(tensor) for n in self.consumers.get(tensor, []))
        return uses + self.outputs.count(tensor)

    def const(self, tensor: str) -> np.ndarray | None:
        """The value of a constant tensor, folding exact elementwise ops; else None."""
        if tensor in self._values:
            return self._values[tensor]
        if tensor in self._initializers:
            self._values[tensor] = numpy_helper.to_array(self._initializers[tensor])
            return self._values[tensor]
        self._values[tensor] = None  # guards against (invalid) cycles while folding
        node = self.producer.get(tensor)
        value = self._fold(node) if node is not None else None
        self._values[tensor] = value
        return value

    def _fold(self, node: NodeProto) -> np.ndarray | None:
        if node.domain not in ("", "ai.onnx") or len(node.output) != 1:
            return None
        if node.op_type == "Constant":
            return constant_node_value(node)
        if node.op_type not in _FOLDABLE:
            return None
        args = [self.const(name) if name else None for name in node.input]
        if not args or args[0] is None:
            return None
        if any(name and a is None for a, name in zip(args, node.input, strict=True)):
            return None
        if any(a.size > MAX_FOLD_ELEMENTS for a in args if a is not None):
            return None
        return _evaluate(node, args)

    def constant_names(self) -> set[str]:
        """Every tensor that depends on no graph input (initializers, Constant nodes, and
        nodes computed from them alone, whatever the op)."""
        if self._constant_names is None:
            known = {t.name for t in self.graph.initializer}
            for node in self.nodes:  # nodes are in topological order
                if node.op_type in _NONDETERMINISTIC:
                    continue
                if all(not name or name in known for name in node.input):
                    known.update(o for o in node.output if o)
            self._constant_names = known
        return self._constant_names


_NONDETERMINISTIC = frozenset({"RandomNormal", "RandomNormalLike", "RandomUniform",
                               "RandomUniformLike", "Multinomial", "Bernoulli"})


def _evaluate(node: NodeProto, args: list[np.ndarray | None]) -> np.ndarray | None:
    """float32 numpy for the foldable ops; the same IEEE results an ONNX runtime gives."""
    op = node.op_type
    a = args[0]
    assert a is not None
    if op == "Identity":
        return a
    if op == "Neg":
        return np.negative(a)
    if op == "Reciprocal":
        return None if a.dtype.kind != "f" else (np.asarray(1, a.dtype) / a).astype(a.dtype)
    if op == "Cast":
        to = next((onnx.helper.get_attribute_value(x) for x in node.attribute if x.name == "to"),
                  None)
        return a.astype(F32) if to == TensorProto.FLOAT else None
    if op == "Clip":
        lo = args[1] if len(args) > 1 else None
        hi = args[2] if len(args) > 2 else None
        out = a if lo is None else np.maximum(a, lo.astype(a.dtype))
        return out if hi is None else np.minimum(out, hi.astype(a.dtype))
    b = args[1] if len(args) > 1 else None
    if b is None or a.dtype != b.dtype or a.dtype.kind != "f":
        return None
    with np.errstate(all="ignore"):
        result = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                  "Div": np.divide}[op](a, b)
    return np.asarray(result, a.dtype)


# -- patterns ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Var:
    """Any tensor; every use of the same name must be the same tensor."""

    name: str


@dataclass(frozen=True)
class Const:
    """A constant tensor; binds its value (and its tensor name under ``<name>@``)."""

    name: str


@dataclass(frozen=True)
class Named:
    """Binds the matched tensor to ``name`` (like :class:`Var`) and matches ``pattern``."""

    name: str
    pattern: Any


@dataclass(frozen=True)
class Alt:
    """The first of ``patterns`` that matches (later ones are tried on backtracking)."""

    patterns: tuple[Any, ...]


@dataclass(frozen=True)
class Op:
    """A node of one of ``ops`` whose output is the matched tensor.

    ``either``: a binary op whose two operands may come in either order. ``attrs``: attribute
    values the node must have. ``bind``: a name under which the node's op type is bound.
    """

    ops: tuple[str, ...]
    args: tuple[Any, ...]
    either: bool = False
    attrs: tuple[tuple[str, Any], ...] = ()
    bind: str = ""


def op(ops: str | tuple[str, ...], *args: Any, attrs: dict[str, Any] | None = None,
       bind: str = "") -> Op:
    """An ordered-operand pattern node (``ops`` is one op type or several)."""
    names = (ops,) if isinstance(ops, str) else ops
    return Op(names, args, False, tuple(sorted((attrs or {}).items())), bind)


def either(ops: str, a: Any, b: Any) -> Op:
    """A commutative binary op (``Add``, ``Mul``): operands in either order."""
    return Op((ops,), (a, b), True)


def alt(*patterns: Any) -> Alt:
    return Alt(patterns)


@dataclass
class Match:
    """Bindings of a successful match: tensor names, constant values, op types and the
    nodes the pattern covered."""

    tensors: dict[str, str] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    ops: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, NodeProto] = field(default_factory=dict)

    def copy(self) -> Match:
        return Match(dict(self.tensors), dict(self.values), dict(self.ops), dict(self.nodes))


def match(index: GraphIndex, pattern: Any, tensor: str,
          found: Match | None = None) -> Match | None:
    """The first way ``pattern`` matches the value ``tensor`` (extending ``found``)."""
    return next(_match(index, pattern, tensor, found or Match()), None)


def _match(index: GraphIndex, pattern: Any, tensor: str, found: Match) -> Iterator[Match]:
    if isinstance(pattern, Alt):
        for alternative in pattern.patterns:
            yield from _match(index, alternative, tensor, found)
        return
    if isinstance(pattern, Named):
        for bound in _match(index, Var(pattern.name), tensor, found):
            yield from _match(index, pattern.pattern, tensor, bound)
        return
    if isinstance(pattern, Var):
        bound = found.tensors.get(pattern.name)
        if bound is None:
            out = found.copy()
            out.tensors[pattern.name] = tensor
            yield out
        elif bound == tensor:
            yield found
        return
    if isinstance(pattern, Const):
        value = index.const(tensor)
        if value is None:
            return
        bound = found.values.get(pattern.name)
        if bound is not None and not np.array_equal(bound, value):
            return
        out = found.copy()
        out.values[pattern.name] = value
        out.tensors[f"{pattern.name}@"] = tensor
        yield out
        return
    node = index.producer.get(tensor)
    if (node is None or node.domain not in ("", "ai.onnx") or node.op_type not in pattern.ops
            or len(node.output) != 1 or len(node.input) != len(pattern.args)):
        return
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if any(attrs.get(k) != v for k, v in pattern.attrs):
        return
    if node.name in found.nodes:  # a shared subexpression: the same node again
        base = found
    else:
        base = found.copy()
        base.nodes[node.name] = node
    if pattern.bind:
        base.ops[pattern.bind] = node.op_type
    orders: Iterable[tuple[Any, ...]] = [pattern.args]
    if pattern.either:
        orders = [pattern.args, pattern.args[::-1]]
    for args in orders:
        yield from _match_args(index, args, list(node.input), base)


def _match_args(index: GraphIndex, args: tuple[Any, ...], inputs: list[str],
                found: Match) -> Iterator[Match]:
    if not args:
        yield found
        return
    for first in _match(index, args[0], inputs[0], found):
        yield from _match_args(index, args[1:], inputs[1:], first)
