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
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from snnc import api

HERE = Path(__file__).resolve().parent
MODEL = HERE / "gestures.onnx"
X, Y, CALIB = HERE / "test_x.npy", HERE / "test_y.npy", HERE / "calib_x.npy"
OUT = Path("out") / "gestures"
RUNS = (("xylo-audio2", "xylosim"), ("xylo-imu", "xylosim"), ("cortex-m4", "host"),
        ("loihi2", "lava"), ("spinnaker2", "spinnaker2"))
console = Console(highlight=False, width=120)


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cli(*args: str) -> None:
    """Run one snnc command the way a user would, echoing it first."""
    snnc = Path(sys.executable).with_name("snnc")
    console.print(f"\n[bold]$ snnc {' '.join(shlex.quote(a) for a in args)}[/bold]")
    subprocess.run([str(snnc), *args], check=True)


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
    cli("inspect", rel(MODEL))
    cli("simulate", rel(MODEL), "--input", rel(X), "--labels", rel(Y))
    cli("compile", rel(MODEL), "--target", "all", "--calib", rel(CALIB), "-o", str(OUT))
    graph = api.load(MODEL)
    float_acc = float(np.mean(api.predict(api.simulate(graph, x)) == y))
    table = Table(title=f"gestures: 12-24(rec)-6 CubaLIF, T={graph.timesteps}, {len(y)} test "
                        f"gestures; float reference accuracy {100 * float_acc:.2f} %")
    for col in ("target", "runs on", "accuracy", "bit-exact", "energy", "resources"):
        table.add_column(col)
    ok = True
    for target_name, runner in RUNS:
        target = api.as_target(target_name)
        ref = api.simulate(graph, x, target=target, calib=calib)
        start = time.perf_counter()
        got = api.simulate(graph, x, target=target, backend=runner, calib=calib)
        seconds = time.perf_counter() - start
        same = ref.arrays().keys() == got.arrays().keys() and all(
            np.array_equal(a, got.arrays()[k]) for k, a in ref.arrays().items())
        ok = ok and same
        result = api.compile(graph, target, Path(OUT) / "single" / target_name, calib=calib)
        report = json.loads((result.artifact.out_dir / "report.json").read_text())
        table.add_row(target_name, f"{runner} ({seconds:.1f} s)",
                      f"{100 * np.mean(api.predict(got) == y):.2f} %",
                      "yes" if same else "NO",
                      f"{report['totals']['chosen_pj'] / 1000:.1f} nJ/inf",
                      resources(target_name, result.artifact.resources))
    console.print()
    console.print(table)
    if not ok:
        console.print("[red]a backend differs from the integer reference[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
