"""`make bench`: run every benchmark, then gather their JSON into ``benchmarks/README.md``.

Each benchmark is its own script (runnable alone) that prints a table and writes
``benchmarks/results/<name>.json``; this driver runs them one after another in fresh
interpreters, times them, and renders one summary document from the JSON files (never from
numbers typed by hand).

    .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...] [--report-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHMARKS = ("compile_scaling", "simulate", "mcu", "spinnaker2", "mcu_costs", "energy_truth")


def run(name: str, quick: bool) -> float:
    args = [sys.executable, str(HERE / f"{name}.py")]
    if quick and name not in ("spinnaker2", "mcu_costs"):
        args.append("--quick")
    if quick and name == "spinnaker2":
        args += ["--max-synapses", "100000"]
    print(f"\n=== {' '.join(['python', f'benchmarks/{name}.py', *args[2:]])}", flush=True)
    start = time.perf_counter()
    subprocess.run(args, check=True)
    return time.perf_counter() - start


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


STAGES = ("frontend", "passes", "loihi", "mcu", "spinnaker2")
# Builtins whose own time is time spent waiting, named for the reader.
_WAITS = {"<method 'poll' of 'select.poll' objects>":
          "waiting for child processes (make, arm-none-eabi-gcc)"}


def _stages_sum(row: dict[str, Any]) -> float:
    return row.get("sequential_s", sum(row["seconds"][s] for s in STAGES))


def section_compile(data: dict[str, Any]) -> list[str]:
    rows = [[r["family"], r["synapses"], *(f"{r['seconds'][s]:.2f}" for s in STAGES),
             f"{_stages_sum(r):.2f}", f"{r['total_s']:.2f}", f"{r.get('total_cpu_s', 0):.2f}",
             f"{r.get('child_cpu_s', sum(r.get('child_cpu_seconds', {}).values())):.2f}",
             f"{max(r['peak_bytes'].values()) / 2**20:.0f}"]
            for r in data["rows"]]
    goals = data["goals"]
    load = data["machine"].get("load_average_1min", {})
    lines = ["## Compile time (`compile --target all --mapping snn`)", "",
             f"Command: `{data['command']}`", "",
             "`total s` is the wall time of what `snnc compile --target all` runs after "
             "start-up: `snnc.api.load` and `snnc.api.compile_all` for the three targets, "
             "whose backends run concurrently (the MCU's arm-none-eabi-gcc build overlaps the "
             "other backends' work). `CPU s` is that run's processor time and `child CPU s` "
             "the part spent in child processes (the arm-none-eabi-gcc build behind the MCU's "
             "`memory.json`). The stage columns explain it: the same work timed one stage at a "
             "time (`stages s` is their sum; a total below it is the overlap). Where wall time "
             "exceeds CPU time, other load on the machine took the difference"
             + (f" (1-minute load average {load.get('before', 0):.1f} before the run, "
                f"{load.get('after', 0):.1f} after, on {data['machine'].get('cpu_count')} "
                "cores)." if load else "."), ""]
    lines += _table(["family", "synapses", *STAGES, "stages s", "total s", "CPU s",
                     "child CPU s", "peak MB"], rows)
    startup = [r["startup_s"] for r in data["rows"]]
    lines += ["", f"Python start-up with the TVM and backend imports, paid once per process and "
              f"not in the totals: {min(startup):.2f} to {max(startup):.2f} s.", "", "Goals:",
              ""]
    largest = max(r["requested"] for r in data["rows"])
    biggest = [r for r in data["rows"] if r["requested"] == largest]
    for r in biggest:
        lines.append(f"- {r['family']}, {r['synapses']} synapses: {r['total_s']:.2f} s wall, "
                     f"{r.get('total_cpu_s', 0):.2f} s CPU (goal < 10 s: "
                     f"{_met(r['total_s'] < 10)})" + _gap(r))
    lines += [f"- worst time(4N)/time(N): {goals['max_growth']:.2f} (goal <= 4.5: "
              f"{_met(goals['growth_within_4_5'])}); every pair:", ""]
    lines += _table(["family", "N", "4N", "time(4N)/time(N)"],
                    [[g["family"], g["n"], g["4n"], f"{g['ratio']:.2f}"]
                     for g in data["growth"]])
    lines += ["", *_compile_profiles(biggest)]
    return lines


def _gap(row: dict[str, Any]) -> str:
    """Why a compilation took 10 s or more, from its own figures."""
    if row["total_s"] < 10:
        return ""
    stage = max(STAGES, key=lambda s: row["seconds"][s])
    took = row["seconds"][stage]
    text = (f": the largest stage is {stage} ({took:.2f} s, "
            f"{100 * took / _stages_sum(row):.0f} % of the stage-by-stage time)")
    kids = row.get("child_cpu_seconds", {}).get(stage, 0.0)
    if kids > 0.3 * row.get("cpu_seconds", {}).get(stage, took):
        text += (f", {kids:.2f} s of whose processor time is arm-none-eabi-gcc building "
                 "the memory.json image")
    if row.get("total_cpu_s", 0) < row["total_s"]:
        text += (f"; the compilation used {row['total_cpu_s']:.2f} s of processor time, less "
                 "than its wall time, so other load on the machine delayed it")
    return text + "."


def _compile_profiles(rows: list[dict[str, Any]]) -> list[str]:
    """Where the largest networks spend their time: stage shares and each stage's hot spots."""
    out = ["### Where the time goes at the largest size", "",
           "Stage shares of the stage-by-stage time, then per stage the functions with the "
           "most own time in one cProfile'd run (`python benchmarks/compile_scaling.py` "
           "records them for the largest size of each family).", ""]
    for r in rows:
        shares = sorted(((r["seconds"][s], s) for s in STAGES), reverse=True)
        staged = _stages_sum(r)
        out.append(f"**{r['family']}, {r['synapses']} synapses** ({r['total_s']:.2f} s; "
                   f"{staged:.2f} s stage by stage): "
                   + ", ".join(f"{s} {t:.2f} s ({100 * t / staged:.0f} %)"
                               for t, s in shares) + ".")
        kids = r.get("child_cpu_seconds", {})
        if any(v > 0.05 for v in kids.values()):
            out.append(f"Child processes used {sum(kids.values()):.2f} s CPU, in "
                       + ", ".join(f"{k} ({v:.2f} s)" for k, v in kids.items() if v > 0.05)
                       + ".")
        out.append("")
        for stage in STAGES:
            hot = r.get("profile", {}).get(stage, [])[:3]
            if hot:
                out.append(f"- {stage}: " + "; ".join(
                    f"`{_WAITS.get(h['function'], h['function'])}` {h['own_s']:.2f} s"
                    for h in hot))
        out.append("")
    return out


