"""The SNN-vs-QNN energy model, the per-layer mapping choice and the energy report.

``snnc.cost.report(graph, target)`` costs every layer; write the result with
``snnc.cost.write_report`` (also reachable as ``snnc.cost.report.write_report``).
"""

from __future__ import annotations

from snnc.cost.report import CostReport, build_report, render_json, render_markdown, write_report
from snnc.ir.layers import Graph
from snnc.target import Target, load_target


def report(graph: Graph, target: str | Target) -> CostReport:
    """Per-layer SNN and QNN energy, crossover rate and mapping of ``graph`` on ``target``.

    Layers carry the spike rates measured by :func:`snnc.passes.calibrate.calibrate` (run by
    ``snnc.passes.pipeline.optimize`` when it is given calibration inputs); without them they
    are costed at an assumed rate and the report says so.
    """
    t = target if isinstance(target, Target) else load_target(target)
    return build_report(graph, t)


# This function shadows the submodule of the same name once the package is imported; keep the
# submodule's entry point reachable through it so both spellings work.
report.write_report = write_report  # type: ignore[attr-defined]

__all__ = ["CostReport", "build_report", "render_json", "render_markdown", "report",
           "write_report"]
