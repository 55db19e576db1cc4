"""The per-layer SNN / QNN choice and its reason.

``auto`` picks the cheaper mapping for the target (ties go to the SNN, which needs no
conversion); ``snn`` / ``qnn`` force one. A layer without a QNN twin
(:func:`snnc.cost.twins.twin_blocker`) always stays SNN, and the reason says why.
"""

from __future__ import annotations

import math
from typing import Literal

from snnc.cost.model import Energy
from snnc.errors import InputError

Mapping = Literal["snn", "qnn"]
MAPPING_MODES = ("auto", "snn", "qnn")


def check_mode(mode: str) -> str:
    if mode not in MAPPING_MODES:
        raise InputError(f"unknown mapping '{mode}' (choose from {', '.join(MAPPING_MODES)})")
    return mode


def _pct(x: float) -> str:
    if math.isinf(x):
        return "none (the SNN energy does not depend on the rate)"
    return f"{100 * x:.2f} %"


def _nj(pj: float) -> str:
    return f"{pj / 1000:.4g} nJ"


def decide(mode: str, snn: Energy, qnn: Energy, rate_in: float, crossover: float,
           blocker: str | None, twin_note: str = "", max_rate: float = 1.0) -> tuple[Mapping, str]:
    """(mapping, one-line reason) for one stage; ``max_rate`` is the largest possible input
    rate (1 for binary spikes, D for D-level spikes)."""
    check_mode(mode)
    note = f"; {twin_note}" if twin_note else ""
    if blocker is not None:
        if mode == "qnn":
            return "snn", f"--mapping qnn requested, but there is no QNN twin: {blocker}"
        return "snn", f"no QNN twin: {blocker}"
    if mode == "snn":
        return "snn", "forced by --mapping snn"
    if mode == "qnn":
        return "qnn", f"forced by --mapping qnn{note}"
    energies = f"SNN {_nj(snn.total)} vs QNN {_nj(qnn.total)}"
    if qnn.total < snn.total:
        if crossover <= 0:
            return "qnn", ("the QNN is cheaper at any input rate: the SNN's rate-independent "
                           f"part (neuron updates every step) alone costs more ({energies})"
                           f"{note}")
        return "qnn", (f"input rate {_pct(rate_in)} is above the crossover "
                       f"{_pct(crossover)} ({energies}){note}")
    if crossover >= max_rate:
        return "snn", (f"the SNN is cheaper at any input rate up to {_pct(max_rate)} "
                       f"({energies}){note}")
    return "snn", (f"input rate {_pct(rate_in)} is below the crossover "
                   f"{_pct(crossover)} ({energies}){note}")
