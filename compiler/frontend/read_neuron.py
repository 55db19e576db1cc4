"""Reading a matched neuron (``snn.lif``, ``snn.cubalif``) into LIF / CubaLIF layers.

The outputs are classified first (spikes, boolean spikes, next membrane, next current), then
the membrane is read back through its reset and charge: ``h = decay * v + I (+ bias | + J)``,
a spike test ``h > theta`` (or ``>=``, or snnTorch's ``(h - theta) > 0``) on the charge or on
the previous membrane, and a reset to zero, by subtraction or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from snnc.frontend.match import Const, Param
from snnc.frontend.read_common import (
    F32,
    Composite,
    Walk,
    const_pair,
    data_input,
    op_is,
    per_sample,
    rank_of,
    unsupported,
)
from snnc.ir.layers import LIF, Add, CubaLIF, Layer


@dataclass(frozen=True)
class Fire:
    """A spike test ``subject > theta`` (or ``>=``)."""

    subject: Any
    theta: np.ndarray
    compare: str


def read_fire(t: Any) -> Fire | None:
    if not op_is(t, "greater", "greater_equal") or not isinstance(t.args[1], Const):
        return None
    compare = "ge" if t.name == "greater_equal" else "gt"
    x, limit = t.args[0], t.args[1].value
    if op_is(x, "subtract") and isinstance(x.args[1], Const) and not np.any(limit):
        return Fire(x.args[0], x.args[1].value, compare)  # snnTorch: (v - theta) > 0
    return Fire(x, limit, compare)


def read_spikes(t: Any) -> Fire | None:
    """``astype(fire)``: the float spikes of a spike test."""
    if op_is(t, "astype") and t.attrs.get("dtype") == "float32":
        return read_fire(t.args[0])
    return None


@dataclass(frozen=True)
class Reset:
    kind: str  # zero | subtract | none
    charge: Any
    fire: Fire | None
    theta: np.ndarray | None = None


def read_reset(t: Any) -> Reset:
    """Which reset produced the membrane ``t`` (anything else is an un-reset charge)."""
    if op_is(t, "where") and isinstance(t.args[1], Const) and not np.any(t.args[1].value):
        fire = read_fire(t.args[0])
        if fire is not None:
            return Reset("zero", t.args[2], fire)
    if op_is(t, "subtract") and (fire := read_spikes(t.args[1])) is not None:
        return Reset("subtract", t.args[0], fire, np.float32(1))  # threshold 1 left implicit
    if op_is(t, "subtract") and op_is(t.args[1], "multiply"):
        h, (a, b) = t.args[0], t.args[1].args
        for spikes, other in ((a, b), (b, a)):
            fire = read_spikes(spikes)
            if fire is None:
                continue
            if other is h:
                return Reset("zero", h, fire)
            if isinstance(other, Const):
                return Reset("subtract", h, fire, other.value)
    return Reset("none", t, None)


@dataclass(frozen=True)
class Charge:
    """``h = decay * v + current (+ bias | + extra)``; ``decay`` None means no multiply (IF);
    ``extra`` is a second current added after the first (snnTorch RLeaky)."""

    state: Param
    decay: np.ndarray | None
    current: Any
    bias: np.ndarray | None
    extra: Any = None


def read_leak(t: Any) -> tuple[Param, np.ndarray | None] | None:
    if isinstance(t, Param):
        return t, None
    if op_is(t, "multiply"):
        pair = const_pair(t)
        if pair is not None and isinstance(pair[0], Param):
            return pair[0], pair[1]
    return None


def _plain_charge(t: Any, states: set[int]) -> Charge | None:
    if not op_is(t, "add"):
        return None
    a, b = t.args
    for leak, current in ((a, b), (b, a)):
        found = read_leak(leak)
        if found is not None and found[0].index in states:
            return Charge(found[0], found[1], current, None)
    return None


def read_charge(t: Any, states: set[int]) -> Charge | None:
    plain = _plain_charge(t, states)
    if plain is not None:
        return plain
    if op_is(t, "add"):
        a, b = t.args
        for inner, other in ((a, b), (b, a)):
            charge = _plain_charge(inner, states)
            if charge is None:
                continue
            if isinstance(other, Const):
                return Charge(charge.state, charge.decay, charge.current, other.value)
            return Charge(charge.state, charge.decay, charge.current, None, other)
    return None


def _read_neuron(walk: Walk, comp: Composite, cuba: bool) -> tuple[Layer, list[str]]:
    """LIF/IF/CUBA: classify the outputs (spikes, membrane, current), then read the charge."""
    slots: list[str] = []
    spike_fire: Fire | None = None
    membrane = current_out = None
    for t in comp.trees:
        fire = read_spikes(t)
        if fire is not None:
            slots.append("out")
            spike_fire = fire
        elif (bare := read_fire(t)) is not None and not _is_state_fire(bare, comp):
            slots.append("fired")
            spike_fire = bare
        elif cuba and _is_current(t, comp):
            slots.append("u")
            current_out = t
        else:
            slots.append("v")
            membrane = t
    if spike_fire is None:
        raise unsupported("neuron without a spike output", comp.name)
    if membrane is None:
        # no reset and the membrane never leaves the composite: the spikes test the charge
        membrane = spike_fire.subject
    reset = read_reset(membrane)
    charge = read_charge(reset.charge, comp.states)
    if charge is None:
        raise unsupported("neuron whose membrane update is not decay*v + I", comp.name)
    timing = "same"
    if reset.fire is not None and reset.fire.subject is charge.state:
        timing = "next"
    elif reset.fire is not None and reset.fire.subject is not reset.charge:
        raise unsupported("reset decided from an unrelated value", comp.name)
    expected = membrane if timing == "next" else reset.charge
    if spike_fire.subject is not expected:
        raise unsupported("spikes tested on an unexpected value", comp.name)
    _same_threshold(comp.name, spike_fire, reset)
    rank = rank_of(comp)
    walk.claim_state(comp, charge.state, "v")
    threshold = per_sample(spike_fire.theta, rank, "threshold", comp.name)
    bias = per_sample(charge.bias, rank, "bias", comp.name)
    common = {"threshold": threshold, "bias": bias, "reset": reset.kind,
              "reset_timing": timing, "compare": spike_fire.compare}
    if cuba:
        return _cuba_layer(walk, comp, charge, current_out, rank, common), slots
    src, _ = data_input(walk, comp, charge.current, "input current")
    if charge.extra is not None:
        src = _sum_currents(walk, comp, src, charge.extra)
    beta = F32(1.0) if charge.decay is None else per_sample(charge.decay, rank, "beta",
                                                              comp.name)
    return LIF(comp.name, (src,), beta=beta, **common), slots


def _sum_currents(walk: Walk, comp: Composite, first: str, extra: Any) -> str:
    """A neuron charged by two currents in turn, ``(beta*v + I) + J``, reads an Add layer of
    both that it adds term by term (``into_neuron``), so the float rounding is the model's."""
    second, _ = data_input(walk, comp, extra, "second input current")
    name = f"{comp.name}.input"
    walk.layers.append(Add(name, (first, second), into_neuron=True))
    return name


