"""Write a layout to disk: ``layout.json``, ``resources.json`` and one ``pe_XXX.bin`` per PE.

``XXX`` is the board-wide PE number ``(chip_y * mesh_width + chip_x) * pes_per_chip + core``.
Files are byte-identical for identical input: every list is built in a fixed order and no
timestamps or absolute paths are written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from snnc.backends import RESOURCES_FILE, Artifact, chosen_widths
from snnc.backends.spinnaker2.layout import Layout, WrittenImages, build_layout, pe_file
from snnc.backends.spinnaker2.machine import LINKS
from snnc.backends.spinnaker2.network import EventStage, MacStage, Model
from snnc.backends.spinnaker2.route import Entry
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target

FORMAT = "snnc-spinnaker2-layout"
VERSION = 1


def _hex(value: int) -> str:
    return f"0x{value:08x}"


def _entry(e: Entry) -> dict[str, Any]:
    return {"key": _hex(e.key), "mask": _hex(e.mask),
            "links": [name for i, name in enumerate(LINKS) if e.route.links >> i & 1],
            "cores": list(e.route.cores)}


def _stage_kind(layout: Layout, pop: int) -> str | None:
    stage = layout.net.stages.get(pop)
    if isinstance(stage, EventStage):
        return "event"
    if isinstance(stage, MacStage):
        return "mac"
    return "inject" if pop in layout.net.injections else None


def _record(model: Model) -> list[str]:
    if model in (Model.LIF, Model.CUBA):
        return ["spikes", "v"]
    if model == Model.MULTILEVEL:
        return ["spikes"]
    return ["value"] if model == Model.READOUT else []


def layout_document(layout: Layout) -> dict[str, Any]:
    """The content of ``layout.json`` (see docs/targets/spinnaker2.md)."""
    m = layout.machine
    populations = []
    for pop in layout.net.populations:
        slices = []
        for sl in layout.parts[pop.index]:
            site = layout.sites[sl]
            key = layout.keys.get(sl)
            slices.append({"pe": site.pe_id, "file": pe_file(site.pe_id), "chip": list(site.chip),
                           "core": site.core, "lo": sl.lo, "n": sl.n,
                           "key": _hex(key.key) if key else None,
                           "mask": _hex(key.mask) if key else None,
                           "targets": [layout.sites[t].pe_id
                                       for t in layout.targets.get(sl, ())]})
        populations.append({
            "id": pop.index, "name": pop.name, "model": pop.model.name.lower(),
            "shape": list(pop.shape), "size": pop.size, "payload": pop.payload,
            "record": _record(pop.model), "stage": _stage_kind(layout, pop.index),
            "mac_reason": getattr(layout.net.stages.get(pop.index), "reason", None),
            "sources": list(layout.net.stages[pop.index].sources)
            if pop.index in layout.net.stages else [],
            "slices": slices})
    used_chips = sorted({site.chip for site in layout.sites.values()} | set(layout.tables))
    chips = []
    for chip in used_chips:
        cores = sorted(site.core for site in layout.sites.values() if site.chip == chip)
        table = layout.tables.get(chip, [])
        chips.append({"chip": list(chip), "cores": cores,
                      "entries_uncompressed": len(layout.tables_before.get(chip, [])),
                      "entries": len(table), "routing_table": [_entry(e) for e in table]})
    pes = [{"pe": layout.sites[sl].pe_id, "file": pe_file(layout.sites[sl].pe_id),
            "chip": list(layout.sites[sl].chip), "core": layout.sites[sl].core,
            "population": sl.pop, "lo": sl.lo, "n": sl.n}
           for sl in layout.slices()]
    out = layout.net.populations[layout.net.output]
    return {
        "format": FORMAT, "version": VERSION, "model": layout.net.name, "target": layout.target,
        "machine": {"mesh_width": m.mesh_width, "mesh_height": m.mesh_height,
                    "pes_per_chip": m.pes_per_chip,
                    "reserved_pes_per_chip": m.reserved_pes_per_chip,
                    "sram_per_pe_bytes": m.sram_per_pe_bytes,
                    "router_entries": m.router_entries, "links": list(LINKS)},
        "synapse_delay": layout.net.profile.synapse_delay,
        "key_index_bits": layout.index_bits,
        "output": {"population": out.index, "name": out.name,
                   "value": "value" if out.model == Model.READOUT else "spikes"},
        "summary": summary(layout),
        "populations": populations,
        "pes": pes,
        "chips": chips,
    }


def summary(layout: Layout) -> dict[str, int]:
    """Headline figures: PEs, chips, event synapses (words in synaptic rows), MAC weights
    (per stage, each PE of the stage holds a copy), hops and router entries before/after."""
    before = sum(len(t) for t in layout.tables_before.values())
    after = sum(len(t) for t in layout.tables.values())
    return {
        "pes": len(layout.sites),
        "chips": len({site.chip for site in layout.sites.values()}),
        "neurons": sum(p.size for p in layout.net.populations),
        "synapses": sum(layout.synapse_counts.values()),
        "mac_weights": sum(int(t.size) for st in layout.net.stages.values()
                           if isinstance(st, MacStage) for op in st.ops
                           for name, t in op.tensors.items() if name == "weight"),
        "total_hops": layout.total_hops,
        "routing_entries_uncompressed": before,
        "routing_entries": after,
        "max_routing_entries_per_chip": max((len(t) for t in layout.tables.values()), default=0),
        "max_sram_bytes_per_pe": max(layout.sram_bytes.values(), default=0),
    }


def resources_document(layout: Layout) -> dict[str, Any]:
    """The content of ``resources.json``: every figure next to its limit."""
    m = layout.machine
    pes = []
    for sl in layout.slices():
        site = layout.sites[sl]
        pes.append({"pe": site.pe_id, "file": pe_file(site.pe_id), "chip": list(site.chip),
                    "core": site.core, "population": layout.net.populations[sl.pop].name,
                    "neurons": sl.n, "neurons_limit": m.max_neurons_per_pe,
                    "synapses": layout.synapse_counts[sl],
                    "image_bytes": layout.image_sizes[sl],
                    "sram_bytes": layout.sram_bytes[sl], "sram_limit": m.sram_per_pe_bytes})
    chips = []
    for chip in sorted({site.chip for site in layout.sites.values()} | set(layout.tables)):
        chips.append({"chip": list(chip),
                      "pes": sum(1 for s in layout.sites.values() if s.chip == chip),
                      "pes_limit": m.app_pes_per_chip,
                      "routing_entries": len(layout.tables.get(chip, [])),
                      "routing_entries_uncompressed": len(layout.tables_before.get(chip, [])),
                      "routing_entries_limit": m.router_entries})
    return {"target": layout.target,
            "limits": {"chips": m.chips, "pes_per_chip": m.app_pes_per_chip,
                       "sram_per_pe_bytes": m.sram_per_pe_bytes,
                       "reserve_bytes": m.reserve_bytes,
                       "max_neurons_per_pe": m.max_neurons_per_pe,
                       "router_entries": m.router_entries},
            "totals": summary(layout), "pes": pes, "chips": chips}


def _json(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=1, ensure_ascii=True) + "\n").encode()


def write_layout(layout: Layout, out_dir: Path,
                 extra: dict[str, Any] | None = None) -> Artifact:
    """Write ``layout.json``, the resources (plus ``extra`` figures, such as the widths the
    fidelity search chose) and every PE image not already in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resources = {**resources_document(layout), **(extra or {})}
    files: dict[str, bytes] = {"layout.json": _json(layout_document(layout)),
                               RESOURCES_FILE: _json(resources)}
    images = layout.images
    written = isinstance(images, WrittenImages) and images.directory == out_dir
    names = [pe_file(layout.sites[sl].pe_id) for sl in images]
    for name in sorted(files):
        (out_dir / name).write_bytes(files[name])
    if not written:
        for sl, name in zip(images, names, strict=True):
            (out_dir / name).write_bytes(images[sl])
    return Artifact("spinnaker2", out_dir, tuple(sorted([*files, *names])), resources)


def emit(qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact:
    """Build the layout for ``target`` into ``out_dir``: each PE image is written as soon as
    it is encoded, then the layout and resource documents."""
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:  # an error leaves no image behind (build_layout removes those it wrote)
        layout = build_layout(qg, target, out_dir)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return write_layout(layout, out_dir, chosen_widths(qg, target))
