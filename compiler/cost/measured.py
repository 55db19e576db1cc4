"""Measured cost: both mappings compiled and run on the target's own executor, per stage.

``snnc report --measure`` (:func:`snnc.api.report`) compiles the model with every twin-capable
stage SNN and again with every one QNN, runs each on calibration samples with the backend's counters
(:meth:`snnc.backends.Backend.measure_stages`: QEMU instruction counts for the MCU, the layout
simulator's events, MACs, packets and SRAM reads for SpiNNaker 2, the synaptic operations,
messages and neuron updates of the Lava run for Loihi 2) and prices the counters with
the target's ``[energy]`` table. Per stage it records both mappings' counters and energy and
the cheaper one (``measured_choice``), next to what the model predicted for the same activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
