"""Neurons recovered from what one step computes, not from how an exporter spelled it.

A neuron is the region of elementwise nodes around one or two state inputs (the membrane, and a
synaptic current where there is one): everything reachable from the state through elementwise
ops, plus constant gains applied to its input currents. The region is evaluated symbolically:
every value is a sum of *indicator monomials* (products of spike tests ``[e > 0]``/``[e >= 0]``)
times an *affine form* in the state, the input currents and graded-spike atoms
(``floor``/``trunc`` of a value), with float64 coefficients per neuron. ``Where``, ``Relu``,
``Sign``, ``Abs``, ``Cast`` of a test, ``1 - s``, divisions by constants and reset products all
reduce to that form, so SpikingJelly's ``v + (x - v)/tau`` and ``s*v_reset + (1 - s)*h``,
Norse's ``v + dt*tau_inv*((v_leak - v) + i)``, Sinabs' ``alpha*v + (1 - alpha)*x`` and
snnTorch's ``beta*v + I - r*theta`` are the same object: a state update affine in (state,
input), a threshold test, a reset.

From the forms, :func:`_canonical` reads the layer: the decay(s) and input gain, bias, threshold
and comparison, the reset (subtract, to zero; decided from the new charge, from the previous
membrane as snnTorch does, or applied at the start of the next step to a pre-reset state as
exporters write it when the reset is deferred) and the output (binary spikes). A gain ``g`` on
the input is absorbed by measuring the membrane in units of ``g`` (threshold and bias divided by
``g``): exact in real arithmetic, so integer targets see an ordinary LIF/CUBA layer.

The region's own nodes are kept as the layer's :class:`snnc.ir.layers.StepProgram`: the float
reference runs the exporter's float32 arithmetic itself, so it reproduces onnxruntime bit for
bit, while the canonical parameters are what integer targets quantize. The frontend accepts the
recovered model only after both readings (program and canonical equations) reproduce
onnxruntime on the exported graph on random inputs (:func:`snnc.frontend.onnx.import_onnx`).
Anything that does not reduce to these forms is left alone, so the import then names the node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import NodeProto, helper, numpy_helper

from snnc.frontend.primitives import NeuronParams, NodeSink, emit_cuba, emit_lif
from snnc.frontend.symbolic import (
    Aff,
    Expr,
    NotNeuron,
    _add,
    _const,
    _Eval,
    _mul,
    close,
    expr_close,
)
from snnc.frontend.validate import sort_topologically
from snnc.ir.layers import StepProgram

F32 = np.float32
REGION_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Neg", "Greater", "GreaterOrEqual", "Less",
                        "LessOrEqual", "Cast", "Where", "Relu", "Floor", "Sign", "Abs",
                        "Identity", "Not", "Max", "Min"})


# -- regions ---------------------------------------------------------------------------------

@dataclass
class Region:
    """The elementwise nodes of one neuron, its state pairs, currents and outputs."""

    nodes: list[NodeProto]
    states: list[tuple[str, str]]  # (input, output) pairs the region owns
    currents: list[str]
    spikes: str
    name: str = ""


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    found = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer
             if np.prod(t.dims) <= 1 << 16}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    found[node.output[0]] = numpy_helper.to_array(a.t)
    return {k: v for k, v in found.items() if v.dtype.kind in "fiub"}


def find_regions(model: onnx.ModelProto, pairs: Sequence[tuple[str, str]],
                 consts: dict[str, np.ndarray]) -> list[Region]:
    graph = model.graph
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    consumers: dict[str, list[NodeProto]] = {}
    producer = {o: n for n in nodes for o in n.output}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    state_in = dict(pairs)
    outputs = {o.name for o in graph.output}

    def is_region(n: NodeProto) -> bool:
        return n.op_type in REGION_OPS and n.domain in ("", "ai.onnx") and len(n.output) == 1

    reach: dict[str, set[int]] = {}
    for s in state_in:
        seen: set[int] = set()
        pending = list(consumers.get(s, []))
        while pending:
            n = pending.pop()
            if id(n) in seen or not is_region(n):
                continue
            seen.add(id(n))
            pending.extend(consumers.get(n.output[0], []))
        if seen:
            reach[s] = seen
    groups: list[tuple[set[str], set[int]]] = []
    for s, ids in reach.items():
        merged = [g for g in groups if g[1] & ids]
        states, members = {s}, set(ids)
        for g in merged:
            states |= g[0]
            members |= g[1]
            groups.remove(g)
        groups.append((states, members))
    by_id = {id(n): n for n in nodes}
    regions = []
    for states, members in groups:
        # constant gains on the input currents belong to the neuron (Sinabs' (1 - alpha)*x)
        grew = True
        while grew:
            grew = False
            for n in list(members):
                for i in by_id[n].input:
                    p = producer.get(i)
                    if p is None or id(p) in members or not is_region(p) or p.op_type not in (
                            "Mul", "Div", "Neg"):
                        continue
                    if len([a for a in p.input if a not in consts]) != 1:
                        continue
                    if any(id(c) not in members for c in consumers.get(p.output[0], [])):
                        continue
                    members.add(id(p))
                    grew = True
        region_nodes = [n for n in nodes if id(n) in members]
        produced = {n.output[0] for n in region_nodes}
        owned = [(i, o) for i, o in pairs if i in states]
        if any(o not in produced for _, o in owned):
            continue
        currents = []
        for n in region_nodes:
            for i in n.input:
                if i and i not in produced and i not in consts and i not in states \
                        and i not in currents:
                    currents.append(i)
        leaving = [o for o in produced if o in outputs or any(
            id(c) not in members for c in consumers.get(o, []))]
        state_outs = {o for _, o in owned}
        spikes = [o for o in leaving if o not in state_outs]
        if len(spikes) > 1:
            continue
        if not spikes:
            continue
        regions.append(Region(region_nodes, owned, currents, spikes[0]))
    return regions


# -- canonical forms -------------------------------------------------------------------------

def _only(e: Expr) -> Aff:
    if set(e) - {frozenset()}:
        raise NotNeuron("a value that is not affine where a charge was expected")
    return e.get(frozenset(), Aff())


@dataclass
class Canonical:
    """What a region computes, in the layer view's terms (before unit scaling)."""

    decay: np.ndarray  # membrane kept per step
    gain: np.ndarray  # weight of the input current(s) on the membrane
    bias: np.ndarray
    threshold: np.ndarray
    compare: str
    reset: str
    timing: str
    current: tuple[np.ndarray, np.ndarray] | None = None  # CUBA: (current kept, coupling)
    graded: bool = False  # spike counts floor(h / theta) for h > 0


