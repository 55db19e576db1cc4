"""What one ``FuseOpsByPattern`` match says: the matched bindings of ``main`` as small trees.

:mod:`.patterns` raises every idiom with a check function (``FusionPattern.check``) that hands
the :class:`~tvm.relax.transform.PatternCheckContext` to a :class:`Recorder`; the recorder keeps
the match as a :class:`Match` and ``FusionPattern.attrs_getter`` stamps its number on the
composite the match becomes (``snn.match``). The layer readers then read the match itself: its
named sub-patterns (``FusionPattern.annotation_patterns``: ``weight``, ``pool``, ...) and its
bindings as expression trees whose leaves are the match's inputs (:class:`Param`, in the
order the composite takes them) and constants (:class:`Const`). The composite function's
body is never read back.

A value the match reads from an earlier composite is a variable that composite's grouping
created; :meth:`Recorder.passed` learns those after each pattern's pass, so every input of a
match names an ONNX-level value: a ``main`` parameter, a binding of the imported ``main``, or
an output slot of an earlier match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import onnx
import tvm
import tvm_ffi
from tvm import relax

from snnc.errors import ModelError, UnsupportedOpError

MATCH_ATTR = "snn.match"  # a composite's match number (Recorder.matches)


@dataclass(frozen=True, eq=False)
class Param:
    """The match's ``index``-th input (the composite's ``index``-th argument)."""

    index: int


LARGE_CONSTANT = 4096  # elements: from this size a constant is read anew on each access


@dataclass(frozen=True, eq=False)
class Const:
    """A constant of a matched tree: an array, or a large Relax constant (a weight) read as
    one on each access of ``value``. Every match's trees live until the layers are read, so
    an array kept here for each weight would be one more copy of all the weights."""

    source: Any  # np.ndarray, or a TVM tensor of LARGE_CONSTANT elements or more

    @property
    def value(self) -> np.ndarray:
        source = self.source
        return source if isinstance(source, np.ndarray) else source.numpy()


@dataclass(frozen=True, eq=False)
class Op:
    """A Relax op call; ``name`` without the ``relax.`` prefix, ``attrs`` as Python values."""

    name: str
    args: tuple[Any, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    shape: tuple[Any, ...] | None = None


def py_value(value: Any) -> Any:
    """TVM attribute values as plain Python (ints, floats, strings, lists)."""
    if isinstance(value, tvm_ffi.Array | list | tuple):
        return [py_value(v) for v in value]
    if isinstance(value, tvm.tirx.IntImm):
        return int(value)
    if isinstance(value, tvm.tirx.FloatImm):
        return float(value)
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def call_attrs(call: relax.Call) -> dict[str, Any]:
    """The public fields of a call's attribute node (``strides``, ``axis``, ``dtype``, ...)."""
    attrs = call.attrs
    if attrs is None:
        return {}
    names = [n for n in dir(attrs) if not n.startswith("_")]
    return {n: py_value(getattr(attrs, n)) for n in names if not callable(getattr(attrs, n))}


def shape_of(expr: relax.Expr) -> tuple[Any, ...] | None:
    """The static shape of a tensor value (of the first field of a tuple), if known."""
    ty = expr.ty
    if isinstance(ty, relax.TupleType) and ty.fields:
        ty = ty.fields[0]  # a neuron's outputs (spikes, membrane, ...) share one shape
    if isinstance(ty, relax.TensorType) and isinstance(ty.shape, relax.ShapeExpr):
        return tuple(int(d) if isinstance(d, tvm.tirx.IntImm) else str(d)
                     for d in ty.shape.values)
    return None


@dataclass(frozen=True, eq=False)
class Match:
    """One accepted match: the composite kind, the ``main`` values it reads (``inputs``, in
    first-use order), its output values (in binding order) with their trees, the trees of
    its named sub-patterns, and the ONNX nodes whose tensors it absorbed (they name it)."""

    kind: str
    inputs: tuple[relax.Var, ...]
    outputs: tuple[relax.Var, ...]
    trees: tuple[Any, ...]
    roles: Mapping[str, Any]
    nodes: tuple[onnx.NodeProto, ...]
    shape: tuple[Any, ...] | None


class _Trees:
    """Expression trees over one match's bindings; inputs numbered on first use."""

    def __init__(self, bindings: Mapping[relax.Var, relax.Expr],
                 bound: Mapping[relax.Expr, relax.Var]) -> None:
        self.bindings = bindings
        self.bound = bound  # a matched call -> the variable it is bound to
        self.inputs: list[relax.Var] = []
        self.memo: dict[relax.Var, Any] = {}

    def of(self, expr: relax.Expr) -> Any:
        if isinstance(expr, relax.Var):
            if expr in self.bindings:
                if expr not in self.memo:
                    self.memo[expr] = self.of(self.bindings[expr])
                return self.memo[expr]
            if expr not in self.memo:  # one Param per input: readers compare by identity
                self.inputs.append(expr)
                self.memo[expr] = Param(len(self.inputs) - 1)
            return self.memo[expr]
        if isinstance(expr, tvm.ir.GenericConst):
            data = expr.value
            large = math.prod(int(d) for d in data.shape) >= LARGE_CONSTANT
            return Const(data if large else data.numpy())
        if isinstance(expr, relax.ShapeExpr):
            return tuple(py_value(v) for v in expr.values)
        if isinstance(expr, tvm.tirx.IntImm | tvm.tirx.FloatImm):
            return Const(np.asarray(py_value(expr)))
        if isinstance(expr, relax.Call) and isinstance(expr.op, tvm.ir.Op):
            var = self.bound.get(expr)
            if var is not None and var in self.memo:  # a named sub-pattern's call
                return self.memo[var]
            name = expr.op.name.removeprefix("relax.")
            return Op(name, tuple(self.of(a) for a in expr.args), call_attrs(expr),
                      shape_of(expr))
        raise UnsupportedOpError(type(expr).__name__, "composite")


