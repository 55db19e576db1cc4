"""SpiNNaker 2 backend: partition, place, route, per-PE images, and a layout simulator.

``emit`` writes ``layout.json``, ``resources.json`` and ``pe_XXX.bin`` images (format in
``docs/targets/spinnaker2.md``); ``simulate`` runs them on :mod:`.simulate`'s machine model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends import Artifact, Backend
from snnc.backends.spinnaker2.emit import emit, resources_document
from snnc.backends.spinnaker2.layout import build_layout
from snnc.backends.spinnaker2.network import unsupported_reason
from snnc.backends.spinnaker2.simulate import run_layout
from snnc.errors import UnsupportedError, VerifyError
from snnc.ir.layers import Layer
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.simulate import Trace
from snnc.target import Target

RUNNERS = ("spinnaker2",)


class SpiNNaker2Backend(Backend):
    """The layout is built once per call: ``resources`` reports it, ``emit`` writes it and
    ``simulate`` runs what ``emit`` wrote on the layout simulator."""

    tag = "spinnaker2"
    runners = RUNNERS
    runs_qnn_stages = True

    def unsupported(self, layer: Layer) -> str | None:
        return unsupported_reason(layer)

    def resources(self, qg: QuantizedGraph, target: Target) -> dict[str, Any]:
        """Build the layout in memory and report its figures, writing nothing: partitioning,
        placement and routing each raise :class:`snnc.errors.ResourceError` naming the limit
        that cannot be met (PEs on the board, SRAM per PE, neurons per PE, router entries per
        chip, routing keys), :class:`snnc.errors.UnsupportedError` a layer the machine cannot
        run."""
        return resources_document(build_layout(qg, target))

    def emit(self, qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
        return emit(qg, target, out_dir)

    def simulate(self, qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
                 work_dir: Path) -> Trace:
        """Emit into ``work_dir/spinnaker2`` and run the layout simulator on the float drive."""
        if runner not in RUNNERS:
            raise UnsupportedError(f"runner '{runner}' cannot run a SpiNNaker 2 layout; use "
                                   "spinnaker2", target=target.name)
        folder = Path(work_dir) / "spinnaker2"
        self.emit(qg, target, folder)
        trace, stats = run_layout(folder, qg.quantize_input(drive))
        faults = stats.dropped_no_route + stats.dropped_off_mesh + stats.unmatched_at_pe
        if faults:  # the compiler routed a key nowhere or to a PE that does not expect it
            raise VerifyError(f"layout simulator: {faults} routing fault(s) in the emitted "
                              f"layout ({stats})")
        return trace

    def measure_stages(self, qg: QuantizedGraph, target: Target, drive: np.ndarray,
                       heads: list[str], work_dir: Path) -> dict[str, dict[str, float]]:
        """The layout simulator's counters per receiving population (packets, synaptic
        events, MACs, SRAM bits read, neuron updates) per inference, priced with the target's
        ``[energy]`` table: ``synop_pj`` per event, ``event_overhead_pj`` per packet,
        ``add_pj + mul_pj`` per MAC, ``neuron_update_pj`` per update, the PE SRAM's pJ per bit."""
        folder = Path(work_dir) / "spinnaker2"
        emit(qg, target, folder)
        _, stats = run_layout(folder, qg.quantize_input(drive))
        batch = drive.shape[1]
        names = {p["id"]: p["name"] for p in
                 json.loads((folder / "layout.json").read_text())["populations"]}
        e = target.energy
        mac_pj = float(next(iter(e.get("add_pj", {}).values()), 0.0)) + \
            float(next(iter(e.get("mul_pj", {}).values()), 0.0))
        sram_pj = float(next(iter(e.get("memory_pj_per_bit", {}).values()), 0.0))
        out: dict[str, dict[str, float]] = {}
        for pid, work in stats.work.items():
            if names[pid] not in heads:
                continue
            c = {k: v / batch for k, v in work.items()}
            c["energy_pj"] = (c["synaptic_events"] * float(e.get("synop_pj", 0.0))
                              + c["packets"] * float(e.get("event_overhead_pj", 0.0))
                              + c["macs"] * mac_pj + c["sram_bits"] * sram_pj
                              + c["neuron_updates"] * float(e.get("neuron_update_pj", 0.0)))
            out[names[pid]] = c
        return out


BACKEND = SpiNNaker2Backend()
check_resources = BACKEND.resources
simulate = BACKEND.simulate

__all__ = ["BACKEND", "SpiNNaker2Backend", "check_resources", "emit", "simulate",
           "unsupported_reason"]
