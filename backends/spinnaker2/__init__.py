"""SpiNNaker 2 backend: partition, place, route, per-PE images, and a layout simulator.

``emit`` writes ``layout.json``, ``resources.json`` and ``pe_XXX.bin`` images (format in
``docs/targets/spinnaker2.md``); ``simulate`` runs them on :mod:`.simulate`'s machine model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends import Artifact, Backend
from snnc.backends.spinnaker2.check import check_resources
from snnc.backends.spinnaker2.emit import emit
from snnc.backends.spinnaker2.network import unsupported_reason
from snnc.backends.spinnaker2.simulate import run_layout
from snnc.errors import UnsupportedError, VerifyError
from snnc.ir.layers import Layer
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.simulate import Trace
from snnc.target import Target

RUNNERS = ("spinnaker2",)


def simulate(qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
             work_dir: Path) -> Trace:
    """Emit into ``work_dir/spinnaker2`` and run the layout simulator on the float drive."""
    if runner not in RUNNERS:
        raise UnsupportedError(f"runner '{runner}' cannot run a SpiNNaker 2 layout; use "
                               "spinnaker2", target=target.name)
    folder = Path(work_dir) / "spinnaker2"
    emit(qg, target, folder)
    trace, stats = run_layout(folder, qg.quantize_input(drive))
    faults = stats.dropped_no_route + stats.dropped_off_mesh + stats.unmatched_at_pe
    if faults:  # the compiler routed a key nowhere or to a PE that does not expect it
        raise VerifyError(f"layout simulator: {faults} routing fault(s) in the emitted layout "
                          f"({stats})")
    return trace


class SpiNNaker2Backend(Backend):
    tag = "spinnaker2"
    runners = RUNNERS
    runs_qnn_stages = True

    def unsupported(self, layer: Layer) -> str | None:
        return unsupported_reason(layer)

    def resources(self, qg: QuantizedGraph, target: Target) -> dict[str, Any]:
        return check_resources(qg, target)

    def emit(self, qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
        return emit(qg, target, out_dir)

    def simulate(self, qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
                 work_dir: Path) -> Trace:
        return simulate(qg, target, drive, runner, work_dir)


BACKEND = SpiNNaker2Backend()

__all__ = ["BACKEND", "SpiNNaker2Backend", "check_resources", "emit", "simulate",
           "unsupported_reason"]
