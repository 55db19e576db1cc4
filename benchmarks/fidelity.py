"""Spike agreement of every integer target with the float model, on real exports and the demos.

For every framework fixture (``tests/fixtures/**/<name>.npz`` holding the framework's input ``x``
and its own ``spikes``, next to ``<name>.onnx`` and/or ``<name>.nir``) the model is loaded, its
float run checked against the recorded spikes, and each target's integer reference compared
with them, latency aligned (``snnc.passes.fidelity.spike_agreement``), once with the
range-based scales and once with the scales chosen on the same inputs (``snnc.api.quantize``
with calibration data). The demos are measured against their float model on their test inputs.
Prints a table and writes ``benchmarks/results/fidelity.json``.

    .venv/bin/python benchmarks/fidelity.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from snnc import api
from snnc.errors import SnncError
from snnc.frontend.nir import PRESETS, load_nir
from snnc.frontend.onnx import import_onnx
from snnc.ir.layers import Graph
from snnc.passes.fidelity import spike_agreement
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.reference.simulate import Trace, run_graph
from snnc.target import load_target

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = ("cortex-m4", "spinnaker2", "loihi2")
GOALS = {"cortex-m4": 0.99, "spinnaker2": 0.99, "loihi2": 0.97}
MINIMUM = 0.95


def _readings(name: str) -> list[str]:
    """NIR readings to try, the framework's own first (the one that reproduces its spikes)."""
    own = [r for r in PRESETS if name.startswith(r)]
    return [*own, *(r for r in PRESETS if r not in own)]


def fixture_models(root: Path) -> list[tuple[str, Graph, np.ndarray, np.ndarray]]:
    """(label, graph, x, framework spikes) for every export whose float run reproduces the
    framework's spikes exactly (others would measure the frontend, not the quantizer)."""
    found = []
    for rec in sorted(root.rglob("*.npz")):
        with np.load(rec) as data:
            if "x" not in data.files or "spikes" not in data.files:
                continue
            x, spikes = data["x"], data["spikes"]
        for path in (rec.with_suffix(".onnx"), rec.with_suffix(".nir")):
            if not path.is_file():
                continue
            loaders = ([lambda p=path: import_onnx(p).graph] if path.suffix == ".onnx" else
                       [lambda p=path, r=r: load_nir(p, r) for r in _readings(rec.stem)])
            for load in loaders:
                try:
                    graph = load()
                    out = run_graph(graph, x, record=False).output
                except (SnncError, ValueError):
                    continue
                if out.shape == spikes.shape and np.array_equal(out, spikes):
                    found.append((path.name, graph, x, spikes))
                    break
    return found


def demo_models() -> list[tuple[str, Graph, np.ndarray, np.ndarray]]:
    graph = api.load(ROOT / "examples" / "digits" / "digits.onnx")
    x = np.load(ROOT / "examples" / "digits" / "test_x.npy")[:64]
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    return [("digits (demo)", graph, x, drive)]


def _agreement(graph: Graph, target: str, x: np.ndarray, drive: np.ndarray,
               reference: Trace, chosen: bool) -> float:
    t = load_target(target)
    qg = api.quantize(graph, t, calib=x) if chosen else quantize(graph, t.numeric, calib=x)
    values = spike_agreement(qg.graph, t.numeric, reference, run_quantized(qg, drive))
    return float(np.mean(list(values.values())))


def measure() -> dict[str, Any]:
    rows = []
    for label, graph, x, extra in fixture_models(ROOT / "tests" / "fixtures") + demo_models():
        demo = label.endswith("(demo)")
        drive = extra if demo else x
        reference = run_graph(graph, drive, record=True)
        if not demo:  # the framework's own spikes are the reference's output (checked above)
            assert np.array_equal(reference.output, extra)
        row: dict[str, Any] = {"model": label, "demo": demo}
        for target in TARGETS:
            row[target] = {"range": _agreement(graph, target, x, drive, reference, False),
                           "chosen": _agreement(graph, target, x, drive, reference, True)}
        rows.append(row)
    summary = {}
    exports = [r for r in rows if not r["demo"]]
    for target in TARGETS:
        for kind in ("range", "chosen"):
            values = [r[target][kind] for r in exports]
            summary[f"{target}/{kind}"] = {"mean": float(np.mean(values)),
                                           "min": float(np.min(values))}
    return {"rows": rows, "summary": summary, "goals": GOALS, "minimum_goal": MINIMUM}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    start = time.perf_counter()
    result = measure()
    result["seconds"] = round(time.perf_counter() - start, 1)
    header = f"{'model':38s}" + "".join(f"{t:>24s}" for t in TARGETS)
    print(header + "\n" + " " * 38 + "".join(f"{'range -> chosen':>24s}" for _ in TARGETS))
    for row in result["rows"]:
        cells = "".join(f"{row[t]['range']:>15.4f} -> {row[t]['chosen']:.4f}" for t in TARGETS)
        print(f"{row['model']:38s}{cells}")
    for target in TARGETS:
        s = result["summary"][f"{target}/chosen"]
        r = result["summary"][f"{target}/range"]
        met = s["mean"] >= GOALS[target] and s["min"] >= MINIMUM
        print(f"{target}: exports mean {r['mean']:.4f} -> {s['mean']:.4f}, min {r['min']:.4f} "
              f"-> {s['min']:.4f} (goal mean >= {GOALS[target]}, min >= {MINIMUM}: "
              f"{'met' if met else 'not met'})")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fidelity.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
