"""Compile time and peak memory from 10^3 to 10^6 synapses, per stage, for every target.

For each network family (dense MLP, 3x3 convolution, 90 %-sparse MLP) and size N, one child
process writes the model as ONNX, then times each stage of ``snnc compile --target all``:

- ``frontend``: ONNX -> Relax (``from_onnx``, pattern raising) -> layer view;
- ``passes``: the optimisation pipeline (kernel choice, mapping);
- ``loihi`` / ``mcu`` / ``spinnaker2``: quantize, resource check and emit, per backend.

The MCU target's flash and RAM limits are raised to 16 MB / 4 MB here: a 10^6-synapse model
does not fit a 1 MB part, and the benchmark times the compiler, not the part. The sparse family
is pruned to CSR storage by the pipeline. Time is the wall time of each stage (TVM's import is
paid once and reported as ``startup``); memory is the peak of Python allocations per stage
(tracemalloc, in a second run) and the process's peak RSS. Goals: 10^6 synapses to all targets
in under 10 s on 2 cores, and time(4N) <= 4.5 time(N). Writes
``benchmarks/results/compile_scaling.json`` and prints a table.

    .venv/bin/python benchmarks/compile_scaling.py [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "compile_scaling.json"
SIZES = (1_000, 4_000, 16_000, 64_000, 256_000, 1_000_000)
QUICK_SIZES = (1_000, 16_000, 256_000)
FAMILIES = ("dense", "conv", "sparse")
STAGES = ("frontend", "passes", "loihi", "mcu", "spinnaker2")
F32 = np.float32


def build(family: str, synapses: int, seed: int = 0):
    """A two-layer LIF network of the family with about ``synapses`` connections."""
    from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input

    rng = np.random.default_rng(seed)
    lif = {"beta": F32(0.9), "threshold": F32(1.0)}
    if family in ("dense", "sparse"):
        density = 0.1 if family == "sparse" else 1.0
        width = max(4, int(math.sqrt(synapses / density / 2)))
        w1 = rng.normal(0, 0.3, (width, width)).astype(F32)
        w2 = rng.normal(0, 0.3, (width, width)).astype(F32)
        if family == "sparse":
            w1 *= rng.random(w1.shape) < density
            w2 *= rng.random(w2.shape) < density
        layers = (Input("x", (), shape=(width,)), Dense("fc1", ("x",), weight=w1),
                  LIF("l1", ("fc1",), **lif), Dense("fc2", ("l1",), weight=w2),
                  LIF("l2", ("fc2",), **lif))
        return Graph(layers, output="l2", timesteps=8, encoding="rate", name=family)
    # conv: C -> C channels, 3x3, same padding, on an S x S map: 9 C^2 S^2 synapses
    channels = 8
    side = max(4, int(math.sqrt(synapses / (9 * channels * channels))))
    weight = rng.normal(0, 0.3, (channels, channels, 3, 3)).astype(F32)
    layers = (Input("x", (), shape=(channels, side, side)),
              Conv2d("conv", ("x",), weight=weight, padding=(1, 1, 1, 1)),
              LIF("l1", ("conv",), **lif), Flatten("flat", ("l1",)),
              Dense("fc", ("flat",), weight=rng.normal(0, 0.05, (10, channels * side * side))
                    .astype(F32)),
              LIF("l2", ("fc",), **lif))
    return Graph(layers, output="l2", timesteps=8, encoding="rate", name="conv")


def synapse_count(graph) -> int:
    from snnc.ir.layers import Conv2d, Dense

    total = 0
    for layer in graph.layers:
        if isinstance(layer, Dense):
            total += int(np.count_nonzero(layer.weight))
        elif isinstance(layer, Conv2d):
            _, h, w = graph.shape(layer.name)
            total += int(np.count_nonzero(layer.weight)) * h * w
    return total


def run_case(family: str, size: int) -> dict[str, Any]:
    """Child-process body: time and measure every stage for one network."""
    start = time.perf_counter()
    import snnc.frontend.onnx  # noqa: F401  (TVM import: paid once, reported as startup)
    from snnc import api
    from snnc.backends import backend_module
    from snnc.onnx_builder import graph_to_onnx

    startup = time.perf_counter() - start
    graph = build(family, size)
    work = Path(tempfile.mkdtemp(prefix="snnc-bench-"))
    model = work / "model.onnx"
    model.write_bytes(graph_to_onnx(graph).SerializeToString())
    targets = {t.backend: t for t in api.targets_for("all")}
    big_part = {**targets["mcu"].limits, "flash_bytes": 16 << 20, "ram_bytes": 4 << 20}
    targets["mcu"] = dataclasses.replace(targets["mcu"], limits=big_part)
    prune = 1e-6 if family == "sparse" else None
    state: dict[str, Any] = {}

    def stage_fns() -> dict[str, Callable[[], None]]:
        def frontend() -> None:
            state["graph"] = api.load(model)

        def passes() -> None:
            state["opt"] = {b: api.optimize(state["graph"], t, prune=prune)
                            for b, t in targets.items()}

        def backend(tag: str) -> Callable[[], None]:
            def run() -> None:
                t = targets[tag]
                qg = api.quantize(state["opt"][tag], t)
                module = backend_module(tag)
                module.check_resources(qg, t)
                module.emit(qg, t, work / f"out-{tag}-{time.perf_counter_ns()}")
            return run

        return {"frontend": frontend, "passes": passes,
                **{tag: backend(tag) for tag in ("loihi", "mcu", "spinnaker2")}}

    seconds: dict[str, float] = {}
    for name, fn in stage_fns().items():
        t0 = time.perf_counter()
        fn()
        seconds[name] = time.perf_counter() - t0
    peak: dict[str, int] = {}
    tracemalloc.start()
    for name, fn in stage_fns().items():
        tracemalloc.reset_peak()
        fn()
        peak[name] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"family": family, "requested": size, "synapses": synapse_count(state["graph"]),
            "startup_s": startup, "seconds": seconds, "total_s": sum(seconds.values()),
            "peak_bytes": peak,
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def measure(family: str, size: int) -> dict[str, Any]:
    """Run one case in a fresh interpreter so caches and memory peaks do not leak across."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import compile_scaling as c; "
            "print(json.dumps(c.run_case(sys.argv[2], int(sys.argv[3]))))")
    proc = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), family,
                           str(size)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{family} {size}: failed\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """time(4N)/time(N) for consecutive sizes 4x apart, per family."""
    out = []
    for family in FAMILIES:
        fam = sorted((r for r in rows if r["family"] == family), key=lambda r: r["requested"])
        for small, big in itertools.pairwise(fam):
            if big["requested"] == 4 * small["requested"]:
                out.append({"family": family, "n": small["synapses"], "4n": big["synapses"],
                            "ratio": big["total_s"] / small["total_s"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three sizes only")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    rows = [measure(f, n) for f in FAMILIES for n in sizes]
    header = (f"{'family':8} {'synapses':>9} " + " ".join(f"{s:>10}" for s in STAGES)
              + f" {'total s':>8} {'peak MB':>8} {'RSS MB':>7}")
    print(header)
    for r in rows:
        print(f"{r['family']:8} {r['synapses']:>9} "
              + " ".join(f"{r['seconds'][s]:>10.3f}" for s in STAGES)
              + f" {r['total_s']:>8.2f} {max(r['peak_bytes'].values()) / 2**20:>8.1f}"
              + f" {r['max_rss_bytes'] / 2**20:>7.0f}")
    ratios = growth(rows)
    for g in ratios:
        print(f"time(4N)/time(N) {g['family']:7} {g['n']:>9} -> {g['4n']:>9}: {g['ratio']:.2f}")
    biggest = [r for r in rows if r["requested"] == max(sizes)]
    result = {
        "command": "python benchmarks/compile_scaling.py" + (" --quick" if args.quick else ""),
        "machine": {"python": platform.python_version(), "cpu_count": __import__("os").cpu_count()},
        "rows": rows, "growth": ratios,
        "goals": {"largest_total_s": {r["family"]: r["total_s"] for r in biggest},
                  "under_10s": all(r["total_s"] < 10 for r in biggest),
                  "max_growth": max((g["ratio"] for g in ratios), default=0.0),
                  "growth_within_4_5": all(g["ratio"] <= 4.5 for g in ratios)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