class Recorder:
    """Keeps the matches the check functions accept and resolves the values they read.

    ``order`` ranks the bindings of the imported ``main`` (a match's inputs are numbered in
    binding order, argument by argument); ``node_of`` maps a binding to the ONNX node that
    computed it. A match's outputs start in binding order; :meth:`passed` puts them in the
    order of the composite's fields.
    """

    def __init__(self, order: Mapping[relax.Var, int],
                 node_of: Mapping[relax.Var, onnx.NodeProto]) -> None:
        self.order = order
        self.node_of = node_of
        self.matches: list[Match] = []
        self.pending: int | None = None
        self.grouped: dict[relax.Var, tuple[int, int]] = {}  # pass-made var -> (match, slot)

    def check(self, kind: str, context: Any) -> bool:
        """``FusionPattern.check``: keep the match; every match of a pattern is a layer (what
        the layer readers cannot express they refuse, naming the layer)."""
        bindings = dict(context.matched_bindings.items())
        bound = {value: var for var, value in bindings.items()}
        usages = context.var_usages
        outputs = sorted((v for v in bindings
                          if any(u not in bindings for u in usages.get(v, []))),
                         key=lambda v: self.order.get(v, -1))
        if not outputs:  # the root of a match nothing else reads
            outputs = [v for v in bindings if bindings[v].same_as(context.matched_expr)]
        ordered = sorted(bindings, key=lambda v: self.order.get(v, -1))
        trees = _Trees(bindings, bound)
        for var in ordered:  # number the inputs in binding order
            trees.of(var)
        out_trees = tuple(trees.of(v) for v in outputs)
        roles = {name: trees.of(expr) for name, expr in context.annotated_expr.items()}
        nodes = tuple(self.node_of[v] for v in ordered if v in self.node_of)
        self.pending = len(self.matches)
        self.matches.append(Match(kind, tuple(trees.inputs), tuple(outputs), out_trees, roles,
                                  nodes, shape_of(outputs[0])))
        return True

    def attrs(self, annotated: Any) -> dict[str, Any]:
        """``FusionPattern.attrs_getter``: called right after an accepted check, it stamps
        the composite with the number of the match that made it."""
        del annotated
        assert self.pending is not None
        return {MATCH_ATTR: tvm.tirx.IntImm("int64", self.pending)}

    def passed(self, before: tvm.IRModule, after: tvm.IRModule) -> None:
        """After one pattern's pass: learn the variables ``main`` now binds to composite
        calls (and to their fields), so later matches can say which match they read, and the
        order of each new composite's outputs, read off how the pass rewired their readers
        (a reader that was ``f(a, b)`` and is now ``f(c[1], b)`` says ``a`` is field 1; a new
        composite's arguments are its match's inputs, in the same order)."""
        fields: dict[relax.Var, tuple[int, int]] = {}
        for binding in _bindings(after):
            value = binding.value
            if isinstance(value, relax.Call) and isinstance(value.op, relax.GlobalVar):
                attrs = after[value.op].attrs
                if attrs is not None and MATCH_ATTR in attrs:
                    self.grouped[binding.var] = (int(attrs[MATCH_ATTR]), -1)
            elif isinstance(value, relax.TupleGetItem) and value.tuple_value in self.grouped:
                fields[binding.var] = (self.grouped[value.tuple_value][0], value.index)
        self.grouped.update(fields)
        old = {b.var: _operands(b.value) for b in _bindings(before)}
        found: dict[int, dict[int, relax.Var]] = {}
        for binding in _bindings(after):
            value = binding.value
            was = old.get(binding.var)
            if was is None and binding.var in self.grouped and self.grouped[binding.var][1] < 0:
                was = list(self.matches[self.grouped[binding.var][0]].inputs)  # a new composite
                value = [a for a in value.args if not isinstance(a, relax.ShapeExpr)]
            if was is None:
                continue
            operands = value if isinstance(value, list) else _operands(value)
            for arg, now in zip(was, operands, strict=False):
                if now in fields:
                    number, index = fields[now]
                    found.setdefault(number, {})[index] = arg
        made = {number for var, (number, slot) in fields.items()
                if slot >= 0 and var not in old}
        for number in made:  # every composite with several outputs made by this pass
            match = self.matches[number]
            slots = found.get(number, {})
            outputs = tuple(slots.get(i) for i in range(len(match.outputs)))
            known = [v for v in outputs if v is not None]
            if len(known) != len(outputs) or set(known) != set(match.outputs):
                raise ModelError(f"cannot tell which output of a {match.kind} composite is "
                                 "which (its readers were not found)")
            position = {v: i for i, v in enumerate(match.outputs)}
            trees = tuple(match.trees[position[v]] for v in outputs)
            self.matches[number] = replace(match, outputs=outputs, trees=trees)

    def source(self, var: relax.Var) -> tuple[int, int] | None:
        """``(match, output slot)`` when ``var`` is a composite's value made by a pass, the
        slot -1 for the whole (single) output."""
        return self.grouped.get(var)


def _bindings(mod: tvm.IRModule) -> list[relax.Binding]:
    return [b for block in mod["main"].body.blocks for b in block.bindings]


def _operands(value: relax.Expr) -> list[relax.Expr]:
    if isinstance(value, relax.Call):
        return list(value.args)
    if isinstance(value, relax.Tuple):
        return list(value.fields)
    if isinstance(value, relax.TupleGetItem):
        return [value.tuple_value]
    return [value]