def section_simulate(data: dict[str, Any]) -> list[str]:
    goal = data.get("goal_ratio", 200)
    rows = []
    for r in data["cases"]:
        prof = r.get("reference_profile", {})
        rows.append([r["network"], r["batch"], r["steps"], r["neurons"],
                     f"{r['reference_s'] * 1e3:.2f}", f"{r['lava_s']:.2f}",
                     f"{r['ratio']:.0f}", f"{r.get('cpu_ratio', 0):.0f}",
                     "yes" if r["equal"] else "**no**",
                     f"{r.get('reference_per_step_ms', 0):.3f}",
                     f"{r.get('lava_per_step_ms', 0):.1f}",
                     f"{100 * prof.get('neuron_updates_share', 0):.0f} / "
                     f"{100 * prof.get('synapses_share', 0):.0f}"])
    below = [r for r in data["cases"] if r["ratio"] < goal]
    lines = ["## Integer reference vs Lava fixed_pt (same network, drive and steps)", "",
             f"Command: `{data.get('command', 'python benchmarks/simulate.py')}`", "",
             "Traces must be equal (`numpy.array_equal` on output, spikes and membranes of "
             "every layer). Lava's time is emit + one Lava run of the whole batch in a child "
             f"process; its fixed start-up (one step, one sample) is {data['lava_startup_s']:.2f}"
             " s. Per-step columns leave Lava's start-up out: their ratio is what a very long "
             "run approaches. `CPU ratio` compares processor time instead (Lava's includes "
             "its runtime's OS processes): on a loaded machine it shows the work each side "
             "does, which the wall times blur. The last column is the reference's cProfile "
             "share in neuron updates / synapse kernels."
             + (f" 1-minute load average at the end: {data['load_average_1min']:.1f} on "
                f"{data.get('cpu_count')} cores." if "load_average_1min" in data else ""), ""]
    lines += _table(["network", "batch", "steps", "neurons", "reference ms", "Lava s",
                     "Lava/reference", "CPU ratio", "equal", "ref ms/step", "Lava ms/step",
                     "neuron / synapse %"], rows)
    lines += ["", f"- goal: reference >= {goal}x faster than Lava in every case: "
              f"{_met(not below)}"]
    for r in below:
        if "reference_profile" not in r:  # results of an older script: no breakdown
            continue
        per_step = r["lava_per_step_ms"] / max(r["reference_per_step_ms"], 1e-9)
        lines.append(
            f"- {r['network']}, batch {r['batch']}, {r['steps']} steps: {r['ratio']:.0f}x. "
            f"Per step the reference takes {r['reference_per_step_ms']:.3f} ms for "
            f"{r['batch']} x {r['neurons']} neurons and Lava {r['lava_per_step_ms']:.1f} ms "
            f"({per_step:.0f}x); "
            f"{100 * r['reference_profile'].get('neuron_updates_share', 0):.0f} % of the "
            "reference is the neuron update (about five in-place float64 operations per step "
            "on (batch, neurons) arrays, exact by a bound; the state carries from step to "
            "step, so steps cannot be batched), "
            f"{100 * r['reference_profile'].get('synapses_share', 0):.0f} % the synapse "
            "products (one BLAS call per block of steps) and "
            f"{100 * r['reference_profile'].get('other_share', 0):.0f} % the rest, mostly "
            "recording the trace: int64 spikes and membranes of every step and sample, "
            "written into fresh arrays whose first touch costs page faults (recording "
            "nothing halves this case's time)."
            + (f" The CPU ratio is {r['cpu_ratio']:.0f}x." if "cpu_ratio" in r else ""))
    return [*lines, ""]


