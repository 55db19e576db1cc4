"""BrainChip Akida backend: SNN stages as their QNN twins in an ``akida.Model`` (``.fbz``).

``check_resources`` maps the model onto an AKD1000 without a device (``hw_only=True``),
``emit`` writes ``out/akida/`` (``model.fbz``, ``run.py``, ``resources.json``) and ``simulate``
runs the saved model on akida's software backend; ``unsupported_reason`` tells ``snnc
inspect`` what cannot run. Format and semantics: ``docs/targets/akida.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends import Artifact, Backend
from snnc.ir.layers import Layer
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.simulate import Trace
from snnc.target import Target

from .check import check_resources, unsupported_reason
from .emit import emit
from .simulate import simulate


class AkidaBackend(Backend):
    tag = "akida"
    runners = ("akida",)
    runs_qnn_stages = True  # every stage, once per inference (snnc.passes.stateless)

    def unsupported(self, layer: Layer) -> str | None:
        return unsupported_reason(layer)

    def resources(self, qg: QuantizedGraph, target: Target) -> dict[str, Any]:
        return check_resources(qg, target)

    def emit(self, qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
        return emit(qg, target, out_dir)

    def simulate(self, qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
                 work_dir: Path) -> Trace:
        return simulate(qg, target, drive, runner, work_dir)


BACKEND = AkidaBackend()

__all__ = ["BACKEND", "AkidaBackend", "check_resources", "emit", "simulate",
           "unsupported_reason"]
