"""MCU backend: static C99 for Arm Cortex-M, bit-exact with the integer reference.

``emit`` writes a self-contained C project (model, constant weights in flash, the hand-written
runtime kernels it uses, Makefile, linker script, start-up code, host and QEMU test harnesses,
memory.json, resources.json); ``simulate`` builds it and runs it on the host or under QEMU;
``resources`` compares flash and RAM with the target's limits before anything is written.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from snnc.backends import FunctionBackend
from snnc.backends.mcu.check import check_resources
from snnc.backends.mcu.emit import emit
from snnc.backends.mcu.lower import unsupported_reason
from snnc.backends.mcu.simulate import RUNNERS, simulate
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target


class McuBackend(FunctionBackend):
    """``measure``: build the project with arm-none-eabi-gcc when emitting, to put the real
    image size next to the estimate (skipped when the toolchain is missing)."""

    tag = "mcu"
    runners = RUNNERS
    runs_qnn_stages = True

    def __init__(self, measure: bool = True) -> None:
        super().__init__(unsupported_reason, check_resources, partial(emit, measure=measure),
                         simulate)

    def measure_stages(self, qg: QuantizedGraph, target: Target, drive: np.ndarray,
                       heads: list[str], work_dir: Path) -> dict[str, dict[str, float]]:
        """Cortex-M instructions per stage under QEMU (:mod:`snnc.backends.mcu.measure`),
        times the target's ``instruction_pj``."""
        from snnc.backends.mcu.measure import measure_stages

        pj = float(target.energy.get("instruction_pj", 0.0))
        counts = measure_stages(qg, target, drive, heads, work_dir)
        return {h: {**c, "energy_pj": c["instructions"] * pj} for h, c in counts.items()}


BACKEND = McuBackend()

__all__ = ["BACKEND", "McuBackend", "check_resources", "emit", "simulate", "unsupported_reason"]
