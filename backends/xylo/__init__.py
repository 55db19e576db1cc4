"""SynSense Xylo backend: a hidden/readout specification that runs bit-exactly on xylosim.

``check_resources`` lays the neuron layers out on the chip's hidden and readout neurons,
``emit`` writes ``out/xylo/`` (``spec.npz``, ``run.py``, ``resources.json``) and ``simulate``
runs the specification in rockpool's ``XyloSim`` (xylosim); ``unsupported_reason`` tells ``snnc
inspect`` what cannot run. Format and semantics: ``docs/targets/xylo.md``.
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


class XyloBackend(Backend):
    tag = "xylo"
    runners = ("xylosim",)

    def unsupported(self, layer: Layer) -> str | None:
        return unsupported_reason(layer)

    def resources(self, qg: QuantizedGraph, target: Target) -> dict[str, Any]:
        return check_resources(qg, target)

    def emit(self, qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
        return emit(qg, target, out_dir)

    def simulate(self, qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
                 work_dir: Path) -> Trace:
        return simulate(qg, target, drive, runner, work_dir)


BACKEND = XyloBackend()

__all__ = ["BACKEND", "XyloBackend", "check_resources", "emit", "simulate",
           "unsupported_reason"]