ANCHORS = {"dense": "CMSIS-NN's 2x2 SMLAD tiling ~1.5 (Lai et al., arXiv:1801.06601); "
                    "VMLADAVA = 16 MACs per instruction on Helium",
           "event": "a column add is load + add + store; packed 16-bit adds halve it",
           "event-32": "a column add is load + add + store",
           "event-csr": "load column index + load + add + store"}


def section_mcu(data: dict[str, Any]) -> list[str]:
    cfg = data.get("config", {})
    lines = ["## MCU kernels: instructions per MAC and per synaptic event", "",
             "Command: `python benchmarks/mcu.py`", "",
             f"One {cfg.get('n_in')}->{cfg.get('n_out')} synapse layer reading binary spikes, "
             f"{cfg.get('steps')} steps x batch {cfg.get('batch')}, input spike rates "
             f"{', '.join(str(r) for r in cfg.get('rates', []))}; the CSR build keeps "
             f"{cfg.get('csr_density')} of the weights. `event` is the kernel the compiler emits "
             "for dense columns (16-bit sums, proven exact for this layer), `event-32` the "
             "32-bit one it emits when the sums may not fit int16. Instructions are counted in "
             "the functions of `snnc_dense.c` (the event-driven count includes building the "
             "event list) and fitted as `fixed + per event`; the crossover is the input rate "
             "where event-driven meets the dense kernel (above 1: cheaper at every rate).", ""]
    goals = data.get("goals") or []
    if goals:
        lines += _table(["core", "kernel", "measured", "goal", "anchor", "status"],
                        [[g["target"], g["kernel"], f"{g['value']:.3f} per {g['unit']}",
                          f"<= {g['goal']}", ANCHORS.get(g["kernel"], ""), _met(g["met"])]
                         for g in goals])
        lines.append("")
    rows = []
    runs = {"host x86-64 -O2 (callgrind, portable C)": data.get("host_callgrind_x86_64_O2")}
    for target, res in (data.get("qemu_Os") or {}).items():
        runs[f"{target} -Os (QEMU)"] = res
    for label, res in runs.items():
        if not res:
            continue
        for kernel in ("event", "event-32", "event-csr"):
            k = res.get(kernel)
            if k is None:
                continue
            rows.append([label, f"{res['dense_instructions_per_mac']:.3f}", kernel,
                         f"{k['instructions_per_synaptic_event']:.2f}",
                         f"{k['fixed_instructions_per_step']:.0f}",
                         f"{k['crossover_rate']:.3f}",
                         "yes" if k["cheaper_than_dense_below_crossover"] else "**no**"])
    lines += _table(["build", "dense instr/MAC", "event kernel", "instr/event",
                     "fixed instr/step", "crossover rate", "checked at every rate"], rows)
    memory = data.get("memory") or []
    if memory:
        lines += ["", "### Flash and RAM of the example projects", "",
                  "Each example compiled for the target and its model objects linked by "
                  "arm-none-eabi-gcc -Os --gc-sections into a firmware that only runs it "
                  "(start-up code and a main calling snnc_init, snnc_step and snnc_finish; "
                  "the model library as a firmware links it: no test harness, probe table or "
                  "observer hook); flash and RAM are the model's share of that image. Goals: "
                  "flash <= int8 weight bytes + 10 % + 4 KB (biases and parameter blocks are "
                  "overhead); RAM (.data + .bss) = the planned state (SNNC_STATE_BYTES: "
                  "membranes, currents, delay lines, step counters) + arena bytes exactly (no "
                  "heap); the stack is the worst static call chain of snnc_step/snnc_init/"
                  "snnc_finish. Each is compiled with its calibration inputs, so the "
                  "fidelity search may widen layers (docs/numerics.md): a widened layer's "
                  "weights are two int8 members, both counted in the weight bytes.", ""]
        lines += _table(["model", "target", "widths", "weight bytes", "flash", "flash goal",
                         "RAM", "state + arena", "stack", "flash goal", "RAM = state + arena"],
                        [[r["model"], r["target"], _widths(r), r["weight_bytes"],
                          r["flash_bytes"],
                          r["flash_budget_bytes"], r["ram_bytes"],
                          f"{r['state_bytes']} + {r['arena_bytes']}", r["stack_bytes"],
                          _met(r["flash_met"]), _met(r["ram_equals_state_plus_arena"])]
                         for r in memory])
    return [*lines, ""]


