"""Does the energy model pick the mapping that measures cheaper? A sweep over input rates.

For each target with measured counters (cortex-m4: QEMU instructions of the generated C;
spinnaker2: the layout simulator's packets, synaptic events, MACs, SRAM reads and neuron updates;
loihi2: the synaptic operations, messages and neuron updates of the Lava run) and each network (a
synthetic 96-160-10 LIF net and the digits demo), the calibration inputs are scaled so that the
rate-coded input rate sweeps RATE_SCALES; at every point ``snnc report --measure`` compiles both
mappings, runs them and prices the counters. A (stage, rate) point agrees when the mapping the
model predicts cheaper is the one measured cheaper. The script prints a table, draws
``benchmarks/results/energy_truth.png`` and writes ``benchmarks/results/energy_truth.json``; the
goal is agreement on at least 90 % of the points and predicted/measured energy within 2x.

    .venv/bin/python benchmarks/energy_truth.py [--quick] [--targets cortex-m4,spinnaker2,loihi2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from snnc import api
from snnc.ir.layers import LIF, Dense, Graph, Input

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RATE_SCALES = (0.1, 0.25, 0.5, 0.75, 1.0)
QUICK_SCALES = (0.25, 1.0)
SAMPLES = 8
GOAL_AGREEMENT = 0.9


def synthetic(seed: int = 3) -> Graph:
    rng = np.random.default_rng(seed)
    w1 = (rng.normal(0.02, 1, (160, 96)) * np.sqrt(2 / 96)).astype(np.float32)
    w2 = (rng.normal(0.02, 1, (10, 160)) * np.sqrt(2 / 160)).astype(np.float32)
    return Graph((
        Input("x", (), shape=(96,)),
        Dense("fc1", ("x",), weight=w1),
        LIF("h", ("fc1",), beta=np.float32(0.9), threshold=np.float32(0.5)),
        Dense("fc2", ("h",), weight=w2),
        LIF("out", ("fc2",), beta=np.float32(1.0), threshold=np.float32(1.0),
            reset="subtract"),
    ), output="out", timesteps=8, encoding="rate", name="synthetic")


def networks() -> dict[str, tuple[Graph, np.ndarray]]:
    digits = api.load(ROOT / "examples" / "digits" / "digits.onnx")
    x_digits = np.load(ROOT / "examples" / "digits" / "calib_x.npy")[:SAMPLES]
    x_syn = np.random.default_rng(0).random((SAMPLES, 96)).astype(np.float32)
    return {"synthetic": (synthetic(), x_syn), "digits": (digits, x_digits)}


def sweep(target: str, scales: tuple[float, ...]) -> list[dict[str, Any]]:
    points = []
    for net, (graph, x) in networks().items():
        for scale in scales:
            calib = np.clip(x * scale, 0, 1).astype(np.float32)
            report = api.report(graph, target, calib=calib, measure=True)
            for stage in report.stages:
                m = report.measured.get(stage.head)
                if m is None:
                    continue
                predicted = "qnn" if stage.qnn.total < stage.snn.total else "snn"
                points.append({
                    "target": target, "net": net, "scale": scale, "stage": stage.head,
                    "rate_in": round(stage.activity.rate_in, 4),
                    "predicted_snn_pj": stage.snn.total, "predicted_qnn_pj": stage.qnn.total,
                    "measured_snn_pj": m.snn["energy_pj"], "measured_qnn_pj": m.qnn["energy_pj"],
                    "predicted": predicted, "measured": m.choice,
                    "agree": predicted == m.choice})
    return points


def summary(points: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in sorted({p["target"] for p in points}):
        mine = [p for p in points if p["target"] == target]
        ratios = [p[f"predicted_{m}_pj"] / p[f"measured_{m}_pj"] for p in mine
                  for m in ("snn", "qnn")]
        out[target] = {"points": len(mine),
                       "agreement": sum(p["agree"] for p in mine) / len(mine),
                       "ratio_min": min(ratios), "ratio_max": max(ratios),
                       "within_2x": sum(0.5 <= r <= 2 for r in ratios) / len(ratios)}
    return out


def plot(points: list[dict[str, Any]], path: Path) -> None:
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for target, marker in (("cortex-m4", "o"), ("spinnaker2", "s"), ("loihi2", "^")):
        for mapping, color in (("snn", "#4c72b0"), ("qnn", "#c44e52")):
            mine = [p for p in points if p["target"] == target]
            if mine:
                ax.scatter([p[f"measured_{mapping}_pj"] for p in mine],
                           [p[f"predicted_{mapping}_pj"] for p in mine], marker=marker,
                           color=color, label=f"{target} {mapping.upper()}", s=18)
    values = [p[k] for p in points for k in ("measured_snn_pj", "predicted_snn_pj",
                                              "measured_qnn_pj", "predicted_qnn_pj")]
    lo, hi = min(values) / 2, max(values) * 2
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=1)
    ax.plot([lo, hi], [2 * lo, 2 * hi], "k:", linewidth=0.8)
    ax.plot([lo, hi], [lo / 2, hi / 2], "k:", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured energy (pJ per inference)")
    ax.set_ylabel("predicted energy (pJ per inference)")
    ax.set_title("energy model against measurement, per stage and input rate")
    ax.legend(fontsize=7)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--targets", default="cortex-m4,spinnaker2,loihi2")
    parser.add_argument("--out", default=str(RESULTS / "energy_truth.json"))
    args = parser.parse_args(argv)
    scales = QUICK_SCALES if args.quick else RATE_SCALES
    points = [p for t in args.targets.split(",") for p in sweep(t, scales)]
    result = {"scales": list(scales), "samples": SAMPLES, "points": points,
              "summary": summary(points), "goal_agreement": GOAL_AGREEMENT}
    print("| target | (stage, rate) points | choice agreement | predicted/measured | "
          "within 2x |\n|---|---:|---:|---|---:|")
    for target, s in result["summary"].items():
        print(f"| {target} | {s['points']} | {100 * s['agreement']:.1f} % | "
              f"{s['ratio_min']:.2f} .. {s['ratio_max']:.2f} | {100 * s['within_2x']:.0f} % |")
    Path(args.out).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    plot(points, Path(args.out).with_suffix(".png"))
    ok = all(s["agreement"] >= GOAL_AGREEMENT for s in result["summary"].values())
    print("goal met" if ok else "goal missed: see the points in the JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