def _split_test(ev: _Eval, index: int) -> tuple[Expr, bool]:
    t = ev.tests[index]
    return dict(t.e), t.strict


def _threshold(test_e: Expr, charge: Expr, leaf: str) -> np.ndarray:
    """``theta`` with ``test_e == lam * (charge - theta)``, ``lam > 0`` read at ``leaf``."""
    base_t, base_c = test_e.get(frozenset(), Aff()), charge.get(frozenset(), Aff())
    lam = base_t.coef(leaf) / np.where(base_c.coef(leaf) == 0, np.nan, base_c.coef(leaf))
    if not np.all(np.isfinite(lam)) or not np.all(lam > 0):
        raise NotNeuron("a spike test that does not compare the membrane with a threshold")
    theta = base_c.const - base_t.const / lam
    scaled = {m: f.scaled(1.0 / lam) for m, f in test_e.items()}
    if not expr_close(scaled, _add(charge, _const(theta), -1.0)):
        raise NotNeuron("a spike test that does not compare the membrane with a threshold")
    return theta


def _roles(ev: _Eval, region: Region) -> tuple[str, str | None]:
    """(membrane, current state or None): a current state is read by the membrane's update
    but reads nothing of the membrane."""
    states = [i for i, _ in region.states]
    if len(states) == 1:
        return states[0], None
    if len(states) != 2:
        raise NotNeuron("more than two state variables")
    outs = {i: ev.num(o) for i, o in region.states}
    a, b = states
    if not _depends(outs[a], b) and _depends(outs[b], a):
        return b, a
    if not _depends(outs[b], a) and _depends(outs[a], b):
        return a, b
    raise NotNeuron("two state variables that are not a current and a membrane")


