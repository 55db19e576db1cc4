"""The digits demo (`make demo`): one model, every backend, one table.

Runs the CLI on the committed model (inspect, float simulation with accuracy, compile for every
target), then runs each target's artifact — the C project on the host and under QEMU, the Lava
network in Lava's fixed-point simulator, the SpiNNaker-2 images in the layout simulator, the
Akida model on akida's software backend (its leaky stages as approximate QNN twins, so compiled
with --mapping qnn; the 64 inputs do not fit Xylo's 16 channels) — on the 540 held-out digits,
checks every output bit for bit against the integer reference, and prints accuracy, energy and
resources per target.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

from snnc import api
from snnc.reference.simulate import Trace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the demos' shared helpers, examples/_common.py
from _common import cli, finish, rel, results_table, run_backend  # noqa: E402

MODEL = HERE / "digits.onnx"
X, Y, CALIB = HERE / "test_x.npy", HERE / "test_y.npy", HERE / "calib_x.npy"
OUT = Path("out")
RUNS = (("cortex-m4", "host"), ("cortex-m4", "qemu"), ("loihi2", "lava"),
        ("spinnaker2", "spinnaker2"), ("akida1", "akida"))
# Targets whose stages run as QNN twins: the digits model's leaky neurons need --mapping qnn.
MAPPING = {"akida1": "qnn"}
console = Console(highlight=False, width=140)


def resources_summary(target: str, folder: Path) -> str:
    if target.startswith("cortex"):
        memory = json.loads((folder / "memory.json").read_text())
        measured = (memory.get("measured") or {}).get("model")
        if measured:  # linked with arm-none-eabi-gcc: the model's own sections
            return f"{measured['flash_bytes']} B flash, {measured['ram_bytes']} B RAM"
        est = memory["estimate"]
        return f"~{est['flash_bytes']} B flash, ~{est['ram_bytes']} B RAM (estimate)"
    data = json.loads((folder / "resources.json").read_text())
    if target == "loihi2":
        return f"{data['cores_used']} cores, {data['chips_used']} chip"
    if target == "akida1":
        return f"{data['nps_used']} NPs of {data['nps_available']}"
    totals = data["totals"]
    return f"{totals['pes']} PEs, {totals['chips']} chip"


def main() -> None:
    x, y, calib = np.load(X), np.load(Y), np.load(CALIB)
    rel_model, rel_x, rel_y = rel(MODEL), rel(X), rel(Y)
    cli(console, "inspect", rel_model)
    cli(console, "simulate", rel_model, "--input", rel_x, "--labels", rel_y)
    cli(console, "compile", rel_model, "--target", "all", "--calib", rel(CALIB), "-o", str(OUT))
    cli(console, "compile", rel_model, "--target", "akida1", "--mapping", "qnn", "--calib",
        rel(CALIB), "-o", str(OUT))

    graph = api.load(MODEL)
    framework = api.simulate_exported(MODEL, x)  # the ONNX graph as exported, float32
    float_acc = float(np.mean(api.predict(api.simulate(graph, x)) == y))
    table = results_table(
        f"digits: 64-128-10 LIF, T={graph.timesteps}, {len(y)} test images; "
        f"float reference accuracy {100 * float_acc:.2f} %",
        ("target", "runs on", "accuracy", "int. ref.", "bit-exact", "latency", "= framework",
         "mapping that runs", "its energy", "resources", "artifacts"))
    references: dict[str, Trace] = {}  # per target: its executors share one reference run
    ok = True
    for target_name, runner in RUNS:
        target = api.as_target(target_name)
        run = run_backend(graph, x, target, runner, calib, MAPPING.get(target_name, "auto"),
                          reference=references.get(target_name))
        ref = references[target_name] = run.reference
        got, same = run.trace, run.exact
        ok = ok and same
        folder = OUT / api.OUT_FOLDERS[target.backend]
        cost = json.loads((folder / "report.json").read_text())
        energy = cost["totals"]["chosen_pj"]  # the mapping compiled and run above
        stages = ", ".join(f"{x['layer']} {x['mapping'].upper()}" for x in cost["layers"])
        table.add_row(
            target_name, f"{runner} ({run.seconds:.1f} s)",
            f"{100 * np.mean(api.predict(got) == y):.2f} %",
            f"{100 * np.mean(api.predict(ref) == y):.2f} %",
            "yes" if same else "NO",
            f"{got.latency} steps",
            f"{100 * np.mean(got.output == framework.output):.1f} %"
            if got.output.shape == framework.output.shape else "- (levels)",
            stages,
            f"{energy / 1000:.1f} nJ/inf", resources_summary(target_name, folder),
            rel(folder) + "/")
    finish(console, table, ok)


if __name__ == "__main__":
    main()
