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
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

from snnc import api
from snnc.reference.simulate import Trace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the demos' shared helpers, examples/_common.py
from _common import cli, finish, results_table, run_backend  # noqa: E402

MODEL, X, Y, CALIB = (HERE / n for n in ("model.onnx", "test_x.npy", "test_y.npy",
                                          "calib_x.npy"))
OUT = Path("out") / "spikeformer"
RUNS = (("cortex-m4", "host"), ("cortex-m4", "qemu"), ("loihi2", "lava"),
        ("spinnaker2", "spinnaker2"))
console = Console(highlight=False, width=130)


def predict(trace: Trace) -> np.ndarray:
    """The class of the last step's output: the model is stateless (T = 1), and the trace is in
    model time (a delayed target ran its pipeline latency's extra steps first)."""
    return trace.output[-1].argmax(axis=1)


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
    cli(console, "compile", str(MODEL), "--target", "all", "--calib", str(CALIB), "-o", str(OUT))
    graph = api.load(MODEL)
    float_acc = np.mean(predict(api.simulate(graph, x)) == y)
    table = results_table(
        f"spikeformer: {len(y)} spoken digits of unseen voices, T = 1, "
        f"float reference accuracy {100 * float_acc:.1f} %",
        ("target", "runs on", "accuracy", "bit-exact", "energy / inference",
         "ANN / SNN (theory)", "resources"))
    ok = True
    for target_name, runner in RUNS:
        target = api.as_target(target_name)
        # model time: a delayed target runs its latency's extra steps, the trace is aligned
        run = run_backend(graph, x, target, runner, calib)
        ok = ok and run.exact
        folder = OUT / api.OUT_FOLDERS[target.backend]
        totals = json.loads((folder / "report.json").read_text())["totals"]
        table.add_row(target_name, f"{runner} ({run.seconds:.1f} s)",
                      f"{100 * np.mean(predict(run.trace) == y):.1f} %",
                      "yes" if run.exact else "NO", f"{totals['chosen_pj'] / 1e3:.0f} nJ",
                      f"{totals['literature_ann_pj'] / totals['literature_snn_pj']:.2f}x",
                      resources(target.backend, folder))
    finish(console, table, ok)


if __name__ == "__main__":
    main()