def _is_state_fire(fire: Fire, comp: Composite) -> bool:
    return isinstance(fire.subject, Param) and fire.subject.index in comp.states


def _is_current(t: Any, comp: Composite) -> bool:
    """CUBA's ``u = c*u + I``: a leaky state plus a composite input (the membrane's charge
    has the same shape but adds ``u`` itself, a computed value)."""
    charge = read_charge(t, comp.states)
    if charge is None or charge.decay is None or charge.bias is not None:
        return False
    current = charge.current
    return (charge.extra is None and isinstance(current, Param)
            and current.index not in comp.states)


def _cuba_layer(walk: Walk, comp: Composite, charge: Charge, current_out: Any, rank: int,
                common: dict[str, Any]) -> CubaLIF:
    u = read_charge(charge.current, comp.states)
    if (u is None or u.decay is None or u.bias is not None or u.extra is not None
            or charge.decay is None or charge.extra is not None):
        raise unsupported("CUBA neuron without a leaky current", comp.name)
    if current_out is not None and current_out is not charge.current:
        raise unsupported("CUBA current output is not the current feeding v", comp.name)
    walk.claim_state(comp, u.state, "u")
    src, _ = data_input(walk, comp, u.current, "input current")
    return CubaLIF(comp.name, (src,),
                   current_decay=per_sample(_one_minus(u.decay), rank, "decay", comp.name),
                   voltage_decay=per_sample(_one_minus(charge.decay), rank, "decay",
                                             comp.name),
                   **common)


def _one_minus(keep: np.ndarray) -> np.ndarray:
    """The decay ``d = 1 - keep`` of a CUBA factor. The reference recomputes ``1 - d``, which
    gives ``keep`` back exactly whenever ``keep >= 0.5`` (Sterbenz) or ``d`` is dyadic."""
    return (F32(1) - np.asarray(keep, F32)).astype(F32)


def _same_threshold(name: str, spike_fire: Fire, reset: Reset) -> None:
    for other in (reset.fire.theta if reset.fire else None, reset.theta):
        if other is not None and not np.array_equal(np.broadcast_to(other, np.shape(
                spike_fire.theta)) if np.size(other) == 1 else other, spike_fire.theta):
            raise unsupported("neuron whose reset threshold differs from its spike "
                                     "threshold", name)
    if reset.fire is not None and reset.fire.compare != spike_fire.compare:
        raise unsupported("neuron mixing > and >= tests", name)


def read_lif(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    return _read_neuron(walk, comp, cuba=False)


def read_cubalif(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    return _read_neuron(walk, comp, cuba=True)