def _held_out(narrow: float | None, wide: float | None) -> str:
    return "-" if narrow is None or wide is None else f"{narrow:.4f} -> {wide:.4f}"


def _widths(row: dict[str, Any]) -> str:
    """The input and weight widths of a memory row: the target's 8 bits, or what the fidelity
    search widened to."""
    wide = row.get("widened_weight_bits") or {}
    bits = "/".join(str(b) for b in sorted(set(wide.values())))
    layers = f", {len(wide)} weight layers at {bits}" if wide else ""
    return f"input {row.get('input_bits', 8)}{layers}"


def section_large(data: dict[str, Any]) -> list[str]:
    goals = data.get("goals", {})
    per = goals.get("bytes_per_synapse", 16)
    lines = ["## Compiler memory at board scale", "",
             f"Command: `{data.get('command', 'python benchmarks/compile_scaling.py --large')}` "
             "(not part of `make bench`: it needs several GB and minutes)", "",
             "`snnc compile --mapping snn` of a dense LIF network with layers of 3162 "
             "neurons (two at 2*10^7 synapses, ten at 10^8: a SpiNNaker-2 PE holds a neuron's "
             "whole fan-in, so a board-size network is deep rather than wide), one target per "
             "process; memory is the peak RSS above the same command's on a 10^3-synapse "
             f"model (start-up, TVM included), per synapse. Goals: <= {per} bytes per synapse; "
             f"10^8 synapses in under {goals.get('seconds_at_100M', 60)} s, on spinnaker2 "
             "placed and routed over the board's chips. The times are wall times on the shared "
             "2-core machine.", ""]
    lines += _table(["target", "synapses", "wall s", "peak RSS MB", "baseline MB",
                     "bytes/synapse", "PEs / chips", "memory goal", "time goal (10^8)"],
                    [[r["target"], r["synapses"],
                      f"{r['seconds']:.1f}" + ("" if r.get("finished", True) else " (stopped)"),
                      f"{r['peak_rss_bytes'] / 2**20:.0f}",
                      f"{r['baseline_rss_bytes'] / 2**20:.0f}",
                      f"{r['bytes_per_synapse']:.1f}",
                      f"{r['pes']} / {r['chips']}" if "chips" in r else "-",
                      _met(r["memory_goal_met"]),
                      "-" if r["time_goal_met"] is None else _met(r["time_goal_met"])]
                     for r in data.get("rows", [])])
    stopped = [r for r in data.get("rows", []) if not r.get("finished", True)]
    lines += [f"- {r['target']}, {r['synapses']} synapses: stopped when its resident set "
              f"passed {data.get('max_rss_gib', 8)} GiB after {r['seconds']:.0f} s (the "
              "machine is shared)" for r in stopped]
    return [*lines, ""]


