"""The gestures demo (`make demo`): a Xylo-sized model on Xylo and on every other backend.

Runs the CLI on the committed model (inspect, float simulation with accuracy, compile for every
target: Akida is skipped with its reason, since the model reads real-valued IMU channels, not
spike counts), then runs each target's artifact — the Xylo specifications in rockpool's XyloSim
(xylosim), the C project on the host, the Lava network, the SpiNNaker-2 images — on the 600
held-out gestures, checks every output, spike and membrane bit for bit against the target's
integer reference, and prints accuracy, energy and resources per target.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

from snnc import api

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the demos' shared helpers, examples/_common.py
from _common import cli, finish, rel, results_table, run_backend  # noqa: E402

MODEL = HERE / "gestures.onnx"
X, Y, CALIB = HERE / "test_x.npy", HERE / "test_y.npy", HERE / "calib_x.npy"
OUT = Path("out") / "gestures"
RUNS = (("xylo-audio2", "xylosim"), ("xylo-imu", "xylosim"), ("cortex-m4", "host"),
        ("loihi2", "lava"), ("spinnaker2", "spinnaker2"))
console = Console(highlight=False, width=120)


def resources(target: str, figures: dict) -> str:
    if target.startswith("xylo"):
        return (f"{figures['hidden_neurons']} hidden + {figures['readout_neurons']} readout "
                f"neurons, {figures['synapses']} synapses")
    if target == "loihi2":
        return f"{figures['cores_used']} cores"
    if target == "spinnaker2":
        return f"{figures['totals']['pes']} PEs"
    return "static C"


def main() -> None:
    x, y, calib = np.load(X), np.load(Y), np.load(CALIB)
    cli(console, "inspect", rel(MODEL))
    cli(console, "simulate", rel(MODEL), "--input", rel(X), "--labels", rel(Y))
    cli(console, "compile", rel(MODEL), "--target", "all", "--calib", rel(CALIB), "-o", str(OUT))
    graph = api.load(MODEL)
    float_acc = float(np.mean(api.predict(api.simulate(graph, x)) == y))
    table = results_table(
        f"gestures: 12-24(rec)-6 CubaLIF, T={graph.timesteps}, {len(y)} test gestures; "
        f"float reference accuracy {100 * float_acc:.2f} %",
        ("target", "runs on", "accuracy", "bit-exact", "energy", "resources"))
    ok = True
    for target_name, runner in RUNS:
        target = api.as_target(target_name)
        run = run_backend(graph, x, target, runner, calib)
        ok = ok and run.exact
        result = api.compile(graph, target, Path(OUT) / "single" / target_name, calib=calib)
        report = json.loads((result.artifact.out_dir / "report.json").read_text())
        table.add_row(target_name, f"{runner} ({run.seconds:.1f} s)",
                      f"{100 * np.mean(api.predict(run.trace) == y):.2f} %",
                      "yes" if run.exact else "NO",
                      f"{report['totals']['chosen_pj'] / 1000:.1f} nJ/inf",
                      resources(target_name, result.artifact.resources))
    finish(console, table, ok)


if __name__ == "__main__":
    main()
