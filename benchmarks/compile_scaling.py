"""Compile time and peak memory from 10^3 to 10^6 synapses, per stage, for every target.

For each network family (dense MLP, 3x3 convolution, 90 %-sparse MLP) and size N, one child
process writes the model as ONNX, then times what ``snnc compile --target all --mapping snn``
runs after start-up: ``snnc.api.load`` and ``snnc.api.compile_all`` for the three targets
(concurrent backends: the MCU's arm-none-eabi-gcc build overlaps the other backends' work).
That wall time is the headline ``total``. To explain it, the same work is then timed one stage
at a time:

- ``frontend``: ONNX -> Relax (``from_onnx``, pattern raising) -> layer view;
- ``passes``: the optimisation pipeline for the three targets (the target-independent passes
  run once, as in ``compile_all``: kernel choice and mapping per target);
- ``loihi`` / ``mcu`` / ``spinnaker2``: quantize, emit (with its resource check) and the energy
  report, per backend (the MCU stage includes the arm-none-eabi-gcc build that measures
  memory.json).

Every layer is compiled as a spiking layer (``--mapping snn``): the default cost-based mapping
turns these random networks into QNNs, whose multiply-accumulate stages SpiNNaker-2 does not
slice across PEs, so a 10^6-synapse convolution would not fit one PE's 128 KB at all. For the
same reason the convolution family has a layer of 4x4 sum-pooling neurons before its 10-way
read-out: a read-out neuron must hold its whole fan-in on one PE. The MCU target's flash and
RAM limits are raised to 16 MB / 4 MB: a 10^6-synapse model does not fit a 1 MB part, and the
benchmark times the compiler, not the part. The sparse family is pruned to CSR storage by the
pipeline.

Times are wall times (Python start-up with TVM's and the backends' imports is paid once and
reported as ``startup``), and ``cpu`` the processor time including child processes (the
compiler build): the stage times' sum exceeding the total shows the overlap; CPU time below
wall time shows other load on the machine. Memory is the peak of Python allocations per
stage (tracemalloc, in a further run) and the process's peak RSS. Goals: 10^6 synapses to all
targets in under 10 s on 2 cores, and time(4N) <= 4.5 time(N). Writes
``benchmarks/results/compile_scaling.json`` and prints a table.

    .venv/bin/python benchmarks/compile_scaling.py [--quick] [--family NAME ...] [--out FILE]

``--large [N ...]`` measures instead what a board-size network costs: ``snnc compile`` of a
dense network with N synapses (default 2*10^7 and 10^8; layers of 3162 neurons, two of them
at 2*10^7, ten at 10^8) for spinnaker2 and for loihi2 (``--large-target`` picks one), each in
its own process: wall time and peak RSS above the same command's on a 10^3-synapse model (the
start-up baseline: TVM alone takes about 300 MB), per synapse. Goals: <= 16 bytes per synapse,
10^8 synapses in under 60 s. It needs several GB and minutes, so `make bench` does not run it;
it writes ``benchmarks/results/compile_scaling_large.json`` (rows of other sizes already there
are kept).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import itertools
import json
import math
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "compile_scaling.json"
# Four times apart, so every neighbouring pair checks time(4N) <= 4.5 time(N); the largest is
# just above 10^6.
SIZES = (1_000, 4_000, 16_000, 64_000, 256_000, 1_024_000)
QUICK_SIZES = (1_000, 16_000, 256_000)
FAMILIES = ("dense", "conv", "sparse")
STAGES = ("frontend", "passes", "loihi", "mcu", "spinnaker2")
MAPPING = "snn"  # see the module docstring
SCALING_BACKENDS = ("loihi", "mcu", "spinnaker2")
PROFILE_TOP = 6  # functions listed per stage in the profile of the largest networks
F32 = np.float32


def build(family: str, synapses: int, seed: int = 0):
    """A two-layer LIF network of the family with about ``synapses`` connections."""
    from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input, Pool2d

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
    # conv: C -> C channels, 3x3, same padding, on an S x S map: 9 C^2 S^2 synapses, then 4x4
    # sum-pooling neurons and 10 read-outs (a read-out neuron's whole fan-in must fit one
    # SpiNNaker-2 PE, so it reads the pooled map, not the full one)
    channels = 8
    side = max(4, int(math.sqrt(synapses / (9 * channels * channels))))
    pooled = (side - 4) // 4 + 1
    weight = rng.normal(0, 0.3, (channels, channels, 3, 3)).astype(F32)
    layers = (Input("x", (), shape=(channels, side, side)),
              Conv2d("conv", ("x",), weight=weight, padding=(1, 1, 1, 1)),
              LIF("l1", ("conv",), **lif),
              Pool2d("pool", ("l1",), pool="sum", kernel=(4, 4), stride=(4, 4)),
              LIF("p", ("pool",), **lif), Flatten("flat", ("p",)),
              Dense("fc", ("flat",), weight=rng.normal(0, 0.05, (10, channels * pooled ** 2))
                    .astype(F32)),
              LIF("l2", ("fc",), **lif))
    return Graph(layers, output="l2", timesteps=8, encoding="rate", name="conv")


def synapse_count(graph) -> int:
    """Non-zero connections per sample (a convolution's zero weights and a pool's padding do not
    count): what the family sizes aim at."""
    from snnc.ir.layers import Conv2d, Dense, Pool2d

    total = 0
    for layer in graph.layers:
        if isinstance(layer, Dense):
            total += int(np.count_nonzero(layer.weight))
        elif isinstance(layer, Conv2d):
            _, h, w = graph.shape(layer.name)
            total += int(np.count_nonzero(layer.weight)) * h * w
        elif isinstance(layer, Pool2d):
            total += layer.kernel[0] * layer.kernel[1] * graph.size(layer.name)
    return total


def run_case(family: str, size: int, profile: bool = False) -> dict[str, Any]:
    """Child-process body: time ``load`` + ``compile_all`` for one network, then every stage
    alone (and with ``profile`` where each stage spends its time)."""
    start = time.perf_counter()
    import snnc.frontend.onnx  # noqa: F401  (TVM import: paid once, reported as startup)
    from snnc import api
    from snnc.backends import get_backend
    from snnc.cost import report as cost_report
    from snnc.cost.report import write_report
    from snnc.onnx_builder import graph_to_onnx
    from snnc.passes.pipeline import SharedPasses
    from snnc.passes.pipeline import optimize as run_pipeline

    backends = {tag: get_backend(tag) for tag in SCALING_BACKENDS}
    startup = time.perf_counter() - start
    graph = build(family, size)
    work = Path(tempfile.mkdtemp(prefix="snnc-bench-"))
    model = work / "model.onnx"
    model.write_bytes(graph_to_onnx(graph).SerializeToString())
    # The three backends built for large models; Xylo (1000 neurons) and Akida (stateless
    # 4-bit chains) are parts for small models and hold none of these networks.
    targets = {t.backend: t for t in api.targets_for("all") if t.backend in SCALING_BACKENDS}
    big_part = {**targets["mcu"].limits, "flash_bytes": 16 << 20, "ram_bytes": 4 << 20}
    targets["mcu"] = dataclasses.replace(targets["mcu"], limits=big_part)
    prune = 1e-6 if family == "sparse" else None

    t0, (own0, kids0) = time.perf_counter(), cpu_seconds()
    loaded = api.load(model)
    load_s = time.perf_counter() - t0
    api.compile_all(loaded, list(targets.values()), work / "out-all", prune=prune,
                    mapping=MAPPING)
    total = time.perf_counter() - t0
    own1, kids1 = cpu_seconds()
    headline = {"total_s": total, "load_s": load_s, "compile_all_s": total - load_s,
                "total_cpu_s": own1 - own0 + kids1 - kids0, "child_cpu_s": kids1 - kids0}

    state: dict[str, Any] = {}

    def stage_fns() -> dict[str, Callable[[], None]]:
        def frontend() -> None:
            state["graph"] = api.load(model)

        def passes() -> None:
            shared = SharedPasses(state["graph"])
            state["opt"] = {b: run_pipeline(state["graph"], t, prune=prune, mapping=MAPPING,
                                            shared=shared)
                            for b, t in targets.items()}

        def backend(tag: str) -> Callable[[], None]:
            def run() -> None:  # one thread of snnc.api.compile_all, minus the atomic rename
                t = targets[tag]
                qg = api.quantize(state["opt"][tag], t)
                out = work / f"out-{tag}-{time.perf_counter_ns()}"
                backends[tag].emit(qg, t, out)
                write_report(cost_report(state["opt"][tag], t), out, plots=False)
            return run

        return {"frontend": frontend, "passes": passes,
                **{tag: backend(tag) for tag in ("loihi", "mcu", "spinnaker2")}}

    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    child_cpu: dict[str, float] = {}
    for name, fn in stage_fns().items():
        t0, (own0, kids0) = time.perf_counter(), cpu_seconds()
        fn()
        seconds[name] = time.perf_counter() - t0
        own1, kids1 = cpu_seconds()
        cpu[name] = own1 - own0 + kids1 - kids0
        child_cpu[name] = kids1 - kids0
    peak: dict[str, int] = {}
    tracemalloc.start()
    for name, fn in stage_fns().items():
        tracemalloc.reset_peak()
        fn()
        peak[name] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hot = {name: hot_spots(fn) for name, fn in stage_fns().items()} if profile else None
    shutil.rmtree(work, ignore_errors=True)
    return {"family": family, "requested": size, "synapses": synapse_count(state["graph"]),
            "startup_s": startup, **headline,
            "seconds": seconds, "sequential_s": sum(seconds.values()),
            "cpu_seconds": cpu, "sequential_cpu_s": sum(cpu.values()),
            "child_cpu_seconds": child_cpu, "peak_bytes": peak,
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            **({"profile": hot} if hot is not None else {})}


def cpu_seconds() -> tuple[float, float]:
    """Processor time (user + system) of this process and of its finished children (the
    compiler and linker the MCU backend runs to measure memory)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def hot_spots(fn: Callable[[], None], top: int = PROFILE_TOP) -> list[dict[str, Any]]:
    """The functions with the most own time in one cProfile'd call of ``fn``."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows = sorted(((tt, ct, n, func) for func, (_, n, tt, ct, _) in stats.items()),
                  reverse=True)[:top]
    return [{"function": _where(func), "own_s": round(tt, 3), "cumulative_s": round(ct, 3),
             "calls": n} for tt, ct, n, func in rows]


def _where(func: tuple[str, int, str]) -> str:
    """``package/module.py:line(name)`` without the machine's paths."""
    path, line, name = func
    if path == "~":
        return name  # a builtin, e.g. {method 'poll' of 'select.poll' objects}
    parts = Path(path).parts
    for anchor in ("site-packages", "main", "lib"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor):]
            break
    return f"{'/'.join(parts[-3:])}:{line}({name})"


