"""Spiking nodes <-> neuron layers: ``LIF``, ``IF``, ``Threshold`` <-> LIF; ``CubaLIF`` and an
``LI``/``I`` integrator fused with the ``LIF``/``IF`` after it <-> CubaLIF.

Reading folds the input gains into the state units (see :mod:`snnc.frontend.nir`); writing uses
unit gains, and reset behaviour NIR cannot state goes into ``snnc.*`` node metadata.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snnc.errors import InvalidModelError, ShapeError, UnsupportedError
from snnc.frontend.nir.ir.base import Builder, SynapticIntegrator
from snnc.frontend.nir.semantics import (
    META_COMPARE,
    META_RESET,
    META_TIMING,
    UNIT_GAIN_TOLERANCE,
    NirSemantics,
)
from snnc.frontend.nir.values import F32, compact, fits, full, metadata, numeric
from snnc.ir.layers import LIF, CubaLIF, Graph


def neuron_params(out: Builder, name: str, node: Any, src: str,
                   fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Named float64 parameters broadcast to the neuron layer's shape."""
    shape = out.shapes[src]
    params = {}
    for f in fields:
        arr = numeric(name, f, getattr(node, f))
        if not fits(arr.shape, shape):
            raise ShapeError(f"parameter {f} of shape {arr.shape} does not fit input {shape}",
                             name)
        params[f] = np.broadcast_to(arr, shape)
    return params


def behaviour(node: Any, sem: NirSemantics, name: str) -> dict[str, str]:
    """Reset kind, timing and comparison: the node's snnc metadata, else the semantics."""
    meta = metadata(node)
    chosen = {"reset": str(meta.get(META_RESET, sem.reset)),
              "reset_timing": str(meta.get(META_TIMING, sem.reset_timing)),
              "compare": str(meta.get(META_COMPARE, sem.compare))}
    allowed = {"reset": ("zero", "subtract", "none"), "reset_timing": ("same", "next"),
               "compare": ("gt", "ge")}
    for key, val in chosen.items():
        if val not in allowed[key]:
            raise InvalidModelError(f"metadata snnc.{key}='{val}' is not one of "
                                    f"{', '.join(allowed[key])}", name)
    return chosen


def check_reset(name: str, v_reset: np.ndarray | None, reset: str) -> None:
    if reset == "zero" and v_reset is not None and np.any(v_reset != 0):
        raise UnsupportedError("v_reset other than 0 (snnc neurons reset to 0 or by "
                               "subtracting the threshold)", layer=name)


def gain(name: str, what: str, g: np.ndarray) -> np.ndarray:
    if np.any(g <= 0):
        raise UnsupportedError(f"{what} must be positive (it scales the input current)",
                               layer=name)
    return np.where(np.abs(g - 1.0) <= UNIT_GAIN_TOLERANCE, 1.0, g)


def decay_rate(name: str, what: str, tau: np.ndarray, sem: NirSemantics) -> np.ndarray:
    """``dt/tau`` per step, ``tau`` as written times the reading's ``tau_scale``."""
    if np.any(tau <= 0):
        raise InvalidModelError(f"time constant {what} must be positive", name)
    if sem.tau_scale != 1.0:  # in float64, so that 1e3 * float32(1e-3/200) gives back 0.2
        tau = np.asarray(tau, np.float64) * sem.tau_scale
    if np.any(tau < sem.dt):
        # Forward Euler with dt > tau overshoots: the state flips sign and grows every step.
        raise InvalidModelError(f"time constant {what} = {float(np.min(tau)):.3g} s is shorter "
                                f"than the step dt = {sem.dt:g} s (decay rate dt/{what} > 1); "
                                "pass a smaller --dt (Norse 1.1 exports write dt*tau: read "
                                "them with the 'norse' semantics)", name)
    return sem.dt / tau


def read_lif(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
         syn: SynapticIntegrator | None) -> str:
    if syn is not None:
        return read_cuba(out, name, node, src, sem, syn)
    p = neuron_params(out, name, node, src, ("tau", "r", "v_leak", "v_threshold"))
    how = behaviour(node, sem, name)
    check_reset(name, getattr(node, "v_reset", None), how["reset"])
    rate = decay_rate(name, "tau", p["tau"], sem)
    g = gain(name, "r", rate * p["r"])
    bias = p["v_leak"] / p["r"]
    return out.add(LIF(name, (src,), beta=compact(1.0 - rate),
                       threshold=compact(p["v_threshold"] / g),
                       bias=compact(bias) if np.any(bias != 0) else None, **how))


