"""The energy report: ``report.md``, ``report.json`` and PNG plots, byte-identical across runs.

Plots (matplotlib, Agg canvas, no global pyplot state, PNG metadata without the software
version): ``energy.png`` per-layer energy of both mappings stacked by component,
``rates.png`` each layer's input spike rate against its crossover rate, and
``crossover.png`` the crossover curve ``s_r*(T)`` of the target and of the paper's "typical
neuromorphic" setting.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnc.cost.analysis import StageCost, analyze, as_json, target_params
from snnc.cost.model import (
    COMPONENTS,
    TYPICAL_NEUROMORPHIC,
    EnergyParams,
    activation_bits,
    crossover_curve,
)
from snnc.ir.layers import Graph
from snnc.reference.integer import latency
from snnc.target import Target

CURVE_STEPS = tuple(range(1, 17))
PAPER_WINDOW = tuple(range(5, 11))  # "T in [5, 10]" of arXiv 2409.08290's abstract
PAPER_WEIGHT_BITS = 4
PLOTS = ("energy.png", "rates.png", "crossover.png")


@dataclass(frozen=True)
class CostReport:
    """Per-layer costs of one model on one target plus the model-level curves."""

    model: str
    target: str
    energy_source: str
    timesteps: int
    calib_samples: int
    stages: tuple[StageCost, ...]
    params: EnergyParams
    weight_bits: int
    curve: tuple[tuple[int, float], ...]
    typical_curve: tuple[tuple[int, float], ...]
    pipeline: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    latency: int = 0  # steps the target's synapses add between input and output
    measured: dict[str, Any] = field(default_factory=dict)  # head -> StageMeasure (--measure)
    measure_ran: bool = False  # --measure was asked for (``measured`` empty: no twin stage)

    @property
    def calibrated(self) -> bool:
        return self.calib_samples > 0

    @property
    def typical_mean_crossover(self) -> float:
        """Mean of the typical-setting crossover over T = 5..10 (the paper's window)."""
        return statistics.fmean(s for t, s in self.typical_curve if t in PAPER_WINDOW)

    def totals(self) -> dict[str, float]:
        """pJ per inference: all-SNN, all-QNN (where a twin exists), the chosen mix."""
        return {
            "snn_pj": math.fsum(s.snn.total for s in self.stages),
            "qnn_where_possible_pj": math.fsum(
                (s.qnn if s.twin_blocker is None else s.snn).total for s in self.stages),
            "chosen_pj": math.fsum(s.chosen.total for s in self.stages),
            "literature_snn_pj": math.fsum(s.literature["snn_pj"] for s in self.stages),
            "literature_ann_pj": math.fsum(s.literature["ann_pj"] for s in self.stages),
        }


def build_report(graph: Graph, target: Target) -> CostReport:
    """Cost ``graph`` (annotated or not) on ``target``."""
    params = target_params(target)
    costs = tuple(analyze(graph, target))
    attrs = graph.input.attrs
    return CostReport(
        model=graph.name, target=target.name, energy_source=params.source,
        timesteps=graph.timesteps, calib_samples=int(attrs.get("calib_samples", 0)),
        stages=costs, params=params, weight_bits=target.numeric.weight_bits,
        curve=tuple(crossover_curve(CURVE_STEPS, params, target.numeric.weight_bits)),
        typical_curve=tuple(crossover_curve(CURVE_STEPS, TYPICAL_NEUROMORPHIC,
                                            PAPER_WEIGHT_BITS)),
        pipeline=tuple(attrs.get("pipeline", ())),
        latency=latency(graph, target.numeric))


def to_dict(report: CostReport) -> dict[str, Any]:
    return {
        "model": report.model, "target": report.target,
        "energy_source": report.energy_source, "timesteps": report.timesteps,
        "latency_steps": report.latency,
        "steps_per_inference": report.timesteps + report.latency,
        "qnn_bits": activation_bits(report.timesteps),
        "calibration_samples": report.calib_samples,
        "units": "pJ per inference (one sample)",
        "layers": [_layer_json(report, s) for s in report.stages],
        "totals": report.totals(),
        "crossover_curve": {"target": [{"T": t, "rate": r} for t, r in report.curve],
                            "typical_neuromorphic_w4": [{"T": t, "rate": r}
                                                        for t, r in report.typical_curve]},
        "typical_mean_crossover_T5_10": report.typical_mean_crossover,
        "pipeline": [dict(p) for p in report.pipeline],
    }


def _layer_json(report: CostReport, stage: StageCost) -> dict[str, Any]:
    """A stage as JSON, with its measured cost when ``--measure`` ran."""
    out = as_json(stage)
    m = report.measured.get(stage.head)
    if m is not None:
        out["measured_cost"] = m.as_json()
        out["measured_choice"] = m.choice
        out["predicted_over_measured"] = {
            "snn": stage.snn.total / m.snn["energy_pj"] if m.snn["energy_pj"] else None,
            "qnn": stage.qnn.total / m.qnn["energy_pj"] if m.qnn["energy_pj"] else None}
    return out


def render_json(report: CostReport) -> str:
    return json.dumps(to_dict(report), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _g(x: float) -> str:
    if isinstance(x, float) and math.isinf(x):
        return "none" if x > 0 else "none (QNN always)"
    return f"{x:.4g}"


def _pct(x: float) -> str:
    return _g(x) if math.isinf(x) else f"{100 * x:.2f} %"


def _md(name: str) -> str:
    """An untrusted model or layer name as inert one-line Markdown: control characters
    escaped, table pipes backslashed (a raw newline or ``|`` would break the tables)."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in name)
    return text.replace("|", "\\|")


def _levels_note(report: CostReport) -> str:
    """Multi-level inputs carry counts up to D per step: their twin needs more bits."""
    levels = sorted({s.shape.max_level for s in report.stages if s.shape.max_level > 1})
    if not levels:
        return ""
    t = report.timesteps
    shown = ", ".join(f"{activation_bits(d * t)} for D = {d}" for d in levels)
    return f"; multi-level inputs ceil(log2(D T + 1)): {shown}"


def _agreement_line(report: Any) -> str:
    """The agreement of the answers of the applied mapping with the all-SNN model."""
    scores = {s.agreement for s in report.stages if s.agreement is not None}
    if not any(s.mapping == "qnn" for s in report.stages):
        return "- mapping applied: every stage SNN (the model's own answers)"
    if not scores:
        return "- mapping applied: QNN twins not checked on data (no calibration data)"
    return (f"- mapping applied: answers agree with the all-SNN model on "
            f"{100 * min(scores):.2f} % of the calibration data")


def render_markdown(report: CostReport) -> str:
    b = activation_bits(report.timesteps)
    lines = [
        f"# Energy report: {_md(report.model)} on {_md(report.target)}", "",
        f"- timesteps T = {report.timesteps}; QNN twin activations b = ceil(log2(T+1)) = {b} "
        "bits (spike inputs)" + _levels_note(report),
        f"- latency: {report.latency} steps from input to output on this target; an inference "
        f"runs T + {report.latency} = {report.timesteps + report.latency} steps and `snnc "
        "simulate` returns its T steps in model time",
        f"- energy parameters: {report.energy_source}",
        f"- activity: measured on {report.calib_samples} calibration samples"
        if report.calibrated else
        "- activity: no calibration data; every layer is costed at an assumed input rate of "
        f"{_pct(report.stages[0].activity.rate_in) if report.stages else '-'}",
        "- energies in pJ per inference (one sample)",
        _agreement_line(report), "",
        "## Mapping per layer", "",
        "| layer | kind | synapses | input rate | gamma | crossover | SNN (dataflow) | QNN | "
        "mapping | reason |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in report.stages:
        lines.append(
            f"| {_md(s.head)} | {s.kind} | {s.shape.synapses} | {_pct(s.activity.rate_in)} | "
            f"{_pct(s.activity.gamma)} | {_pct(s.crossover)} | {_g(s.snn.total)} "
            f"({s.snn_dataflow}) | {_g(s.qnn.total)} | **{s.mapping}** | {s.reason} |")
    lines += ["", "## Energy by component (pJ)", "",
              "| layer | mapping | " + " | ".join(COMPONENTS) + " | total |",
              "|---|---|" + "---:|" * (len(COMPONENTS) + 1)]
    for s in report.stages:
        for label, e in (("SNN", s.snn), ("QNN", s.qnn)):
            lines.append(f"| {_md(s.head)} | {label} | "
                         + " | ".join(_g(getattr(e, c)) for c in COMPONENTS)
                         + f" | {_g(e.total)} |")
    totals = report.totals()
    lines += ["", "## Totals (pJ per inference)", "",
              f"- all layers SNN: {_g(totals['snn_pj'])}",
              f"- QNN wherever a twin exists: {_g(totals['qnn_where_possible_pj'])}",
              f"- chosen mapping: {_g(totals['chosen_pj'])}", "",
              "## Theoretical energy (SNN literature)", "",
              "E = 4.6 pJ x MACs of real-valued layers + 0.9 pJ x synaptic operations "
              "(45 nm, Horowitz 2014), comparable with published SNN papers; a spike of level "
              "s is s operations, products of two activations (attention) are MACs every step; "
              "the ANN column charges 4.6 pJ per MAC once.", "",
              "| layer | MACs | SOPs | SNN pJ | ANN pJ |", "|---|---:|---:|---:|---:|"]
    for s in report.stages:
        lit = s.literature
        lines.append(f"| {_md(s.head)} | {_g(lit['macs'])} | {_g(lit['sops'])} | "
                     f"{_g(lit['snn_pj'])} | {_g(lit['ann_pj'])} |")
    lines.append(f"| total | | | {_g(totals['literature_snn_pj'])} | "
                 f"{_g(totals['literature_ann_pj'])} |")
    if totals["literature_snn_pj"] > 0:
        ratio = totals["literature_ann_pj"] / totals["literature_snn_pj"]
        lines += ["", f"The equivalent ANN needs {ratio:.3g}x the SNN's theoretical energy."]
    lines += ["", "## Crossover spike rate s_r*(T)", "",
              f"Large-fan-in crossover of the sparse dataflow: the SNN is cheaper below it. "
              f"Target column: {report.weight_bits}-bit weights; typical column: the paper's "
              f"typical neuromorphic setting with {PAPER_WEIGHT_BITS}-bit weights "
              f"(mean over T = 5..10: {_pct(report.typical_mean_crossover)}).", "",
              "| T | b | target | typical |", "|---:|---:|---:|---:|"]
    for (t, r), (_, rt) in zip(report.curve, report.typical_curve, strict=True):
        lines.append(f"| {t} | {activation_bits(t)} | {_pct(r)} | {_pct(rt)} |")
    if report.measured:
        lines += ["", "## Measured on the target", "",
                  "Both mappings compiled and run on the target's own executor "
                  "(`snnc report --measure`, docs/cost-model.md); energies in pJ per inference.",
                  "", "| layer | predicted SNN | measured SNN | predicted QNN | measured QNN | "
                  "predicted choice | measured choice |", "|---|---:|---:|---:|---:|---|---|"]
        for s in report.stages:
            m = report.measured.get(s.head)
            if m is None:
                continue
            predicted = "qnn" if s.qnn.total < s.snn.total else "snn"
            lines.append(f"| {_md(s.head)} | {_g(s.snn.total)} | {_g(m.snn['energy_pj'])} | "
                         f"{_g(s.qnn.total)} | {_g(m.qnn['energy_pj'])} | {predicted} | "
                         f"{m.choice} |")
    elif report.measure_ran:
        lines += ["", "## Measured on the target", "",
                  "No stage has a QNN twin: both mappings are the same program, nothing to "
                  "measure."]
    if report.pipeline:
        lines += ["", "## Passes", ""]
        lines += [f"{i + 1}. {p['pass']}: {p['check']}" for i, p in enumerate(report.pipeline)]
    lines += ["", "Plots: " + ", ".join(PLOTS), ""]
    return "\n".join(lines)


def write_report(report: CostReport, out_dir: str | Path, plots: bool = True) -> list[Path]:
    """Write ``report.md``, ``report.json`` and (``plots``) the PNGs into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.md", out / "report.json"]
    written[0].write_text(render_markdown(report), encoding="utf-8")
    written[1].write_text(render_json(report), encoding="utf-8")
    if plots:
        from snnc.cost import plots as plotting

        written += plotting.write_plots(report, out)
    return written