def section_spinnaker2(data: dict[str, Any]) -> list[str]:
    keys = ("family", "target_synapses", "synapses", "neurons", "pes", "chips",
            "routing_entries_uncompressed", "routing_entries", "max_routing_entries_per_chip",
            "total_hops", "max_sram_bytes_per_pe", "compile_seconds")
    lines = ["## SpiNNaker-2 layouts", "", "Command: `python benchmarks/spinnaker2.py`", "",
             "PEs and chips used, multicast routing entries before and after compression, "
             "link hops of all multicast trees, the fullest PE's SRAM and the compile time "
             "(quantize, partition, place, route, images, files).", ""]
    lines += _table(list(keys), [[_fmt(r.get(k)) for k in keys] for r in data["rows"]])
    return [*lines, ""]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary(timings: dict[str, float]) -> list[str]:
    """Every goal of issue 10 in one list, each line from the results files."""
    lines = ["## Goals at a glance", ""]
    scaling = load("compile_scaling")
    if scaling:
        largest = max(r["requested"] for r in scaling["rows"])
        for r in (r for r in scaling["rows"] if r["requested"] == largest):
            lines.append(f"- {r['synapses']} synapses ({r['family']}) to all three targets in "
                         f"under 10 s: {_met(r['total_s'] < 10)}, {r['total_s']:.2f} s "
                         f"({r.get('total_cpu_s', 0):.2f} s CPU)")
        g = scaling["goals"]
        lines.append(f"- time(4N) <= 4.5 time(N) for every family: "
                     f"{_met(g['growth_within_4_5'])}, worst {g['max_growth']:.2f}")
    sim = load("simulate")
    if sim:
        goal = sim.get("goal_ratio", 200)
        ok = [c for c in sim["cases"] if c["ratio"] >= goal]
        every = len(ok) == len(sim["cases"])
        lines.append(f"- integer reference >= {goal}x faster than Lava: {_met(every)}, "
                     f"{len(ok)} of {len(sim['cases'])} cases (ratios "
                     + ", ".join(f"{c['ratio']:.0f}" for c in sim["cases"]) + ")")
    for r in (load("compile_scaling_large") or {}).get("rows", []):
        timed = ("" if r.get("time_goal_met") is None
                 else f" (goal < 60 s: {_met(r['time_goal_met'])})")
        placed = f", {r['pes']} PEs on {r['chips']} chips" if "chips" in r else ""
        lines.append(f"- {r['target']}, {r['synapses']} synapses: {r['bytes_per_synapse']:.1f} "
                     f"bytes per synapse above start-up (goal <= 16: "
                     f"{_met(r['memory_goal_met'])}), {r['seconds']:.1f} s{timed}{placed}")
    mcu = load("mcu")
    for g in (mcu or {}).get("goals") or []:
        lines.append(f"- {g['target']} {g['kernel']}: {g['value']:.3f} instructions per "
                     f"{g['unit']} (goal <= {g['goal']}): {_met(g['met'])}")
    for r in (mcu or {}).get("memory") or []:
        lines.append(f"- {r['model']} on {r['target']}: flash {r['flash_bytes']} B (goal <= "
                     f"{r['flash_budget_bytes']}: {_met(r['flash_met'])}), RAM {r['ram_bytes']}"
                     f" B = state + arena: {_met(r['ram_equals_state_plus_arena'])}")
    if timings:
        total = sum(timings.values())
        lines.append(f"- `make bench` in under 15 min: {_met(total < 900)}, {total / 60:.1f} min")
    return [*lines, ""]


def section_mcu_costs(data: dict[str, Any]) -> list[str]:
    names = {"per_mac": "dense int8 MAC (SMLAD on 4-row blocks, QNN counts)",
             "per_synaptic_event": "synaptic event (event kernel)",
             "per_input_event": "input event (weight column set-up)",
             "scan_per_input": "input and step, event-list scan",
             "neuron_per_update": "LIF update with its bias fill",
             "count_per_input": "input and step added into a QNN count",
             "level_per_output": "QNN level (once per inference)"}
    rows = [[label, f"{data[key]:.3f}"] for key, label in names.items() if key in data]
    return ["## Cortex-M4 cost parameters, measured", "",
            "Command: `python benchmarks/mcu_costs.py --write` (rewrites the measured keys of "
            "`targets/cortex-m4.toml` [energy], each with its measurement in the comment). The "
            "projects are lowered for the Cortex-M4's DSP kernel set, as `snnc compile` emits "
            "them.", "",
            *_table(["Cortex-M4 instructions per", "measured"], rows), ""]


