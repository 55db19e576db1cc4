"""How a NIR graph's continuous time becomes snnc's discrete steps (:class:`NirSemantics`),
the named readings of the frameworks that export NIR, and the ``snnc.*`` metadata keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from snnc.errors import InputError

# The NIR paper's step and snnTorch's fixed export/import step (seconds).
# The NIR paper's step and snnTorch's fixed export/import step (seconds).
DEFAULT_DT = 1e-4
# Norse's default step, which its exporter multiplies into every time constant it writes.
NORSE_EXPORT_DT = 1e-3
DEFAULT_TIMESTEPS = 8
# Node metadata keys snnc writes for neuron behaviour NIR has no field for.
META_RESET = "snnc.reset"
META_TIMING = "snnc.reset_timing"
META_COMPARE = "snnc.compare"
META_TIMESTEPS = "snnc.timesteps"
META_ENCODING = "snnc.encoding"
# How far delay/dt may sit from a whole number of steps (relative).
DELAY_TOLERANCE = 1e-6
# Input gains this close to 1 are 1: exporters store tau, r and w_in as float32, so the unit
# gain r*dt/tau = 1 they mean comes back as 1 +- 3e-7 and would shift every threshold.
UNIT_GAIN_TOLERANCE = 1e-6


@dataclass(frozen=True)
class NirSemantics:
    """Discrete-time reading of a NIR graph.

    ``dt`` is the step in seconds (NIR files carry none: snnTorch uses 1e-4, Norse 1e-3).
    ``reset``, ``reset_timing`` and ``compare`` apply to every spiking node that has no
    ``snnc.*`` metadata of its own: NIR itself means reset to ``v_reset`` at the same step and
    ``v > v_threshold``; ``"subtract"``/``"next"`` reproduce snnTorch's default ``Leaky``.
    ``if_uses_dt``: ``IF``/``I`` integrate ``dt*R*I`` (forward Euler, SpikingJelly writes
    ``r = 1/dt``) instead of ``R*I`` (Norse, Sinabs and snnTorch, which write ``r = 1``).
    ``timesteps`` overrides the graph's ``snnc.timesteps`` metadata. ``tau_scale``: the true
    time constants are the written ones times this (Norse 1.1 writes ``dt*tau`` with its export
    step ``dt = 1e-3``, so its reading scales by 1000). ``current_jumps``: a ``CubaLIF``
    current jumps by ``w_in*S`` each step (Norse's ``LIFCell``) instead of integrating
    ``(dt/tau_syn)*w_in*S``.
    """

    dt: float = DEFAULT_DT
    reset: Literal["zero", "subtract"] = "zero"
    reset_timing: Literal["same", "next"] = "same"
    compare: Literal["gt", "ge"] = "gt"
    if_uses_dt: bool = False
    timesteps: int | None = None
    tau_scale: float = 1.0
    current_jumps: bool = False


# Named readings for models whose framework semantics differ from NIR's own.
PRESETS: Mapping[str, NirSemantics] = {
    "nir": NirSemantics(),
    "snntorch": NirSemantics(reset="subtract", reset_timing="next"),
    "spikingjelly": NirSemantics(compare="ge", if_uses_dt=True),
    "sinabs": NirSemantics(reset="subtract", compare="ge"),
    # Norse 1.1's to_nir writes tau = dt/tau_inv (dt*tau, dt = 1e-3) where NIR means 1/tau_inv
    "norse": NirSemantics(dt=NORSE_EXPORT_DT, tau_scale=1.0 / NORSE_EXPORT_DT,
                          current_jumps=True),
}


def semantics_for(spec: str | NirSemantics | None) -> NirSemantics:
    """A preset name, an explicit :class:`NirSemantics`, or None for NIR's own semantics."""
    if spec is None:
        return NirSemantics()
    if isinstance(spec, NirSemantics):
        return spec
    if spec not in PRESETS:
        raise InputError(f"unknown NIR semantics '{spec}' (choose from {', '.join(PRESETS)})")
    return PRESETS[spec]
