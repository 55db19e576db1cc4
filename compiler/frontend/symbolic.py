"""Symbolic evaluation of a neuron's elementwise step: piecewise-affine values.

Every value is a sum of *indicator monomials* (products of spike tests ``[e > 0]`` /
``[e >= 0]``) times an *affine form* in the state, the input currents and graded-spike atoms
(``floor``/``trunc`` of a value), with float64 coefficients per neuron. ``Where``, ``Relu``,
``Max``/``Min``, ``Sign``, ``Abs``, ``Cast`` of a test, ``1 - s``, divisions by constants and
reset products all reduce to that form; a product of two values that both depend on the state
or input does not, and is reported (:class:`NotNeuron`). Tests equal up to a positive factor are
one test, and a product of a test with its negation is dropped, so the forms of one neuron
written in different spellings compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import NodeProto, TensorProto, helper

RTOL = 1e-6


class NotNeuron(Exception):
    """The region does not reduce to a supported neuron (the reason)."""


@dataclass
class Aff:
    """``sum(coef * leaf) + const``; coefficients broadcast over the neurons (float64)."""

    terms: dict[str, np.ndarray] = field(default_factory=dict)
    const: np.ndarray = field(default_factory=lambda: np.zeros(()))

    def scaled(self, k: np.ndarray) -> Aff:
        return Aff({n: c * k for n, c in self.terms.items()}, self.const * k)

    def plus(self, other: Aff) -> Aff:
        terms = dict(self.terms)
        for n, c in other.terms.items():
            terms[n] = terms[n] + c if n in terms else c
        return Aff(terms, self.const + other.const)

    def coef(self, leaf: str) -> np.ndarray:
        return self.terms.get(leaf, np.zeros(()))

    def is_const(self) -> bool:
        return all(not np.any(c) for c in self.terms.values())


Expr = dict  # frozenset[int] (indicator ids) -> Aff


@dataclass(frozen=True)
class Test:
    """A spike test ``[e > 0]`` (``strict``) or ``[e >= 0]`` of a piecewise value ``e``."""

    e: tuple  # the Expr, frozen as sorted items
    strict: bool


def _freeze(e: Expr) -> tuple:
    return tuple(sorted(e.items(), key=lambda kv: sorted(kv[0])))


def _const(value: np.ndarray) -> Expr:
    return {frozenset(): Aff({}, np.asarray(value, np.float64))}


def _add(a: Expr, b: Expr, sign: float = 1.0) -> Expr:
    out = dict(a)
    for m, f in b.items():
        g = f.scaled(np.asarray(sign))
        out[m] = out[m].plus(g) if m in out else g
    return out


def _const_value(e: Expr) -> np.ndarray | None:
    if set(e) - {frozenset()}:
        return None
    f = e.get(frozenset(), Aff())
    return f.const if f.is_const() else None


def _mul(a: Expr, b: Expr) -> Expr:
    out: Expr = {}
    for ma, fa in a.items():
        for mb, fb in b.items():
            if fa.is_const():
                term = fb.scaled(fa.const)
            elif fb.is_const():
                term = fa.scaled(fb.const)
            else:
                raise NotNeuron("a product of two values that depend on the state or input")
            m = ma | mb
            out[m] = out[m].plus(term) if m in out else term
    return out


class _Eval:
    """Symbolic evaluation of a region."""

    def __init__(self, consts: dict[str, np.ndarray]) -> None:
        self.consts = consts
        self.tests: list[Test] = []
        self.atoms: dict[str, tuple[str, tuple]] = {}  # graded atom leaf -> (kind, Expr)
        self.values: dict[str, object] = {}  # tensor -> Expr | ("bool", Expr)

    def test(self, e: Expr, strict: bool) -> int:
        """The index of the test ``[e > 0]``; tests equal up to a positive factor are one
        test (``[h/theta > 0]`` is ``[h > 0]``)."""
        base = e.get(frozenset(), Aff())
        lead = next((base.terms[n] for n in sorted(base.terms) if np.any(base.terms[n])), None)
        if lead is not None and np.all(lead != 0):
            e = {m: f.scaled(1.0 / np.abs(lead)) for m, f in e.items()}
        for k, old in enumerate(self.tests):
            if old.strict == strict and expr_close(dict(old.e), e):
                return k
        self.tests.append(Test(_freeze(e), strict))
        return len(self.tests) - 1

    def contradicts(self, mono: frozenset) -> bool:
        """Whether a product of tests can never be 1 (``[e > 0]`` and ``[-e > 0]``)."""
        items = sorted(mono)
        for i, a in enumerate(items):
            ea = dict(self.tests[a].e)
            neg = _mul(ea, _const(np.asarray(-1.0)))
            for b in items[i + 1:]:
                if (self.tests[a].strict or self.tests[b].strict) and expr_close(
                        dict(self.tests[b].e), neg):
                    return True
        return False

    def simplify(self, e: Expr) -> Expr:
        return {m: f for m, f in e.items() if len(m) < 2 or not self.contradicts(m)}

    def indicator(self, e: Expr, strict: bool) -> Expr:
        return {frozenset({self.test(e, strict)}): Aff({}, np.ones(()))}

    def atom(self, kind: str, e: Expr) -> Expr:
        key = (kind, _freeze(e))
        name = next((n for n, v in self.atoms.items()
                     if v[0] == kind and expr_close(dict(v[1]), e)), None)
        if name is None:
            name = f"{kind}#{len(self.atoms)}"
            self.atoms[name] = key
        return {frozenset(): Aff({name: np.ones(())}, np.zeros(()))}

    def value(self, name: str) -> object:
        if name in self.values:
            return self.values[name]
        if name in self.consts:
            return _const(self.consts[name])
        raise NotNeuron(f"'{name}' is unknown")

    def num(self, name: str) -> Expr:
        v = self.value(name)
        if isinstance(v, tuple):
            raise NotNeuron("a boolean used as a number without a Cast")
        return v  # type: ignore[return-value]

    def cond(self, name: str) -> tuple[Expr, bool]:
        v = self.value(name)
        if not isinstance(v, tuple):
            raise NotNeuron("a number used as a condition")
        return v[1], v[2]

    def run(self, node: NodeProto) -> None:
        op, ins = node.op_type, list(node.input)
        out = node.output[0]
        if op in ("Add", "Sub"):
            self.values[out] = _add(self.num(ins[0]), self.num(ins[1]),
                                    1.0 if op == "Add" else -1.0)
        elif op == "Mul":
            self.values[out] = self.simplify(_mul(self.num(ins[0]), self.num(ins[1])))
        elif op == "Div":
            k = _const_value(self.num(ins[1]))
            if k is None or not np.all(k != 0):
                raise NotNeuron("a division by a value that is not a non-zero constant")
            self.values[out] = _mul(self.num(ins[0]), _const(1.0 / k))
        elif op == "Neg":
            self.values[out] = _mul(self.num(ins[0]), _const(np.asarray(-1.0)))
        elif op == "Identity":
            self.values[out] = self.value(ins[0])
        elif op in ("Greater", "GreaterOrEqual", "Less", "LessOrEqual"):
            a, b = self.num(ins[0]), self.num(ins[1])
            diff = _add(a, b, -1.0) if op.startswith("Greater") else _add(b, a, -1.0)
            self.values[out] = ("bool", diff, op in ("Greater", "Less"))
        elif op == "Not":
            e, strict = self.cond(ins[0])  # not (e > 0) == (-e >= 0)
            self.values[out] = ("bool", _mul(e, _const(np.asarray(-1.0))), not strict)
        elif op == "Cast":
            self.cast(node)
        elif op == "Where":
            e, strict = self.cond(ins[0])
            s = self.indicator(e, strict)
            a, b = self.num(ins[1]), self.num(ins[2])
            self.values[out] = _add(b, _mul(s, _add(a, b, -1.0)))
        elif op == "Relu":
            x = self.num(ins[0])
            self.values[out] = _mul(self.indicator(x, True), x)
        elif op in ("Max", "Min") and len(ins) == 2:
            a, b = self.num(ins[0]), self.num(ins[1])
            bigger = self.indicator(_add(a, b, -1.0), True)  # a > b
            pick = (a, b) if op == "Max" else (b, a)
            self.values[out] = _add(pick[1], _mul(bigger, _add(pick[0], pick[1], -1.0)))
        elif op == "Sign":
            x = self.num(ins[0])
            neg = _mul(x, _const(np.asarray(-1.0)))
            self.values[out] = _add(self.indicator(x, True), self.indicator(neg, True), -1.0)
        elif op == "Abs":
            x = self.num(ins[0])
            neg = _mul(x, _const(np.asarray(-1.0)))
            sign = _add(self.indicator(x, True), self.indicator(neg, True), -1.0)
            self.values[out] = self.simplify(_mul(sign, x))
        elif op == "Floor":
            self.values[out] = self.graded("floor", self.num(ins[0]))
        else:
            raise NotNeuron(f"{op} in a neuron")

    def graded(self, kind: str, e: Expr) -> Expr:
        """``floor``/``trunc`` of a value; ``floor(|x|)*sign(x)`` is ``trunc(x)``."""
        return self.atom(kind, e)

    def cast(self, node: NodeProto) -> None:
        to = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "to"),
                  None)
        src, out = node.input[0], node.output[0]
        v = self.value(src)
        if isinstance(v, tuple):
            if to == TensorProto.FLOAT:
                self.values[out] = self.indicator(v[1], v[2])
                return
            if to == TensorProto.BOOL:
                self.values[out] = v
                return
            raise NotNeuron("a spike test cast to a non-float type")
        if to in (TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8):
            self.values[out] = self.graded("trunc", v)  # type: ignore[arg-type]
        elif to == TensorProto.FLOAT:
            self.values[out] = v
        elif to == TensorProto.BOOL:
            self.values[out] = ("bool", v, True)  # x != 0 for spikes in {0, 1}
        else:
            raise NotNeuron("a Cast to an unsupported type")




def close(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return bool(np.all(np.abs(a - b) <= RTOL * np.maximum(1.0, np.maximum(np.abs(a),
                                                                           np.abs(b)))))


def expr_close(a: dict, b: dict) -> bool:
    keys = set(a) | set(b)
    zero = Aff()
    for k in keys:
        fa, fb = a.get(k, zero), b.get(k, zero)
        if not close(fa.const, fb.const):
            return False
        for leaf in set(fa.terms) | set(fb.terms):
            if not close(fa.coef(leaf), fb.coef(leaf)):
                return False
    return True