def measure(family: str, size: int, profile: bool = False) -> dict[str, Any]:
    """Run one case in a fresh interpreter so caches and memory peaks do not leak across."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import compile_scaling as c; "
            "print(json.dumps(c.run_case(sys.argv[2], int(sys.argv[3]), sys.argv[4] == '1')))")
    proc = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), family,
                           str(size), "1" if profile else "0"], capture_output=True, text=True,
                          check=False)
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


LARGE_SIZES = (20_000_000, 100_000_000)
LARGE_TARGETS = ("spinnaker2", "loihi2")
LARGE_RESULTS = RESULTS.with_name("compile_scaling_large.json")
BASELINE_SYNAPSES = 1_000
GOAL_BYTES_PER_SYNAPSE = 16
GOAL_100M_SECONDS = 60
TIME_GOAL_SYNAPSES = 100_000_000  # requested size from which the time goal applies


BOARD_WIDTH = 3162  # neurons per layer of the board-size networks (10^7 synapses a layer)


def board_model(synapses: int, seed: int = 0):
    """A dense LIF network of about ``synapses`` connections: layers of at most
    :data:`BOARD_WIDTH` neurons, as many as the count needs (at least two). A SpiNNaker-2 PE
    holds a neuron's whole fan-in, so a board-size network is deep rather than wide (a
    7071-wide layer needs 227 KB of synaptic rows per neuron, above a PE's 128 KB); with two
    layers it is the dense family's network."""
    from snnc.ir.layers import LIF, Dense, Graph, Input

    width = max(4, min(BOARD_WIDTH, int(math.sqrt(synapses / 2))))
    depth = max(2, round(synapses / width**2))
    rng = np.random.default_rng(seed)
    lif = {"beta": F32(0.9), "threshold": F32(1.0)}
    layers: list[Any] = [Input("x", (), shape=(width,))]
    for k in range(1, depth + 1):
        weight = rng.normal(0, 0.3, (width, width)).astype(F32)
        layers += [Dense(f"fc{k}", (layers[-1].name,), weight=weight),
                   LIF(f"l{k}", (f"fc{k}",), **lif)]
    return Graph(tuple(layers), output=f"l{depth}", timesteps=8, encoding="rate", name="dense")