def read_if(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
        syn: SynapticIntegrator | None) -> str:
    if syn is not None:
        return read_cuba(out, name, node, src, sem, syn)
    p = neuron_params(out, name, node, src, ("r", "v_threshold"))
    how = behaviour(node, sem, name)
    check_reset(name, getattr(node, "v_reset", None), how["reset"])
    g = gain(name, "r", p["r"] * (sem.dt if sem.if_uses_dt else 1.0))
    return out.add(LIF(name, (src,), beta=np.asarray(1.0, F32),
                       threshold=compact(p["v_threshold"] / g), **how))


def read_threshold(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
               syn: SynapticIntegrator | None) -> str:
    """Heaviside ``x > theta``: a LIF that forgets its membrane every step (``beta = 0``)."""
    p = neuron_params(out, name, node, src, ("threshold",))
    how = behaviour(node, sem, name)
    return out.add(LIF(name, (src,), beta=np.asarray(0.0, F32),
                       threshold=compact(p["threshold"]), reset="zero",
                       reset_timing="same", compare=how["compare"]))


def read_cuba(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
          syn: SynapticIntegrator | None) -> str:
    """CubaLIF, or an LI/I synapse fused with the LIF/IF after it.

    Current gain ``g1 = w_in*dt/tau_syn`` and membrane gain ``g2 = R*dt/tau_mem`` go into the
    state units (``u' = u/g1``, ``v' = v/(g1*g2)``) so that the layer adds its input as is.
    """
    import nir

    if isinstance(node, nir.CubaLIF):
        p = neuron_params(out, name, node, src, ("tau_syn", "tau_mem", "r", "v_leak",
                                                  "v_threshold", "w_in"))
        syn_rate = decay_rate(name, "tau_syn", p["tau_syn"], sem)
        g1 = p["w_in"] if sem.current_jumps else syn_rate * p["w_in"]
        mem_rate = decay_rate(name, "tau_mem", p["tau_mem"], sem)
        g2 = mem_rate * p["r"]
        leak = mem_rate * p["v_leak"]
    else:
        assert syn is not None  # only called with a fused synapse for LIF/IF
        syn_rate, g1 = _integrator(out, syn, src, sem)
        if isinstance(node, nir.LIF):
            p = neuron_params(out, name, node, src, ("tau", "r", "v_leak", "v_threshold"))
            mem_rate = decay_rate(name, "tau", p["tau"], sem)
            g2, leak = mem_rate * p["r"], mem_rate * p["v_leak"]
        else:
            p = neuron_params(out, name, node, src, ("r", "v_threshold"))
            mem_rate = np.zeros_like(p["r"])
            g2, leak = p["r"] * (sem.dt if sem.if_uses_dt else 1.0), mem_rate
    how = behaviour(node, sem, name)
    check_reset(name, getattr(node, "v_reset", None), how["reset"])
    g1 = gain(name, "w_in*dt/tau_syn (synaptic input gain)", g1)
    g2 = gain(name, "r*dt/tau_mem (membrane input gain)", g2)
    unit = g1 * g2
    bias = leak / unit
    return out.add(CubaLIF(name, (src,), current_decay=compact(syn_rate),
                           voltage_decay=compact(mem_rate),
                           threshold=compact(p["v_threshold"] / unit),
                           bias=compact(bias) if np.any(bias != 0) else None, **how))


def _integrator(out: Builder, syn: SynapticIntegrator, src: str,
                sem: NirSemantics) -> tuple[np.ndarray, np.ndarray]:
    """Decay rate and input gain of a fused LI (Euler, like the LIF) or I (no dt, like IF)."""
    import nir

    node, name = syn.node, syn.name
    if isinstance(node, nir.LI):
        p = neuron_params(out, name, node, src, ("tau", "r", "v_leak"))
        if np.any(p["v_leak"] != 0):
            raise UnsupportedError("an LI synapse with v_leak other than 0 (a CubaLIF current "
                                   "has no bias)", layer=name)
        rate = decay_rate(name, "tau", p["tau"], sem)
        return rate, rate * p["r"]
    p = neuron_params(out, name, node, src, ("r",))
    return np.zeros_like(p["r"]), p["r"] * (sem.dt if sem.if_uses_dt else 1.0)