def _restrict(ev: _Eval, e: Expr, given: int) -> Expr:
    """``e`` where the test ``given`` holds: that test is 1, its negation 0 (other tests
    stay)."""
    gate = dict(ev.tests[given].e)
    negated = _mul(gate, _const(np.asarray(-1.0)))
    out: Expr = {}
    for mono, f in e.items():
        if any(j != given and expr_close(dict(ev.tests[j].e), negated) for j in mono):
            continue
        m = frozenset(j for j in mono if j != given)
        out[m] = out[m].plus(f) if m in out else f
    return out


def _graded_atom(ev: _Eval, spikes: Expr) -> tuple[int, str] | None:
    """(gate test, atom) of ``[e > 0] * floor(...)``; None for any other output."""
    if len(spikes) != 1:
        return None
    (mono, f), = spikes.items()
    if len(mono) != 1 or len(f.terms) != 1 or np.any(f.const):
        return None
    (atom, one), = f.terms.items()
    if atom not in ev.atoms or not close(one, 1.0):
        return None
    return next(iter(mono)), atom


def _graded_theta(ev: _Eval, gate: int, atom: str, charge: Expr, lead: str) -> np.ndarray:
    """``theta`` of graded spikes ``[charge > 0] * floor(charge / theta)``."""
    if not close(_threshold(dict(ev.tests[gate].e), charge, lead), 0.0):
        raise NotNeuron("graded spikes gated by another value than a positive membrane")
    q = _restrict(ev, dict(ev.atoms[atom][1]), gate)
    base_q, base_c = q.get(frozenset(), Aff()), charge.get(frozenset(), Aff())
    ratio = base_q.coef(lead) / np.where(base_c.coef(lead) == 0, np.nan, base_c.coef(lead))
    if not np.all(ratio > 0) or not expr_close(q, {m: f.scaled(ratio)
                                                    for m, f in charge.items()}):
        raise NotNeuron("graded spikes that are not the membrane over a threshold")
    return 1.0 / ratio


def _graded(ev: _Eval, region: Region, spikes: Expr) -> tuple[Canonical, str] | None:
    """Graded spikes ``[h > 0] * floor(h / theta)`` (or ``trunc``) with the reset subtracting
    ``theta`` per spike (Sinabs' MultiSpike), reset in the same step or, on a pre-reset state,
    at the start of the next: None when ``spikes`` is not of that form."""
    found = _graded_atom(ev, spikes)
    if found is None:
        return None
    gate, atom = found
    membrane, current_state = _roles(ev, region)
    if current_state is not None or not region.currents:
        raise NotNeuron("graded spikes of a neuron with a synaptic current")
    v_new = ev.num(dict(region.states)[membrane])
    lead = region.currents[0]
    pieces = [m for m in v_new if m]
    if len(pieces) != 1 or len(pieces[0]) != 1:
        raise NotNeuron("graded spikes with a reset that is not by the threshold per spike")
    (r_gate,) = pieces[0]
    r_part = v_new[pieces[0]]
    h = v_new[frozenset()]
    decay, gain, bias = _charge_parts(h, membrane, region.currents, None)
    if r_gate == gate:  # reset by this step's spikes
        theta = _graded_theta(ev, gate, atom, {frozenset(): h}, lead)
        amount = theta
        r_atom = atom
    else:  # a pre-reset state, reset at the start of the next step
        if any(_depends(dict(ev.tests[r_gate].e), c) for c in region.currents):
            raise NotNeuron("a reset test that reads the input")
        (r_atom,) = r_part.terms or {"": None}
        if r_atom not in ev.atoms:
            raise NotNeuron("graded spikes with a reset that is not by the threshold")
        theta = _graded_theta(ev, r_gate, r_atom, {frozenset(): Aff({membrane: np.ones(())})},
                              membrane)
        theta_s = _graded_theta(ev, gate, atom, v_new, lead)
        if not close(theta, theta_s):
            raise NotNeuron("graded spikes and reset with different thresholds")
        amount = decay * theta
    if set(r_part.terms) != {r_atom} or np.any(r_part.const) or not close(
            -r_part.terms[r_atom], amount):
        raise NotNeuron("graded spikes with a reset that is not by the threshold per spike")
    return Canonical(decay, gain, bias, theta, "ge", "subtract", "same", graded=True), membrane