def section_energy_truth(data: dict[str, Any]) -> list[str]:
    rows = []
    for target, s in sorted(data["summary"].items()):
        ok = s["agreement"] >= data["goal_agreement"]
        rows.append([target, s["points"], f"{100 * s['agreement']:.1f} % ({_met(ok)})",
                     f"{s['ratio_min']:.2f} .. {s['ratio_max']:.2f}",
                     f"{100 * s['within_2x']:.0f} %",
                     f"{100 * s['within_1_25x']:.0f} %" if "within_1_25x" in s else "-"])
    misses = [p for p in data["points"] if not p["agree"]]
    lines = ["## Energy model against measurement", "",
             "Command: `python benchmarks/energy_truth.py`", "",
             "A synthetic 96-160-10 LIF net and the digits demo, calibration inputs scaled by "
             f"{', '.join(str(x) for x in data['scales'])} (input rates from 0 to the data's "
             f"own), {data['samples']} samples; at every point `snnc report --measure` compiles "
             "both mappings, runs them (QEMU instruction counts on the Cortex-M4, the layout "
             "simulator's counters on SpiNNaker 2, the Lava run's synaptic operations and "
             "messages on Loihi 2) and prices them. A (stage, rate) point "
             "agrees when the mapping the model predicts cheaper is the one measured cheaper "
             f"(goal >= {100 * data['goal_agreement']:.0f} %).", "",
             *_table(["target", "(stage, rate) points", "choice agreement",
                      "predicted / measured energy", "within 2x", "within 1.25x"], rows), "",
             "![predicted vs measured](results/energy_truth.png)", ""]
    for p in misses:
        lines.append(f"- miss: {p['target']} {p['net']} `{p['stage']}` at input rate "
                     f"{100 * p['rate_in']:.1f} %: predicted {p['predicted']}, measured "
                     f"SNN {p['measured_snn_pj']:.4g} pJ vs QNN {p['measured_qnn_pj']:.4g} pJ")
    return [*lines, ""] if misses else lines


def section_fidelity(data: dict[str, Any]) -> list[str]:
    """Spike agreement with the float model (``benchmarks/fidelity.py``, run on its own: it
    quantizes every matrix cell for three targets with and without the scale search)."""
    goals, minimum = data["goals"], data["minimum_goal"]
    rows = []
    for target, goal in goals.items():
        r, c = data["summary"][f"{target}/range"], data["summary"][f"{target}/chosen"]
        ok = c["mean"] >= goal and c["min"] >= minimum
        worst = ", ".join(f"{m} {v:.3f}" for m, v in c["worst"][:3])
        rows.append([target, c["models"], f"{r['mean']:.4f} -> {c['mean']:.4f}",
                     f"{r['min']:.4f} -> {c['min']:.4f}",
                     f">= {goal} / >= {minimum}: {_met(ok)}", worst])
    matrix = data.get("summary_matrix", {})
    for target in goals:
        if f"{target}/chosen" in matrix:
            r, c = matrix[f"{target}/range"], matrix[f"{target}/chosen"]
            rows.append([f"{target}, exporter matrix only", c["models"],
                         f"{r['mean']:.4f} -> {c['mean']:.4f}",
                         f"{r['min']:.4f} -> {c['min']:.4f}", "", ""])
    multi = data.get("summary_multispike", {})
    for target in goals:
        if f"{target}/chosen" in multi:
            r, c = multi[f"{target}/range"], multi[f"{target}/chosen"]
            rows.append([f"{target}, of which Sinabs MultiSpike", c["models"],
                         f"{r['mean']:.4f} -> {c['mean']:.4f}",
                         f"{r['min']:.4f} -> {c['min']:.4f}", "", ""])
    widened = [f"{row['model']} on {t}: input {row[t]['widths']['input_bits']} bits, "
               f"{len(row[t]['widths']['weight_bits'])} weight layers widened"
               for row in data.get("rows", []) for t in goals if "widths" in row.get(t, {})]
    return ["## Spike agreement with the float model", "",
            "Command: `python benchmarks/fidelity.py` (run on its own, "
            f"{data['seconds'] / 60:.0f} min)", "",
            "Every exporter-matrix cell whose float reference equals onnxruntime, plus the "
            "digits and spikeformer demos: the integer reference in model time against the "
            "float model, mean over the neuron layers of the fraction of equal spike values; "
            "range-based scales -> scales (and, where 8 bits miss 0.95, widths) chosen on the "
            "same inputs. The Sinabs MultiSpike cells (graded spikes) count towards the goal "
            "and are also summarized on their own.", "",
            *_table(["target", "models", "mean", "min", "goal (mean / min)", "worst"], rows),
            *(["", "Widened by the search: " + "; ".join(widened) + "."] if widened else []),
            ""]


