"""The spikeformer demo: the committed IML-Spikeformer-style model on every backend.

Compiles ``model.onnx`` for every target with the CLI, runs each target's artifact (the C
project on the host and under QEMU, the Lava network, the SpiNNaker-2 images in the layout
simulator) on the 250 held-out utterances of unseen voices, checks every level of every layer
bit for bit against the integer reference, and prints accuracy, energy (with the equivalent
ANN's theoretical energy) and resources per target.

    python examples/spikeformer/demo.py [--samples N]
"""

from __future__ import annotations

import argparse
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
from snnc.reference.simulate import Trace

HERE = Path(__file__).resolve().parent
MODEL, X, Y, CALIB = (HERE / n for n in ("model.onnx", "test_x.npy", "test_y.npy",
                                          "calib_x.npy"))
OUT = Path("out") / "spikeformer"
RUNS = (("cortex-m4", "host"), ("cortex-m4", "qemu"), ("loihi2", "lava"),
        ("spinnaker2", "spinnaker2"))
console = Console(highlight=False, width=130)


def cli(*args: str) -> None:
    """Run one snnc command the way a user would, echoing it first."""
    snnc = Path(sys.executable).with_name("snnc")
    console.print(f"\n[bold]$ snnc {' '.join(shlex.quote(a) for a in args)}[/bold]")
    subprocess.run([str(snnc), *args], check=True)


def predict(trace: Trace) -> np.ndarray:
    """The class of the last step's output: the model is stateless (T = 1), and the trace is in
    model time (a delayed target ran its pipeline latency's extra steps first)."""
    return trace.output[-1].argmax(axis=1)


def identical(a: Trace, b: Trace) -> bool:
    left, right = a.arrays(), b.arrays()
    return left.keys() == right.keys() and all(np.array_equal(left[k], right[k]) for k in left)


def resources(backend: str, folder: Path) -> str:
    if backend == "mcu":
        est = json.loads((folder / "memory.json").read_text())["estimate"]
        return f"~{est['flash_bytes'] // 1024} KB flash, ~{est['ram_bytes'] // 1024} KB RAM"
    data = json.loads((folder / "resources.json").read_text())
    if backend == "loihi":
        return (f"{data['cores_used']} cores, {len(data['off_chip'])} host processes "
                "(input-aware thresholds, attention)")
    return f"{data['totals']['pes']} PEs, {data['totals']['chips']} chip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=250)
    args = parser.parse_args()
    x, y, calib = np.load(X)[:args.samples], np.load(Y)[:args.samples], np.load(CALIB)
    cli("compile", str(MODEL), "--target", "all", "--calib", str(CALIB), "-o", str(OUT))
    graph = api.load(MODEL)
    float_acc = np.mean(predict(api.simulate(graph, x)) == y)
    table = Table(title=f"spikeformer: {len(y)} spoken digits of unseen voices, T = 1, "
                        f"float reference accuracy {100 * float_acc:.1f} %")
    for col in ("target", "runs on", "accuracy", "bit-exact", "energy / inference",
                "ANN / SNN (theory)", "resources"):
        table.add_column(col)
    ok = True
    for target_name, runner in RUNS:
        target = api.as_target(target_name)
        # model time: a delayed target runs its latency's extra steps, the trace is aligned
        ref = api.simulate(graph, x, target=target, calib=calib)
        start = time.perf_counter()
        got = api.simulate(graph, x, target=target, backend=runner, calib=calib)
        seconds = time.perf_counter() - start
        same = identical(ref, got)
        ok = ok and same
        folder = OUT / api.OUT_FOLDERS[target.backend]
        totals = json.loads((folder / "report.json").read_text())["totals"]
        table.add_row(target_name, f"{runner} ({seconds:.1f} s)",
                      f"{100 * np.mean(predict(got) == y):.1f} %",
                      "yes" if same else "NO", f"{totals['chosen_pj'] / 1e3:.0f} nJ",
                      f"{totals['literature_ann_pj'] / totals['literature_snn_pj']:.2f}x",
                      resources(target.backend, folder))
    console.print()
    console.print(table)
    if not ok:
        console.print("[red]a backend differs from the integer reference[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