def canonical(ev: _Eval, region: Region) -> tuple[Canonical, str]:
    spikes = ev.num(region.spikes)
    graded = _graded(ev, region, spikes)
    if graded is not None:
        return graded
    if ev.atoms:
        raise NotNeuron("graded spikes that are not floor(membrane / threshold)")
    if len(spikes) != 1:
        raise NotNeuron("an output that is not a spike test")
    (mono, one), = spikes.items()
    if len(mono) != 1 or not one.is_const() or not close(one.const, 1.0):
        raise NotNeuron("an output that is not a spike test")
    (s_index,) = mono
    s_expr, strict = _split_test(ev, s_index)
    membrane, current_state = _roles(ev, region)
    if not region.currents:
        raise NotNeuron("no input current")
    v_new = ev.num(dict(region.states)[membrane])
    result = _membrane_form(ev, v_new, s_index, s_expr, membrane, region.currents,
                            current_state)
    result.compare = "gt" if strict else "ge"
    if current_state is not None:
        u_new = _only(ev.num(dict(region.states)[current_state]))
        allowed = {current_state, *region.currents}
        if any(np.any(c) for t, c in u_new.terms.items() if t not in allowed) \
                or np.any(u_new.const):
            raise NotNeuron("a synaptic current that reads another value")
        gains = [u_new.coef(c) for c in region.currents]
        if any(not close(g, gains[0]) for g in gains[1:]):
            raise NotNeuron("input currents with different weights")
        result.current = (u_new.coef(current_state), gains[0])
    return result, membrane


def _depends(e: Expr, leaf: str) -> bool:
    return any(np.any(f.coef(leaf)) for f in e.values())