def write_model(synapses: int, path: Path) -> int:
    """:func:`board_model` with about ``synapses`` connections as ONNX, written by a
    separate interpreter (the compile being measured starts from the file, like a user's)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import compile_scaling as c; "
            "from snnc.onnx_builder import graph_to_onnx; g = c.board_model(int(sys.argv[2]));"
            " open(sys.argv[3], 'wb').write(graph_to_onnx(g).SerializeToString()); "
            "print(c.synapse_count(g))")
    proc = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent),
                           str(synapses), str(path)], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout.strip().splitlines()[-1])


MAX_RSS_BYTES = 8 << 30  # a compile above this is stopped: the machine is shared


def cli_compile(model: Path, target: str, out: Path,
                max_rss: int = MAX_RSS_BYTES) -> tuple[float, int, bool]:
    """Wall seconds, peak RSS (bytes) and whether it finished, of ``snnc compile`` for one
    target in its own process (os.wait4 gives that process's own resource usage); a compile
    whose RSS passes ``max_rss`` is stopped (not finished)."""
    snnc = Path(sys.executable).with_name("snnc")
    log = out.with_name(out.name + ".log")
    start = time.perf_counter()
    with open(log, "wb") as err:
        proc = subprocess.Popen([str(snnc), "compile", str(model), "--target", target,
                                 "--mapping", MAPPING, "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=err)
        stopped = threading.Event()
        guard = threading.Thread(target=_rss_guard, args=(proc, max_rss, stopped), daemon=True)
        guard.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = status  # reaped here: the guard must not signal a reused pid
        guard.join()
    seconds = time.perf_counter() - start
    if status != 0 and not stopped.is_set():
        tail = log.read_text(errors="replace")[-500:]
        raise SystemExit(f"snnc compile {model.name} --target {target} failed: {tail}")
    return seconds, usage.ru_maxrss * 1024, not stopped.is_set()  # Linux reports kilobytes


def _rss_guard(proc: subprocess.Popen[bytes], max_rss: int, stopped: threading.Event) -> None:
    """Kill ``proc`` once its resident set passes ``max_rss`` bytes."""
    status = Path(f"/proc/{proc.pid}/status")
    while proc.returncode is None:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            return
        if int(fields.get("VmRSS", "0 kB").split()[0]) * 1024 > max_rss:
            stopped.set()
            proc.kill()
            return
        time.sleep(0.2)


def _layout_totals(out: Path) -> dict[str, int]:
    """Chips and PEs of a SpiNNaker-2 layout (empty for other targets)."""
    resources = out / "spinnaker2" / "resources.json"
    if not resources.is_file():
        return {}
    totals = json.loads(resources.read_text())["totals"]
    return {"chips": int(totals["chips"]), "pes": int(totals["pes"])}


def large(sizes: tuple[int, ...], targets: tuple[str, ...] = LARGE_TARGETS) -> dict[str, Any]:
    """Peak RSS above the start-up baseline (the same command on a tiny model) per synapse and
    wall time of ``snnc compile`` for large dense networks, per target."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="snnc-bench-large-") as tmp:
        work = Path(tmp)
        tiny = work / "tiny.onnx"
        write_model(BASELINE_SYNAPSES, tiny)
        for size in sizes:
            model = work / f"dense-{size}.onnx"
            synapses = write_model(size, model)
            for target in targets:
                _, base, _ = cli_compile(tiny, target, work / "out-tiny")
                seconds, peak, finished = cli_compile(model, target, work / f"out-{size}")
                placed = _layout_totals(work / f"out-{size}") if finished else {}
                shutil.rmtree(work / f"out-{size}", ignore_errors=True)
                per = (peak - base) / synapses
                rows.append({"target": target, "requested": size, "synapses": synapses,
                             "seconds": seconds,
                             "finished": finished, **placed,
                             "peak_rss_bytes": peak, "baseline_rss_bytes": base,
                             "bytes_per_synapse": per,
                             "memory_goal_met": finished and per <= GOAL_BYTES_PER_SYNAPSE,
                             "time_goal_met": (finished and seconds < GOAL_100M_SECONDS
                                               if size >= TIME_GOAL_SYNAPSES else None)})
                where = (f", {placed['pes']} PEs on {placed['chips']} chips" if placed else "")
                ending = "" if finished else f" (stopped above {MAX_RSS_BYTES >> 30} GiB RSS)"
                print(f"{target:10} {synapses:>11} synapses: {seconds:7.1f} s, peak RSS "
                      f"{peak / 2**20:7.0f} MB ({base / 2**20:.0f} MB on a tiny model): "
                      f"{per:6.1f} bytes per synapse (goal <= {GOAL_BYTES_PER_SYNAPSE})"
                      f"{where}{ending}", flush=True)
            model.unlink()
    return {"command": "python benchmarks/compile_scaling.py --large", "rows": rows,
            "max_rss_gib": MAX_RSS_BYTES >> 30,
            "goals": {"bytes_per_synapse": GOAL_BYTES_PER_SYNAPSE,
                      "seconds_at_100M": GOAL_100M_SECONDS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three sizes only")
    parser.add_argument("--large", nargs="*", type=int, metavar="SYNAPSES",
                        help="instead: peak RSS per synapse and time of snnc compile for "
                        "spinnaker2 and loihi2 at these sizes (default 2e7 and 1e8)")
    parser.add_argument("--large-target", nargs="*", choices=LARGE_TARGETS,
                        default=list(LARGE_TARGETS), dest="large_targets",
                        help="with --large: only these targets (rows of the others are kept)")
    parser.add_argument("--family", nargs="*", choices=FAMILIES, default=list(FAMILIES),
                        help="only these families (the results file then holds only them)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.large is not None:
        sizes = tuple(args.large) or LARGE_SIZES
        result = large(sizes, tuple(t for t in LARGE_TARGETS if t in args.large_targets))
        if LARGE_RESULTS.is_file():  # keep the rows of the sizes and targets not measured now
            measured = {(r["synapses"], r["target"]) for r in result["rows"]}
            kept = [r for r in json.loads(LARGE_RESULTS.read_text()).get("rows", [])
                    if (r["synapses"], r["target"]) not in measured]
            result["rows"] = sorted(kept + result["rows"],
                                    key=lambda r: (r["synapses"], r["target"] != "spinnaker2"))
        LARGE_RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"wrote {LARGE_RESULTS}")
        return
    sizes = QUICK_SIZES if args.quick else SIZES
    families = [f for f in FAMILIES if f in args.family]
    load_before = os.getloadavg()
    rows = [measure(f, n, profile=n == max(sizes)) for f in families for n in sizes]
    header = (f"{'family':8} {'synapses':>9} " + " ".join(f"{s:>10}" for s in STAGES)
              + f" {'stages s':>8} {'total s':>8} {'cpu s':>6} {'peak MB':>8} {'RSS MB':>7}")
    print(header)
    for r in rows:
        print(f"{r['family']:8} {r['synapses']:>9} "
              + " ".join(f"{r['seconds'][s]:>10.3f}" for s in STAGES)
              + f" {r['sequential_s']:>8.2f} {r['total_s']:>8.2f} {r['total_cpu_s']:>6.2f}"
              + f" {max(r['peak_bytes'].values()) / 2**20:>8.1f}"
              + f" {r['max_rss_bytes'] / 2**20:>7.0f}")
    ratios = growth(rows)
    for g in ratios:
        print(f"time(4N)/time(N) {g['family']:7} {g['n']:>9} -> {g['4n']:>9}: {g['ratio']:.2f}")
    biggest = [r for r in rows if r["requested"] == max(sizes)]
    command = "python benchmarks/compile_scaling.py" + (" --quick" if args.quick else "")
    if families != list(FAMILIES):
        command += " --family " + " ".join(families)
    result = {
        "command": command,
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                    "load_average_1min": {"before": load_before[0],
                                          "after": os.getloadavg()[0]}},
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