def section_fidelity_layers(data: dict[str, Any]) -> list[str]:
    """Where the spikeformer loses agreement (``benchmarks/fidelity_layers.py``, run on its
    own): per layer as deployed and in isolation, and against weight and input widths."""
    targets = list(data["layers"])
    names = list(data["layers"][targets[0]]["chained"])
    rows = []
    for name in [*names, "mean"]:
        row = [name]
        for t in targets:
            c, i = (data["layers"][t][k] for k in ("chained", "isolated"))
            pair = ((sum(c.values()) / len(c), sum(i.values()) / len(i)) if name == "mean"
                    else (c[name], i[name]))
            row.append(f"{pair[0]:.4f} / {pair[1]:.4f}")
        rows.append(row)
    widths = [[w["weight_bits"], w["input_bits"], f"{w['mean']:.4f}"] for w in data["widths"]]
    compiled = [[t, f"{sum(c['chained'].values()) / len(c['chained']):.4f}",
                 _held_out(data["layers"][t].get("held_out"), c.get("held_out")),
                 c["input_bits"],
                 ", ".join(f"{name} {bits}" for name, bits in c["weight_bits"].items())
                 or "none"]
                for t, c in (data.get("compiled") or {}).items()]
    return ["## Spikeformer agreement per layer", "",
            "Command: `python benchmarks/fidelity_layers.py` (run on its own, "
            f"{data['samples']} test utterances)", "",
            "Chained (the integer reference as deployed) / isolated (each layer fed the float "
            "model's own input levels), chosen scales:", "",
            *_table(["layer", *targets], rows), "",
            *(["The cortex-m4 profile with wider weights and inputs (mean chained agreement; "
               "goal 0.95):", "", *_table(["weight bits", "input bits", "mean"], widths), ""]
              if widths else []),
            *(["As compiled: the widths the fidelity search chose on the same utterances "
               "(mean chained agreement; on the "
               f"{data.get('held_out_samples', 0)} other test utterances, at the target's "
               "widths -> as compiled; input bits; weight layers widened to their bits):", "",
               *_table(["target", "mean", "held out", "input bits", "widened weight layers"],
                       compiled),
               ""] if compiled else [])]


def write_readme(timings: dict[str, float]) -> Path:
    parts = ["# Benchmarks", "",
             f"Generated by `make bench` (`python benchmarks/run_all.py`) on "
             f"{dt.date.today().isoformat()}; every figure below is read from "
             "`benchmarks/results/*.json`, written by the script named in each section "
             "(each runs alone too).", ""]
    if timings:
        total = sum(timings.values())
        parts += ["Run times: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
                  + f"; total {total / 60:.1f} min (goal < 15 min: {_met(total < 900)}).", ""]
    parts += summary(timings)
    sections = (("compile_scaling", section_compile), ("simulate", section_simulate),
                ("compile_scaling_large", section_large), ("mcu", section_mcu),
                ("spinnaker2", section_spinnaker2), ("mcu_costs", section_mcu_costs),
                ("energy_truth", section_energy_truth), ("fidelity", section_fidelity),
                ("fidelity_layers", section_fidelity_layers))
    for name, render in sections:
        data = load(name)
        if data:
            parts += render(data)
    path = HERE / "README.md"
    path.write_text("\n".join(parts).rstrip() + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes everywhere")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--report-only", action="store_true", help="only rebuild README.md")
    args = parser.parse_args()
    if args.report_only:
        saved = load("run_all")
        timings = saved["seconds"] if saved else {}
    else:
        saved = load("run_all") if set(args.only) != set(BENCHMARKS) else None
        timings = {**(saved["seconds"] if saved else {}),
                   **{name: run(name, args.quick) for name in args.only}}
        (RESULTS / "run_all.json").write_text(json.dumps(
            {"seconds": timings, "quick": args.quick}, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {write_readme(timings)}")


if __name__ == "__main__":
    main()
