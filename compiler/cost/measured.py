"""Measured cost: both mappings compiled and run on the target's own executor, per stage.

``snnc report --measure`` compiles the model with every twin-capable stage SNN and again with
every one QNN, runs each on calibration samples with the backend's counters
(:meth:`snnc.backends.Backend.measure_stages`: QEMU instruction counts for the MCU, the layout
simulator's events, MACs, packets and SRAM reads for SpiNNaker 2) and prices the counters with
the target's ``[energy]`` table. Per stage it records both mappings' counters and energy and
the cheaper one (``measured_choice``), next to what the model predicted for the same activity.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends import get_backend
from snnc.errors import InputError
from snnc.ir.layers import Graph
from snnc.reference.encode import encode
from snnc.target import Target

MEASURE_SAMPLES = 16  # calibration samples run per mapping: counts are per inference


@dataclass(frozen=True)
class StageMeasure:
    """One stage: counters (with ``energy_pj``) per mapping and the measured cheaper one."""

    head: str
    snn: dict[str, float]
    qnn: dict[str, float]

    @property
    def choice(self) -> str:
        return "qnn" if self.qnn["energy_pj"] < self.snn["energy_pj"] else "snn"

    def as_json(self) -> dict[str, Any]:
        return {"snn": dict(sorted(self.snn.items())), "qnn": dict(sorted(self.qnn.items()))}


def measure(graph: Graph, target: Target, calib: np.ndarray | None,
            samples: int = MEASURE_SAMPLES) -> dict[str, StageMeasure]:
    """Measured counters of every stage with a QNN twin, both mappings, per inference."""
    from snnc import api

    if calib is None:
        raise InputError("--measure runs the model on data: give --calib")
    x = np.asarray(calib)[:samples]
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    backend = get_backend(target.backend)
    runs: dict[str, dict[str, dict[str, float]]] = {}
    heads: list[str] = []
    for mapping in ("qnn", "snn"):
        optimized = api.optimize(graph, target, calib=calib, mapping=mapping)
        qg = api.quantize(optimized, target, calib=calib)
        if mapping == "qnn":
            heads = [lay.name for lay in qg.graph.layers if "twin_of" in lay.attrs]
        with tempfile.TemporaryDirectory(prefix="snnc-measure-") as work:
            runs[mapping] = backend.measure_stages(qg, target, drive, heads, Path(work))
    return {h: StageMeasure(h, runs["snn"][h], runs["qnn"][h]) for h in heads
            if h in runs["snn"] and h in runs["qnn"]}
