"""Loihi 2 backend: Lava processes that run bit-exactly in Lava's fixed-point simulator.

``resources`` allocates neuro cores, ``emit`` writes ``out/loihi/`` and ``simulate`` runs the
emitted network in Lava; ``measure_stages`` counts what that run did per stage (``snnc report
--measure``); ``unsupported`` tells ``snnc inspect`` what cannot run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnc.backends import FunctionBackend
from snnc.ir.layers import Graph, Layer
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target

from .check import check_resources
from .emit import emit
from .lower import graph_reason, unsupported_reason
from .simulate import RUNNERS, simulate


class LoihiBackend(FunctionBackend):
    tag = "loihi"
    runners = RUNNERS
    runs_qnn_stages = True

    def unsupported_in(self, graph: Graph, layer: Layer) -> str | None:
        return unsupported_reason(layer) or graph_reason(graph, layer)

    def measure_stages(self, qg: QuantizedGraph, target: Target, drive: np.ndarray,
                       heads: list[str], work_dir: Path) -> dict[str, dict[str, float]]:
        """Synaptic operations, messages and neuron updates per stage from the Lava run of the
        emitted network, priced with the target's energies (:mod:`snnc.backends.loihi.measure`)."""
        from .measure import measure_stages

        return measure_stages(qg, target, drive, heads, work_dir)


BACKEND = LoihiBackend(unsupported_reason, check_resources, emit, simulate)

__all__ = ["BACKEND", "LoihiBackend", "check_resources", "emit", "simulate", "unsupported_reason"]