def behaviour_meta(lay: LIF | CubaLIF) -> dict[str, str]:
    """NIR means reset to 0 at the same step with ``>``; anything else is recorded."""
    meta = {}
    if lay.reset != "zero":
        meta[META_RESET] = lay.reset
    if lay.reset_timing != "same":
        meta[META_TIMING] = lay.reset_timing
    if lay.compare != "gt":
        meta[META_COMPARE] = lay.compare
    return meta


def write_lif(graph: Graph, lay: LIF, dt: float) -> Any:
    import nir

    beta = full(graph, lay, lay.beta)
    theta = full(graph, lay, lay.threshold)
    bias = full(graph, lay, lay.bias if lay.bias is not None else 0.0)
    meta = behaviour_meta(lay)
    if np.all(beta == 0) and not np.any(bias) and lay.reset_timing == "same":
        meta = {META_COMPARE: lay.compare} if lay.compare != "gt" else {}
        return nir.Threshold(threshold=theta, metadata=meta)
    if np.all(beta == 1):
        if np.any(bias):
            raise UnsupportedError("an IF neuron with a bias has no NIR form (NIR IF has no "
                                   "leak voltage)", layer=lay.name)
        return nir.IF(r=np.ones_like(theta), v_threshold=theta, v_reset=np.zeros_like(theta),
                      metadata=meta)
    if np.any(beta < 0) or np.any(beta >= 1):
        raise UnsupportedError("NIR LIF needs 0 <= beta < 1 for every neuron (beta = 1 - "
                               "dt/tau)", layer=lay.name)
    tau = dt / (1.0 - beta)
    r = tau / dt
    return nir.LIF(tau=tau, r=r, v_leak=bias * r, v_threshold=theta,
                   v_reset=np.zeros_like(theta), metadata=meta)


def write_cuba(graph: Graph, lay: CubaLIF, dt: float) -> list[Any]:
    """CubaLIF with unit gains; a decay of 0 (tau = inf) is written as an I or IF node."""
    import nir

    cd = full(graph, lay, lay.current_decay)
    vd = full(graph, lay, lay.voltage_decay)
    theta = full(graph, lay, lay.threshold)
    bias = full(graph, lay, lay.bias if lay.bias is not None else 0.0)
    meta = behaviour_meta(lay)
    for what, d in (("current_decay", cd), ("voltage_decay", vd)):
        if np.any(d < 0) or np.any(d > 1) or (np.any(d == 0) and not np.all(d == 0)):
            raise UnsupportedError(f"{what} must lie in (0, 1] for every neuron, or be 0 for "
                                   "all of them, to have a NIR form", layer=lay.name)
    zero = np.zeros_like(theta)
    if np.all(cd > 0) and np.all(vd > 0):
        tau_syn, tau_mem = dt / cd, dt / vd
        return [nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                            v_leak=bias * tau_mem / dt, v_threshold=theta, v_reset=zero,
                            w_in=tau_syn / dt, metadata=meta)]
    if np.all(cd > 0):  # unit gain: r = tau_syn/dt
        syn: Any = nir.LI(tau=dt / cd, r=1.0 / cd, v_leak=zero.copy())
    else:
        syn = nir.I(r=np.ones_like(theta))
    if np.all(vd > 0):
        tau_mem = dt / vd
        cell: Any = nir.LIF(tau=tau_mem, r=tau_mem / dt, v_leak=bias * tau_mem / dt,
                            v_threshold=theta, v_reset=zero, metadata=meta)
    else:
        if np.any(bias):
            raise UnsupportedError("a CubaLIF without voltage decay and with a bias has no NIR "
                                   "form", layer=lay.name)
        cell = nir.IF(r=np.ones_like(theta), v_threshold=theta, v_reset=zero, metadata=meta)
    return [syn, cell]
