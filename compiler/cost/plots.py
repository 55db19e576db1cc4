"""PNG plots of a :class:`snnc.cost.report.CostReport`.

Figures are drawn on an Agg canvas without pyplot (no global state, no display needed) and
saved without the "Software" metadata entry, so identical reports give identical bytes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from snnc.cost.model import COMPONENTS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from snnc.cost.report import CostReport

_COLORS = {"compute": "#4c72b0", "activation": "#55a868", "weights": "#c44e52",
           "noc": "#8172b2"}
_DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def _per_stage(report: CostReport, height: float) -> tuple[Figure, Axes, list[str], np.ndarray]:
    """A figure with one x position per stage, wide enough for their names: the figure, its
    axes, the names and the positions."""
    names = [s.head for s in report.stages]
    fig = Figure(figsize=(max(6.0, 1.2 * len(names) + 2), height))
    return fig, fig.add_subplot(), names, np.arange(len(names), dtype=float)


def energy_plot(report: CostReport) -> Figure:
    """Per layer, two stacked bars (SNN, QNN) split by energy component."""
    fig, ax, names, x = _per_stage(report, 4.5)
    width = 0.38
    for offset, label in ((-width / 2, "SNN"), (width / 2, "QNN")):
        bottom = np.zeros(len(names))
        for comp in COMPONENTS:
            values = np.array([getattr(s.snn if label == "SNN" else s.qnn, comp)
                               for s in report.stages]) / 1000.0
            ax.bar(x + offset, values, width, bottom=bottom, color=_COLORS[comp],
                   edgecolor="black", linewidth=0.4,
                   label=comp if label == "SNN" else None,
                   hatch=None if label == "SNN" else "//")
            bottom += values
    for i, s in enumerate(report.stages):
        ax.annotate(f"chosen: {s.mapping.upper()}", (x[i], 0), xytext=(0, -28),
                    textcoords="offset points",
                    ha="center", fontsize=8, annotation_clip=False)
    ax.set_xticks(x, names, rotation=0, fontsize=8)
    ax.set_ylabel("energy per inference (nJ)")
    ax.set_title(f"{report.model} on {report.target}: SNN (plain) vs QNN (hatched)")
    ax.legend(fontsize=8)
    fig.subplots_adjust(bottom=0.2)
    return fig


def rates_plot(report: CostReport) -> Figure:
    """Per layer: measured input rate and the crossover rate (SNN wins below it)."""
    fig, ax, names, x = _per_stage(report, 4.0)
    rates = [100 * s.activity.rate_in for s in report.stages]
    cross = [100 * min(max(s.crossover, 0.0), 1.0) if not math.isinf(s.crossover)
             else np.nan for s in report.stages]
    ax.bar(x, rates, 0.5, color="#4c72b0", label="input spike rate")
    ax.scatter(x, cross, marker="_", s=900, color="#c44e52", linewidths=3,
               label="crossover rate", zorder=3)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("% spikes per input per step")
    ax.set_title("input spike rate vs crossover (SNN cheaper below the red mark)")
    ax.legend(fontsize=8)
    return fig


def crossover_plot(report: CostReport) -> Figure:
    """The crossover curve ``s_r*(T)`` of the target and of the typical setting."""
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    t = [p[0] for p in report.curve]
    ax.plot(t, [100 * p[1] for p in report.curve], "o-", color="#c44e52",
            label=f"{report.target} ({report.weight_bits}-bit weights)")
    ax.plot(t, [100 * p[1] for p in report.typical_curve], "s--", color="#4c72b0",
            label="typical neuromorphic (4-bit weights)")
    ax.axvspan(5, 10, color="0.9", zorder=0)
    ax.axhline(100 * report.typical_mean_crossover, color="#4c72b0", linewidth=0.8,
               linestyle=":",
               label=f"typical mean, T=5..10: {100 * report.typical_mean_crossover:.2f} %")
    ax.set_xlabel("timesteps T")
    ax.set_ylabel("crossover spike rate s_r* (%)")
    ax.set_title("SNN beats its QNN twin below the curve")
    ax.legend(fontsize=8)
    return fig


def measured_plot(report: CostReport) -> Figure:
    """Predicted against measured energy per stage and mapping (log-log, y = x dashed, the
    2x band dotted)."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    points = []
    for s in report.stages:
        m = report.measured.get(s.head)
        if m is None:
            continue
        for label, predicted, measured, marker in (("SNN", s.snn.total, m.snn["energy_pj"], "o"),
                                                   ("QNN", s.qnn.total, m.qnn["energy_pj"], "s")):
            ax.scatter([measured], [predicted], marker=marker, label=f"{s.head} {label}")
            points += [predicted, measured]
    if points:
        lo, hi = min(p for p in points if p > 0) / 3, max(points) * 3
        ax.plot([lo, hi], [lo, hi], "k--", linewidth=1)
        ax.plot([lo, hi], [2 * lo, 2 * hi], "k:", linewidth=0.8)
        ax.plot([lo, hi], [lo / 2, hi / 2], "k:", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("measured energy (pJ per inference)")
    ax.set_ylabel("predicted energy (pJ per inference)")
    ax.set_title(f"{report.model} on {report.target}: model vs measurement")
    ax.legend(fontsize=7)
    return fig


def write_plots(report: CostReport, out_dir: Path) -> list[Path]:
    written = [_save(energy_plot(report), out_dir / "energy.png"),
               _save(rates_plot(report), out_dir / "rates.png"),
               _save(crossover_plot(report), out_dir / "crossover.png")]
    if report.measured:
        written.append(_save(measured_plot(report), out_dir / "measured.png"))
    return written
