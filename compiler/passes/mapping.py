"""Mapping pass: annotate every stage with ``mapping = "snn" | "qnn"`` and the reason.

The head layer and the weight layers of each stage get ``mapping`` (and ``cost_choice``, the
same value, which ``snnc.passes.mapping_guard`` keeps when it overrules the choice),
``mapping_reason``, ``energy_snn_pj``, ``energy_qnn_pj`` and ``crossover_rate`` from the
target's energy model (:mod:`snnc.cost`). ``mode`` is ``auto`` (cheaper mapping), ``snn`` or
``qnn`` (forced where a QNN twin exists).

Preserves: everything the graph computes (annotations only). Executing a stage as QNN is a
separate, explicit step (``snnc.passes.snn_to_qnn.convert``); it keeps the layer's spike
counts exactly when the twin is exact (``twin_note`` says whether it is on the calibration data).
"""

from __future__ import annotations

from snnc.cost.analysis import analyze
from snnc.cost.mapping import check_mode
from snnc.ir.layers import Graph
from snnc.target import Target


def assign_mapping(graph: Graph, target: Target, mode: str = "auto") -> Graph:
    """Annotate the per-stage mapping decided by the cost model for ``target``."""
    check_mode(mode)
    annotated = {lay.name: lay for lay in graph.layers}
    for cost in analyze(graph, target, mode):
        attrs = {"mapping": cost.mapping, "cost_choice": cost.mapping,
                 "mapping_reason": cost.reason,
                 "energy_snn_pj": cost.snn.total, "energy_qnn_pj": cost.qnn.total,
                 "crossover_rate": cost.crossover}
        for name in (cost.head, *cost.members):
            lay = annotated[name]
            if name == cost.head or lay.kind in ("dense", "conv2d"):
                annotated[name] = lay.with_attrs(**attrs)
    return graph.replace_layers([annotated[lay.name] for lay in graph.layers])
