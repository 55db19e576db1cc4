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
MODEL = HERE / "digits.onnx"
X, Y, CALIB = HERE / "test_x.npy", HERE / "test_y.npy", HERE / "calib_x.npy"
OUT = Path("out")
RUNS = (("cortex-m4", "host"), ("cortex-m4", "qemu"), ("loihi2", "lava"),
        ("spinnaker2", "spinnaker2"), ("akida1", "akida"))
# Targets whose stages run as QNN twins: the digits model's leaky neurons need --mapping qnn.
MAPPING = {"akida1": "qnn"}
console = Console(highlight=False, width=140)


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
    cli("inspect", rel_model)
    cli("simulate", rel_model, "--input", rel_x, "--labels", rel_y)
    cli("compile", rel_model, "--target", "all", "--calib", rel(CALIB), "-o", str(OUT))
    cli("compile", rel_model, "--target", "akida1", "--mapping", "qnn", "--calib", rel(CALIB),
        "-o", str(OUT))

    graph = api.load(MODEL)
    framework = api.simulate_exported(MODEL, x)  # the ONNX graph as exported, float32
    float_acc = float(np.mean(api.predict(api.simulate(graph, x)) == y))
    table = Table(title=f"digits: 64-128-10 LIF, T={graph.timesteps}, {len(y)} test images; "
                        f"float reference accuracy {100 * float_acc:.2f} %")
    for col in ("target", "runs on", "accuracy", "int. ref.", "bit-exact", "latency",
                "= framework", "mapping that runs", "its energy", "resources", "artifacts"):
        table.add_column(col)
    references: dict[str, object] = {}
    ok = True
    for target_name, runner in RUNS:
        target = api.as_target(target_name)
        mapping = MAPPING.get(target_name, "auto")
        if target_name not in references:
            references[target_name] = api.simulate(graph, x, target=target, calib=calib,
                                                   mapping=mapping)
        ref = references[target_name]
        start = time.perf_counter()
        got = api.simulate(graph, x, target=target, backend=runner, calib=calib,
                           mapping=mapping)
        seconds = time.perf_counter() - start
        same = all(np.array_equal(a, b) for a, b in
                   zip(ref.arrays().values(), got.arrays().values(), strict=True))
        same = same and ref.arrays().keys() == got.arrays().keys()
        ok = ok and same
        folder = OUT / api.OUT_FOLDERS[target.backend]
        cost = json.loads((folder / "report.json").read_text())
        energy = cost["totals"]["chosen_pj"]  # the mapping compiled and run above
        stages = ", ".join(f"{x['layer']} {x['mapping'].upper()}" for x in cost["layers"])
        table.add_row(
            target_name, f"{runner} ({seconds:.1f} s)",
            f"{100 * np.mean(api.predict(got) == y):.2f} %",
            f"{100 * np.mean(api.predict(ref) == y):.2f} %",
            "yes" if same else "NO",
            f"{got.latency} steps",
            f"{100 * np.mean(got.output == framework.output):.1f} %"
            if got.output.shape == framework.output.shape else "- (levels)",
            stages,
            f"{energy / 1000:.1f} nJ/inf", resources_summary(target_name, folder),
            rel(folder) + "/")
    console.print()
    console.print(table)
    if not ok:
        console.print("[red]a backend differs from the integer reference[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