def _charge_parts(h: Aff, membrane: str, currents: list[str],
                  current_state: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gains = [h.coef(c) for c in currents]
    if any(not close(g, gains[0]) for g in gains[1:]):
        raise NotNeuron("input currents with different weights on the membrane")
    allowed = {membrane, *currents, *([current_state] if current_state else [])}
    if any(np.any(c) for t, c in h.terms.items() if t not in allowed):
        raise NotNeuron("a charge that reads another value")
    return h.coef(membrane), gains[0], h.const


def _membrane_form(ev: _Eval, v_new: Expr, s_index: int, s_expr: Expr, membrane: str,
                   currents: list[str], current_state: str | None) -> Canonical:
    """The three ways a binary LIF step is written: reset by this step's spike; reset of a
    pre-reset state at the start of the next step (``v' = a*(h - theta*r) + I``); snnTorch's
    reset from the previous membrane (``v' = a*v + I - theta*r``)."""
    others = [m for m in v_new if m and m != frozenset({s_index})]
    lead = currents[0]
    if frozenset({s_index}) in v_new and not others:
        h = _only({frozenset(): v_new[frozenset()]})
        theta = _threshold(s_expr, {frozenset(): h}, lead)
        reset = _reset_kind(v_new[frozenset({s_index})], h, theta)
        decay, gain, bias = _charge_parts(h, membrane, currents, current_state)
        return Canonical(decay, gain, bias, theta, "gt", reset, "same")
    if frozenset({s_index}) not in v_new and len(others) == 1 and len(others[0]) == 1:
        (r_index,) = others[0]
        r_expr, r_strict = _split_test(ev, r_index)
        if any(_depends(r_expr, c) for c in currents):
            raise NotNeuron("a reset test that reads the input")
        h = v_new[frozenset()]
        decay, gain, bias = _charge_parts(h, membrane, currents, current_state)
        theta = _threshold(r_expr, {frozenset(): Aff({membrane: np.ones(())})}, membrane)
        theta_s = _threshold(s_expr, v_new, lead)
        if not close(theta, theta_s):
            raise NotNeuron("a reset test with another threshold than the spike test")
        if r_strict != ev.tests[s_index].strict:
            raise NotNeuron("a reset test mixing > and >= with the spike test")
        r_part = v_new[others[0]]
        if any(np.any(c) for c in r_part.terms.values()):
            if expr_close({frozenset(): r_part}, {frozenset(): h.scaled(np.asarray(-1.0))}):
                return Canonical(decay, gain, bias, theta, "gt", "zero", "next")
            if expr_close({frozenset(): r_part}, {frozenset(): Aff({membrane: -decay})}):
                return Canonical(decay, gain, bias, theta, "gt", "zero", "same")
            raise NotNeuron("a reset that is neither to zero nor by the threshold")
        amount = -r_part.const
        # Without leak (decay 1) both readings are the same update; the state the graph
        # carries is the membrane before its reset, which is what "next" records.
        if close(amount, theta):
            return Canonical(decay, gain, bias, theta, "gt", "subtract", "next")
        if close(amount, decay * theta):
            return Canonical(decay, gain, bias, theta, "gt", "subtract", "same")
        raise NotNeuron("a reset by another amount than the threshold")
    raise NotNeuron("a membrane update with several spike tests")


def _reset_kind(r_part: Aff, h: Aff, theta: np.ndarray) -> str:
    if r_part.is_const():
        if close(-r_part.const, theta):
            return "subtract"
        raise NotNeuron("a reset by another amount than the threshold")
    if expr_close({frozenset(): r_part}, {frozenset(): h.scaled(np.asarray(-1.0))}):
        return "zero"
    raise NotNeuron("a reset that is neither to zero nor by the threshold (v_reset != 0)")


# -- emission --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recovered:
    """A recovered neuron: the region it replaces, its layer parameters and its program."""

    region: Region
    membrane: str
    params: NeuronParams
    cuba: tuple[np.ndarray, np.ndarray] | None
    program: StepProgram
    idiom: str
    graded: bool = False


def _f32(a: np.ndarray) -> np.ndarray:
    out = np.asarray(a, np.float64).astype(F32)
    return out[()] if out.ndim == 0 else out


def _unit(a: np.ndarray) -> bool:
    return bool(np.all((np.asarray(a) >= 0) & (np.asarray(a) <= 1)))


def recover(consts: dict[str, np.ndarray], region: Region) -> Recovered:
    ev = _Eval(consts)
    for name in [i for i, _ in region.states] + region.currents:
        ev.values[name] = {frozenset(): Aff({name: np.ones(())})}
    for node in region.nodes:
        ev.run(node)
    canon, membrane = canonical(ev, region)
    canon.threshold = _as_written(canon.threshold, region, consts)
    params, cuba = _layer_params(canon, ev, region, membrane)
    return Recovered(region, membrane, params, cuba, _program(region, membrane),
                     _idiom(canon), canon.graded)


def _as_written(theta: np.ndarray, region: Region,
                consts: dict[str, np.ndarray]) -> np.ndarray:
    """A threshold found by subtraction has the shape of everything it was subtracted from;
    where it is one value that the region holds as a single constant, it is that scalar."""
    flat = np.ravel(theta)
    if flat.size <= 1 or not np.all(flat == flat[0]):
        return theta
    for node in region.nodes:
        for name in node.input:
            value = consts.get(name)
            if value is not None and value.size == 1 and float(np.ravel(value)[0]) == float(
                    np.float32(flat[0])):
                return np.asarray(flat[0])
    return theta


def _layer_params(c: Canonical, ev: _Eval, region: Region,
                  membrane: str) -> tuple[NeuronParams, tuple[np.ndarray, np.ndarray] | None]:
    if c.current is None:
        gain = c.gain
        if not np.all(gain > 0):
            raise NotNeuron("an input current with a non-positive weight")
        if not _unit(c.decay):
            raise NotNeuron("a membrane decay outside [0, 1]")
        theta, bias = c.threshold / gain, c.bias / gain
        # no leak multiply where the graph had none (IF); a per-neuron 1 stays per neuron
        beta = None if np.ndim(c.decay) == 0 and float(c.decay) == 1 else _f32(c.decay)
        if not np.all(theta > 0):
            raise NotNeuron("a threshold that is not positive")
        return NeuronParams(threshold=_f32(theta), beta=beta,
                            bias=_f32(bias) if np.any(bias) else None, reset=c.reset,
                            reset_timing=c.timing, compare=c.compare), None
    # CUBA: h = a_v v + k_u u + k_I I + c and u' = a_u u + g_u I; the current entering the
    # membrane, w_t = k_u u_{t-1} + k_I I_t, obeys w = a_u w + k_I I when k_u g_u = a_u k_I
    current = next(i for i, _ in region.states if i != membrane)
    h = ev.num(dict(region.states)[membrane])[frozenset()]
    a_v, k_u, k_i = h.coef(membrane), h.coef(current), h.coef(region.currents[0])
    a_u, g_u = c.current
    if not np.all(k_i > 0):
        raise NotNeuron("a membrane that reads the synaptic current one step late")
    if not close(k_u * g_u, a_u * k_i):
        raise NotNeuron("a synaptic current and membrane that are not a CUBA neuron")
    if not (_unit(a_u) and _unit(a_v)):
        raise NotNeuron("CUBA decays outside [0, 1]")
    theta, bias = c.threshold / k_i, h.const / k_i
    if not np.all(theta > 0):
        raise NotNeuron("a threshold that is not positive")
    params = NeuronParams(threshold=_f32(theta), beta=None,
                          bias=_f32(bias) if np.any(bias) else None, reset=c.reset,
                          reset_timing=c.timing, compare=c.compare)
    return params, (_f32(1.0 - a_u), _f32(1.0 - a_v))


def _idiom(c: Canonical) -> str:
    parts = ["CUBA" if c.current is not None else ("IF" if np.all(c.decay == 1) else "LIF")]
    if c.graded:
        parts.append("graded spikes floor(v/theta)")
    parts.append(f"{c.reset} reset" + (" from the previous membrane" if c.timing == "next"
                                       else ""))
    parts.append(">=" if c.compare == "ge" else ">")
    if not close(c.gain, 1.0):
        parts.append("input gain")
    return ", ".join(parts)


def _program(region: Region, membrane: str) -> StepProgram:
    """The region's nodes with tensors renamed to roles: ``I0``.., ``v``, ``u`` in;
    ``s``, ``v_next``, ``u_next`` out."""
    names: dict[str, str] = {}
    for k, c in enumerate(region.currents):
        names[c] = f"I{k}"
    outs = {}
    for i, o in region.states:
        role = "v" if i == membrane else "u"
        names[i] = role
        outs[o] = f"{role}_next"
    constants: dict[str, np.ndarray] = {}
    ops = []
    for k, node in enumerate(region.nodes):
        args = []
        for i in node.input:
            if i in names:
                args.append(names[i])
            elif i:
                args.append(f"const:{i}")
            else:
                args.append("")
        out = node.output[0]
        names[out] = outs.get(out, "s" if out == region.spikes else f"t{k}")
        attrs = tuple(sorted((a.name, helper.get_attribute_value(a)) for a in node.attribute))
        ops.append((node.op_type, tuple(args), names[out], attrs))
    return StepProgram(tuple(ops), constants, tuple(f"I{k}" for k in range(len(
        region.currents))))


def rewrite_neurons(model: onnx.ModelProto, pairs: Sequence[tuple[str, str]],
                    layer_name: Callable[[list[NodeProto]], str], failures: dict[str, str],
                    ) -> tuple[onnx.ModelProto, dict[str, str],
                               dict[str, tuple[StepProgram, str, bool]]]:
    """Replace every recoverable neuron region by snnc's canonical primitives. Returns the
    model (``model`` itself when it has no neuron region), a map from each new node to its
    layer's name, and per layer name its program, idiom description and whether its spikes
    are graded; ``failures`` receives, per node of a
    region that is not a supported neuron, why."""
    consts = _constants(model)
    regions = find_regions(model, pairs, consts)
    failures.clear()
    if not regions:
        return model, {}, {}  # not copied: a copy holds every weight
    out = onnx.ModelProto()
    out.CopyFrom(model)
    origin: dict[str, str] = {}
    programs: dict[str, tuple[StepProgram, str, bool]] = {}
    for region in regions:
        try:
            found = recover(consts, region)
        except NotNeuron as exc:
            for node in region.nodes:
                failures[node.name] = str(exc)
            continue
        program = _with_constants(found.program, consts)
        replaced = {n.name for n in region.nodes}
        name = layer_name(region.nodes)
        sink = NodeSink(tensors={t for n in out.graph.node for t in (*n.input, *n.output)}
                        | {v.name for v in out.graph.input}
                        | {t.name for t in out.graph.initializer},
                        node_names={n.name for n in out.graph.node})
        _emit(sink, name, found)
        for node in sink.nodes:
            origin[node.name] = name
        module = _framework_module(region.nodes)
        idiom = f"{module}: {found.idiom}" if module else found.idiom
        programs[name] = (program, idiom, found.graded)
        kept = [n for n in out.graph.node if n.name not in replaced]
        del out.graph.node[:]
        out.graph.node.extend([*kept, *sink.nodes])
        out.graph.initializer.extend(sink.initializers)
        sort_topologically(out)
    return out, origin, programs


_CLASSES_KEY = "pkg.torch.onnx.class_hierarchy"


def _framework_module(nodes: list[NodeProto]) -> str:
    """The framework class the nodes were traced from (the dynamo exporter records each
    node's module classes), the innermost one outside torch itself; '' when not recorded."""
    import ast

    counts: dict[str, int] = {}
    for node in nodes:
        raw = next((p.value for p in node.metadata_props if p.key == _CLASSES_KEY), None)
        if raw is None or len(raw) > 4096:
            continue
        try:
            classes = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if not isinstance(classes, list):
            continue
        own = [c for c in classes if isinstance(c, str) and "." in c
               and not c.startswith(("torch.", "builtins.", "aten.", "prims."))]
        if own:
            counts[own[-1]] = counts.get(own[-1], 0) + 1
    return max(sorted(counts), key=lambda c: counts[c]) if counts else ""


def _with_constants(program: StepProgram, consts: dict[str, np.ndarray]) -> StepProgram:
    needed = {a.removeprefix("const:") for _, args, _, _ in program.ops for a in args
              if a.startswith("const:")}
    return StepProgram(program.ops, {k: consts[k] for k in sorted(needed)}, program.inputs)


def _emit(sink: NodeSink, name: str, found: Recovered) -> None:
    region = found.region
    current, *more = region.currents
    states = dict(region.states)
    v_in = found.membrane
    if found.cuba is None:
        emit_lif(sink, name, current, v_in, region.spikes, states[v_in], found.params,
                 style="compare", more=tuple(more))
        return
    u_in = next(i for i in states if i != v_in)
    for k, extra in enumerate(more):
        current = sink.one("Add", [current, extra], f"{name}/inputs_{k}")
    emit_cuba(sink, name, current, u_in, v_in, region.spikes, states[u_in], states[v_in],
              found.cuba[0], found.cuba[1], found.params, style="compare")
