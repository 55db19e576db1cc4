"""Spike agreement of every integer target with the float model, over the exporter matrix and
the demos.

Models measured:

- every cell of the exporter matrix (``tests/fixtures/matrix``, written by the frameworks' own
  modules and exporters, see ``tests/fixtures/matrix.py``) whose float reference reproduces
  onnxruntime on the exported graph bit for bit (the cells ``benchmarks/exporters.py`` marks
  ``exact``; the check is repeated here), on its recorded input;
- the demos ``digits`` (64 test inputs) and ``spikeformer`` (32 test utterances).

Per model and target the integer reference runs in model time (``T + latency`` steps, as
``snnc simulate``) and is compared with the float model, latency aligned
(``snnc.passes.fidelity.spike_agreement``, mean over the neuron layers), once with the
range-based scales and once with the scales ``snnc.api.quantize`` chooses on the same inputs
(which widens weights and inputs where 8 bits stay below 0.95: the widths it chose are recorded
per model). The goal (mean >= 0.99 on cortex-m4 and spinnaker2, >= 0.97 on loihi2, every model
>= 0.95) is judged over the whole matrix, Sinabs ``MultiSpike`` cells (graded spikes) included,
and the demos; the MultiSpike cells are also summarized on their own. Prints a table and writes
``benchmarks/results/fidelity.json`` and the summary between the markers in
``docs/numerics.md``.

    .venv/bin/python benchmarks/fidelity.py [--only PREFIX ...] [--no-doc]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from snnc import api
from snnc.errors import SnncError
from snnc.frontend.onnx import import_onnx
from snnc.ir.layers import Graph
from snnc.passes.fidelity import spike_agreement
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.simulate import Trace, run_graph
from snnc.reference.timing import model_drive
from snnc.target import load_target

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exporters import as_exported, drive_of  # the matrix's input layouts

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "tests" / "fixtures" / "matrix"
RESULTS = Path(__file__).resolve().parent / "results"
DOC = ROOT / "docs" / "numerics.md"
BEGIN, END = "<!-- fidelity:begin -->", "<!-- fidelity:end -->"
TARGETS = ("cortex-m4", "spinnaker2", "loihi2")
GOALS = {"cortex-m4": 0.99, "spinnaker2": 0.99, "loihi2": 0.97}
MINIMUM = 0.95
WORST = 6
Model = tuple[str, str, Graph, np.ndarray, np.ndarray]  # label, group, graph, calib, drive


def is_multispike(cell: str) -> bool:
    """Sinabs ``MultiSpike`` cells (graded spikes), also summarized on their own."""
    return "_multispike_" in cell


def matrix_models(only: list[str]) -> list[Model]:
    """Every matrix cell whose float reference equals onnxruntime's output bit for bit (others
    would measure the frontend, not the quantizer), with its recorded input as the drive."""
    found = []
    for onnx in sorted(MATRIX.glob("*.onnx")):
        if only and not any(onnx.stem.startswith(p) for p in only):
            continue
        with np.load(onnx.with_suffix(".npz")) as data:
            x, ort_out = data["x"], data["ort"]
        try:
            graph = import_onnx(onnx).graph
        except SnncError:
            continue
        drive = drive_of(graph, x)
        out = as_exported(graph, run_graph(graph, drive, record=False).output)
        if out.shape == ort_out.shape and np.array_equal(out, ort_out):
            found.append((onnx.stem, "matrix", graph, drive, drive))
    return found


def demo_models(only: list[str]) -> list[Model]:
    found = []
    for name, model, samples in (("digits", "digits.onnx", 64), ("spikeformer", "model.onnx", 32)):
        if only and not any(name.startswith(p) for p in only):
            continue
        graph = api.load(ROOT / "examples" / name / model)
        x = np.load(ROOT / "examples" / name / "test_x.npy")[:samples]
        drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
        found.append((f"{name} (demo)", "demo", graph, x, drive))
    return found


def _agreement(graph: Graph, target: str, calib: np.ndarray, drive: np.ndarray,
               reference: Trace, chosen: bool) -> tuple[float, dict[str, Any]]:
    """Mean agreement over the neuron layers, and the widths where the search widened."""
    t = load_target(target)
    qg = (api.quantize(graph, t, calib=calib) if chosen
          else quantize(graph, t.numeric, calib=calib, target=t.name))
    # model time: T + latency steps, the input going on as its encoding defines (as simulate)
    timed = model_drive(calib, drive.shape[0], latency(qg.graph, t.numeric), graph.encoding,
                        graph.input.shape)
    values = spike_agreement(qg.graph, t.numeric, reference, run_quantized(qg, timed))
    widths: dict[str, Any] = {}
    if qg.widened or qg.profile.input_bits != t.numeric.input_bits:
        widths = {"input_bits": qg.profile.input_bits, "weight_bits": dict(qg.widened)}
    return (float(np.mean(list(values.values()))) if values else 1.0), widths


def measure_model(model: Model) -> dict[str, Any]:
    label, group, graph, calib, drive = model
    reference = run_graph(graph, drive, record=True)
    row: dict[str, Any] = {"model": label, "group": group}
    for target in TARGETS:
        try:
            ranged, _ = _agreement(graph, target, calib, drive, reference, False)
            chosen, widths = _agreement(graph, target, calib, drive, reference, True)
            row[target] = {"range": ranged, "chosen": chosen}
            if widths:
                row[target]["widths"] = widths
        except SnncError as exc:  # the target refuses a layer: named, not measured
            row[target] = {"refused": " ".join(str(exc).split())[:160]}
    return row


def summarize(rows: list[dict[str, Any]], groups: tuple[str, ...],
              multispike: bool | None = None) -> dict[str, Any]:
    """Per target and kind: mean, min and the worst models over ``groups`` (only the
    MultiSpike cells, or only the others, when ``multispike`` says so)."""
    out: dict[str, Any] = {}
    for target in TARGETS:
        scored = [r for r in rows if r["group"] in groups and "chosen" in r[target]
                  and (multispike is None or is_multispike(r["model"]) == multispike)]
        if not scored:
            continue
        for kind in ("range", "chosen"):
            values = np.array([r[target][kind] for r in scored])
            worst = sorted(scored, key=lambda r: r[target][kind])[:WORST]
            out[f"{target}/{kind}"] = {
                "mean": float(values.mean()), "min": float(values.min()), "models": len(scored),
                "below_minimum": int(np.sum(values < MINIMUM)),
                "worst": [[r["model"], round(r[target][kind], 4)] for r in worst]}
    return out


def met(summary: dict[str, Any], target: str) -> bool:
    s = summary[f"{target}/chosen"]
    return s["mean"] >= GOALS[target] and s["min"] >= MINIMUM


def doc_table(result: dict[str, Any]) -> str:
    goal, multi = result["summary"], result["summary_multispike"]
    lines = ["| target | models | mean (range -> chosen) | min (range -> chosen) | below 0.95 "
             "| goal | worst (chosen) |", "|---|---|---|---|---|---|---|"]
    for target in TARGETS:
        r, c = goal[f"{target}/range"], goal[f"{target}/chosen"]
        worst = ", ".join(f"{m} {v:.3f}" for m, v in c["worst"][:3])
        lines.append(f"| {target} | {c['models']} | {r['mean']:.4f} -> {c['mean']:.4f} "
                     f"| {r['min']:.4f} -> {c['min']:.4f} | {c['below_minimum']} "
                     f"| {GOALS[target]} / {MINIMUM}: {'met' if met(goal, target) else 'not met'} "
                     f"| {worst} |")
    matrix = result.get("summary_matrix", {})
    for target in TARGETS:
        if f"{target}/chosen" in matrix:
            r, c = matrix[f"{target}/range"], matrix[f"{target}/chosen"]
            lines.append(f"| {target}, exporter matrix only | {c['models']} | {r['mean']:.4f} -> "
                         f"{c['mean']:.4f} | {r['min']:.4f} -> {c['min']:.4f} "
                         f"| {c['below_minimum']} | | |")
    for target in TARGETS:
        if f"{target}/chosen" in multi:
            r, c = multi[f"{target}/range"], multi[f"{target}/chosen"]
            lines.append(f"| {target}, of which Sinabs MultiSpike | {c['models']} "
                         f"| {r['mean']:.4f} -> {c['mean']:.4f} | {r['min']:.4f} -> "
                         f"{c['min']:.4f} | {c['below_minimum']} | | |")
    widened = [f"{row['model']} on {t}: input {row[t]['widths']['input_bits']} bits, "
               f"{len(row[t]['widths']['weight_bits'])} weight layers at "
               f"{'/'.join(str(b) for b in sorted(set(row[t]['widths']['weight_bits'].values())))}"
               " bits" for row in result["rows"] for t in TARGETS if "widths" in row[t]]
    if widened:
        lines += ["", "Widened by the search (chosen): " + "; ".join(widened) + "."]
    return "\n".join(lines)


def write_doc(table: str) -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        return
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{rest.split(END, 1)[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="model name prefixes")
    parser.add_argument("--no-doc", action="store_true", help="leave docs/numerics.md as is")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    print(f"{'model':44s}" + "".join(f"{t + ' range -> chosen':>28s}" for t in TARGETS))
    for model in matrix_models(args.only) + demo_models(args.only):
        row = measure_model(model)
        rows.append(row)
        cells = "".join(f"{row[t]['range']:>19.4f} -> {row[t]['chosen']:.4f}" if "chosen" in row[t]
                        else f"{'refused':>28s}" for t in TARGETS)
        print(f"{row['model']:44s}{cells}", flush=True)
    result: dict[str, Any] = {
        "rows": rows, "summary": summarize(rows, ("matrix", "demo")),
        "summary_matrix": summarize(rows, ("matrix",)),
        "summary_multispike": summarize(rows, ("matrix",), multispike=True), "goals": GOALS,
        "minimum_goal": MINIMUM, "seconds": round(time.perf_counter() - start, 1)}
    table = doc_table(result) if result["summary"] else ""
    print(table)
    if args.only:
        return  # a partial run neither records nor documents
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fidelity.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    if not args.no_doc:
        write_doc(table)


if __name__ == "__main__":
    main()
