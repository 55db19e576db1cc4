"""Executed instructions of the MCU kernels: per MAC (dense int8) and per synaptic event
(event-driven), the input spike rate below which the event-driven kernel is cheaper, and the
flash and RAM of the example projects.

One synapse layer (N_IN -> N_OUT, int8 weights, bias) reads binary spikes and feeds a LIF
layer. The MCU backend emits
it with the dense kernel, with the event-driven kernel on dense weight columns (16-bit sums: the
range analysis proves them exact for this layer), with the 32-bit event kernel (the portable
kernel set's choice, built for the same core) and event-driven on CSR columns of a pruned copy.
Binary input spikes with exactly ``rate * N_IN`` active inputs per step drive each build.
Instruction counts cover the synapse kernels only (the event-driven count includes building the
event list):

- host: ``valgrind --tool=callgrind`` on the -O2 x86-64 harness (portable C), collection toggled
  on the kernel functions (deterministic, but x86 instructions);
- qemu: the QEMU TCG plugin of ``snnc.backends.mcu.measure`` counts Thumb-2 instructions
  executed inside the address ranges of the dense family's functions (``snnc_dense.c``) of the
  -Os image: Cortex-M4 (DSP: SMLAD, SXTAB16) on mps2-an386 and Cortex-M55 (Helium) on
  mps3-an547.

Event-driven cost is linear in the rate, ``fixed + per_rate * r`` (a least-squares fit gives
the cost per synaptic event); the crossover is the rate where the measured cost first reaches
the dense cost. The script checks that the curve does not cross back: every measured rate above
the crossover is not cheaper event-driven.

Memory: the digits and spikeformer examples are compiled for each MCU target and their model
library linked into a firmware that only runs it (start-up code and a main calling snnc_init and
snnc_step; no test harness, whose probe table --gc-sections then drops). Flash is the model's
share of that image (code, weights and parameters) against the goal raw weight bytes + 10 % +
4 KB, RAM its .data + .bss, which must equal the planned state + arena bytes (there is no heap).
The model's flash in the QEMU test image (probe table included) is reported beside it.
Prints tables and writes ``benchmarks/results/mcu.json``.

    .venv/bin/python benchmarks/mcu.py [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.mcu.emit import parse_map, write_project
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.measure import build_plugin
from snnc.backends.mcu.simulate import encode_inputs
from snnc.backends.mcu.toolchain import core_for, run
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.target import load_target

F32 = np.float32
RATES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)
QUICK_RATES = (0.0, 0.05, 0.25, 1.0)
CSR_DENSITY = 0.25
# Builds of the layer: (name, kernel attributes, kernel set override). "event-32" lowers with the
# portable kernel set, whose event kernel keeps 32-bit sums, and builds it for the same core.
BUILDS = (("dense", {"kernel": "dense"}, None),
          ("event", {"kernel": "event", "storage": "dense"}, None),
          ("event-32", {"kernel": "event", "storage": "dense"}, "c"),
          ("event-csr", {"kernel": "event", "storage": "csr"}, None))
EVENT_BUILDS = ("event", "event-32", "event-csr")
# The builds the compiler emits for this layer, whose crossover the exit status checks (the
# 32-bit build is there for its cost per event).
CHECKED_BUILDS = ("event", "event-csr")
QEMU_TARGETS = ("cortex-m4", "cortex-m55")
# The memory table also links for Cortex-M7 (same kernels as M4; no QEMU machine needed).
MEMORY_TARGETS = ("cortex-m4", "cortex-m55", "cortex-m7")
# Goals (instructions): dense per MAC and event-driven per synaptic event, per core.
GOALS = {"cortex-m4": {"dense": 1.5, "event": 4.0, "event-32": 4.0, "event-csr": 5.0},
         "cortex-m55": {"dense": 0.35, "event": 2.0, "event-32": 2.0}}
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MEMORY_MODELS = {"digits": (EXAMPLES / "digits" / "digits.onnx",
                            EXAMPLES / "digits" / "calib_x.npy"),
                 "spikeformer": (EXAMPLES / "spikeformer" / "model.onnx",
                                 EXAMPLES / "spikeformer" / "calib_x.npy")}
FLASH_SLACK_FRACTION, FLASH_SLACK_BYTES = 0.10, 4096

@dataclass(frozen=True)
class Config:
    n_in: int
    n_out: int
    steps: int
    batch: int
    rates: tuple[float, ...]


def layer_graph(cfg: Config, build: str, attrs: dict[str, str], seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, (cfg.n_out, cfg.n_in)).astype(F32)
    if build == "event-csr":
        w[rng.random(w.shape) >= CSR_DENSITY] = 0
    # The input passes through a LIF layer that spikes exactly where the input is 1 (no
    # leak, threshold 0.5): the synapses then read a spike tensor, which the compiler knows to
    # be binary (a quantized network input could hold any int8 value).
    return Graph((
        Input("x", (), shape=(cfg.n_in,)),
        LIF("spikes", ("x",), beta=F32(0.0), threshold=F32(0.5)),
        Dense("syn", ("spikes",), weight=w, bias=rng.normal(0, 0.1, cfg.n_out).astype(F32))
        .with_attrs(**attrs),
        LIF("lif", ("syn",), beta=F32(0.9), threshold=F32(8.0)),
    ), output="lif", timesteps=cfg.steps, encoding="rate", name=f"bench_{build}")


def spike_drive(cfg: Config, rate: float, seed: int = 1) -> np.ndarray:
    """(steps, batch, n_in) binary spikes, exactly round(rate * n_in) active per step."""
    rng = np.random.default_rng(seed)
    active = round(rate * cfg.n_in)
    drive = np.zeros((cfg.steps, cfg.batch, cfg.n_in), F32)
    for t in range(cfg.steps):
        for b in range(cfg.batch):
            drive[t, b, rng.choice(cfg.n_in, active, replace=False)] = 1.0
    return drive


def callgrind_count(project: Path, functions: tuple[str, ...]) -> int:
    out = project / "callgrind.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           *(f"--toggle-collect={fn}" for fn in functions),
           "build/host/snnc_run", "input.bin", "output.bin"]
    run(cmd, project, 600, "callgrind")
    text = out.read_text()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if match is None:
        raise RuntimeError("callgrind wrote no instruction total")
    return int(match.group(1))


def _functions(nm_output: str) -> dict[str, tuple[int, int]]:
    found = {}
    for line in nm_output.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Tt":
            lo = int(parts[0], 16) & ~1  # clear the Thumb bit
            found[parts[3]] = (lo, lo + int(parts[1], 16))
    return found


def family_ranges(project: Path, cpu: str, kernels: tuple[str, ...]) -> list[tuple[int, int]]:
    """Address ranges in the image of every function of snnc_dense.c (the kernels and their
    out-of-line helpers); the kernels the model calls must be among them."""
    build = project / "build" / cpu
    own = _functions(run(["arm-none-eabi-nm", "-S", str(build / "snnc_dense.o")], project, 60,
                         "arm-none-eabi-nm").stdout)
    image = _functions(run(["arm-none-eabi-nm", "-S", str(build / "snnc_qemu.elf")], project,
                           60, "arm-none-eabi-nm").stdout)
    missing = [f for f in kernels if f not in image]
    if missing:
        raise RuntimeError(f"kernel symbols missing from the image: {missing}")
    return sorted(rng for name, rng in image.items() if name in own)


def qemu_count(project: Path, machine: str, plugin: Path, cpu: str,
               kernels: tuple[str, ...]) -> int:
    elf = project / "build" / cpu / "snnc_qemu.elf"
    ranges = family_ranges(project, cpu, kernels)
    args = ",".join(f"r{i}=0x{lo:x}:0x{hi:x}" for i, (lo, hi) in enumerate(ranges))
    count_file = project / "insns.txt"
    run(["qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none",
         "-semihosting-config", "enable=on,target=native,arg=snnc,arg=input.bin,arg=output.bin",
         "-plugin", f"{plugin},{args},out={count_file}", "-kernel", str(elf)],
        project, 600, "QEMU run")
    return int(count_file.read_text().split()[0])


def fit_line(rates: list[float], counts: list[float]) -> tuple[float, float]:
    """Least-squares ``fixed + per_rate * r``."""
    per_rate, fixed = np.polyfit(np.asarray(rates), np.asarray(counts), 1)
    return float(fixed), float(per_rate)


def crossing(rates: list[float], costs: list[float], dense: float) -> float:
    """The input rate where the measured event-driven cost first reaches the dense cost,
    interpolated between the two measured rates around it (inf: cheaper at every rate)."""
    if costs[0] >= dense:
        return 0.0
    for (r0, c0), (r1, c1) in itertools.pairwise(zip(rates, costs, strict=True)):
        if c0 < dense <= c1:
            return r0 + (dense - c0) * (r1 - r0) / (c1 - c0)
    return float("inf")


def measure(cfg: Config, tool: str, work: Path, target_name: str,
            plugin: Path | None = None) -> dict[str, Any]:
    """Instructions per step of each build at each rate, with the derived figures."""
    target = load_target(target_name)
    core = core_for(target)
    steps_total = cfg.steps * cfg.batch
    per_step: dict[str, list[float]] = {}
    nonzero: dict[str, int] = {}
    functions: dict[str, list[str]] = {}
    for build, attrs, kernel_set in BUILDS:
        graph = layer_graph(cfg, build, attrs)
        qg: QuantizedGraph = quantize(graph, target.numeric, target=target.name)
        prog = lower(qg, target.name, kernel_set or core.kernels)
        kernels = tuple(sorted({c.fn for c in prog.calls if c.fn.startswith(
            ("snnc_dense", "snnc_event"))}))
        functions[build] = list(kernels)
        project = work / f"{tool}-{target_name}-{build}"
        write_project(prog, target, project)
        run(["make", "-s", "host" if tool == "callgrind" else "elf"], project, 300, "build")
        nonzero[build] = int(np.count_nonzero(np.asarray(qg.q("syn").weight)))
        per_step[build] = []
        for rate in cfg.rates:
            drive = spike_drive(cfg, rate)
            (project / "input.bin").write_bytes(encode_inputs(prog, qg.quantize_input(drive)))
            if tool == "callgrind":
                entry = kernels + (("snnc_events_s8",) if build != "dense" else ())
                count = callgrind_count(project, entry)
            else:
                assert plugin is not None
                count = qemu_count(project, core.qemu_machine, plugin, core.cpu, kernels)
            per_step[build].append(count / steps_total)
    macs = cfg.n_in * cfg.n_out
    dense = float(np.mean(per_step["dense"]))
    result: dict[str, Any] = {"instructions_per_step": {k: [round(v, 1) for v in vals]
                                                        for k, vals in per_step.items()},
                              "kernels": functions}
    result["dense_instructions_per_mac"] = round(dense / macs, 3)
    for build in EVENT_BUILDS:
        fixed, per_rate = fit_line(list(cfg.rates), per_step[build])
        fan_out = nonzero[build] / cfg.n_in  # synapses one input event reaches
        events_at_full_rate = cfg.n_in * fan_out
        crossover = crossing(list(cfg.rates), per_step[build], dense)
        below = [r for r, c in zip(cfg.rates, per_step[build], strict=True) if c < dense]
        above = [r for r, c in zip(cfg.rates, per_step[build], strict=True) if c >= dense]
        result[build] = {
            "instructions_per_synaptic_event": round(per_rate / events_at_full_rate, 3),
            "fixed_instructions_per_step": round(fixed, 1),
            "weight_density": round(nonzero[build] / macs, 3),
            "crossover_rate": round(crossover, 4),
            "cheaper_than_dense_below_crossover": all(r < crossover for r in below)
            and all(r >= crossover for r in above),
        }
    return result


def table(name: str, res: dict[str, Any], cfg: Config) -> str:
    lines = [f"{name}: {cfg.n_in}->{cfg.n_out} synapses, {cfg.steps} steps x {cfg.batch}",
             f"  dense int8: {res['dense_instructions_per_mac']:.3f} instructions per MAC",
             f"  {'rate':>6} " + " ".join(f"{b:>10}" for b, _, _ in BUILDS) + "   (per step)"]
    for i, rate in enumerate(cfg.rates):
        row = [res["instructions_per_step"][b][i] for b, _, _ in BUILDS]
        lines.append(f"  {rate:>6.2f} " + " ".join(f"{v:>10.0f}" for v in row))
    for build in EVENT_BUILDS:
        r = res[build]
        lines.append(
            f"  {build}: {r['instructions_per_synaptic_event']:.2f} instructions per synaptic "
            f"event (+{r['fixed_instructions_per_step']:.0f} per step), weight density "
            f"{r['weight_density']:.2f}, beats dense below rate {r['crossover_rate']:.3f}"
            f" ({'confirmed' if r['cheaper_than_dense_below_crossover'] else 'NOT confirmed'})")
    return "\n".join(lines)


def goal_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each measured figure beside its goal."""
    rows = []
    for target_name, goals in GOALS.items():
        res = results.get(target_name)
        if res is None:
            continue
        for build, goal in goals.items():
            value = (res["dense_instructions_per_mac"] if build == "dense"
                     else res[build]["instructions_per_synaptic_event"])
            rows.append({"target": target_name, "kernel": build,
                         "unit": "MAC" if build == "dense" else "synaptic event",
                         "value": value, "goal": goal, "met": value <= goal})
    return rows


# A firmware's use of the model: what a deployment links (no test harness, no probe table).
FIRMWARE_MAIN = """#include "model.h"
int main(void);
static snnc_input_t snnc_x[SNNC_INPUT_SIZE];
static snnc_output_t snnc_y[SNNC_OUTPUT_SIZE];
int main(void)
{
    int spikes = 0;
    (void)snnc_init();
    for (int t = 0; t < SNNC_TIMESTEPS; ++t) {
        (void)snnc_step(snnc_x, snnc_y);
        spikes += snnc_y[0] != 0;
    }
    (void)snnc_finish(snnc_y);
    return spikes + (snnc_y[0] != 0);
}
"""


def deployed_model(project: Path, cpu: str, cflags: str) -> dict[str, int]:
    """Flash and RAM of the model objects in a firmware that only runs it: the project's
    library objects (built without the harness's observer hook) linked with the start-up code
    and FIRMWARE_MAIN, which runs the steps and snnc_finish (the QNN stages of a mixed model);
    --gc-sections drops what only the test harness uses: the probe table and its names."""
    run(["make", "-s", cpu], project, 300, "model library build")
    (project / "firmware.c").write_text(FIRMWARE_MAIN)
    elf = project / "build" / "firmware.elf"
    map_file = project / "build" / "firmware.map"
    objects = sorted(str(o.relative_to(project)) for o in (project / "build" / cpu).glob("*.o")
                     if o.name.startswith(("model.", "weights.", "snnc_"))
                     and o.name != "snnc_harness.o")
    run(["arm-none-eabi-gcc", *cflags.split(), "-std=c99", "-Os", "-ffunction-sections",
         "-fdata-sections", "-I.", "firmware.c", "startup.c", *objects,
         "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", f"-Wl,-Map={map_file}",
         "-T", "link.ld", "-o", str(elf)], project, 300, "firmware link")
    rows: dict[str, int] = {"flash_bytes": 0, "ram_bytes": 0}
    for piece in parse_map(map_file.read_text()):
        if not piece.obj.startswith(("model.", "weights.", "snnc_")):
            continue
        if piece.section.startswith((".text", ".rodata")):
            rows["flash_bytes"] += piece.size
        elif piece.section.startswith(".data"):
            rows["flash_bytes"] += piece.size
            rows["ram_bytes"] += piece.size
        elif piece.section.startswith((".bss", "COMMON")):
            rows["ram_bytes"] += piece.size
    return rows


def memory_rows(work: Path, targets: tuple[str, ...]) -> list[dict[str, Any]]:
    """Flash and RAM of the example projects, as linked by arm-none-eabi-gcc."""
    from snnc.api import compile as compile_model
    from snnc.api import load

    rows = []
    for model, (onnx, calib) in MEMORY_MODELS.items():
        graph = load(onnx)
        x = np.load(calib)
        for target_name in targets:
            result = compile_model(graph, target_name, work / f"mem-{model}-{target_name}",
                                   calib=x)
            memory = json.loads((result.artifact.out_dir / "memory.json").read_text())
            core = core_for(load_target(target_name))
            measured = deployed_model(result.artifact.out_dir, core.cpu, core.cflags)
            harness_image = memory["measured"]["model"]
            qg = result.quantized
            weights = sum(int(np.asarray(qg.q(lay.name).weight).size) for lay in qg.graph
                          if qg.q(lay.name).weight is not None)
            budget = int(weights * (1 + FLASH_SLACK_FRACTION)) + FLASH_SLACK_BYTES
            planned = memory["estimate"]["state_bytes"] + memory["estimate"]["arena_bytes"]
            rows.append({
                "model": model, "target": target_name, "weight_bytes": weights,
                "flash_bytes": measured["flash_bytes"], "flash_budget_bytes": budget,
                "flash_bytes_in_test_image": harness_image["flash_bytes"],
                "flash_overhead_bytes": measured["flash_bytes"] - weights,
                "flash_met": measured["flash_bytes"] <= budget,
                "ram_bytes": measured["ram_bytes"],
                "state_bytes": memory["estimate"]["state_bytes"],
                "arena_bytes": memory["estimate"]["arena_bytes"],
                "ram_equals_state_plus_arena": measured["ram_bytes"] == planned,
                "stack_bytes": max(memory["measured"]["stack"]["worst_case_bytes"].values()),
                # widths the fidelity search chose on the calibration data (docs/numerics.md)
                "input_bits": qg.profile.input_bits, "widened_weight_bits": dict(qg.widened),
            })
    return rows


def memory_table(rows: list[dict[str, Any]]) -> str:
    lines = ["Example projects (model in a firmware, no harness; flash goal: weights + 10 % + "
             "4 KB, RAM = state + arena)",
             f"  {'model':<12} {'target':<11} {'weights':>8} {'flash':>8} {'budget':>8} "
             f"{'RAM':>7} {'state':>7} {'arena':>7} {'stack':>6}  goals"]
    for r in rows:
        ok = ("met" if r["flash_met"] and r["ram_equals_state_plus_arena"] else "NOT met")
        lines.append(f"  {r['model']:<12} {r['target']:<11} {r['weight_bytes']:>8} "
                     f"{r['flash_bytes']:>8} {r['flash_budget_bytes']:>8} {r['ram_bytes']:>7} "
                     f"{r['state_bytes']:>7} {r['arena_bytes']:>7} {r['stack_bytes']:>6}  {ok}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small layer, few rates")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results/mcu.json")
    parser.add_argument("--no-qemu", action="store_true", help="host callgrind only")
    args = parser.parse_args(argv)
    cfg = (Config(32, 16, 4, 1, QUICK_RATES) if args.quick
           else Config(256, 128, 16, 2, RATES))
    report: dict[str, Any] = {"config": {"n_in": cfg.n_in, "n_out": cfg.n_out,
                                         "steps": cfg.steps, "batch": cfg.batch,
                                         "rates": list(cfg.rates), "csr_density": CSR_DENSITY}}
    ok = True
    arm = bool(shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc"))
    with tempfile.TemporaryDirectory(prefix="snnc-bench-mcu-") as tmp:
        work = Path(tmp)
        if shutil.which("valgrind") is None:
            print("valgrind not installed: no host counts")
        else:
            res = measure(cfg, "callgrind", work, "cortex-m4")
            report["host_callgrind_x86_64_O2"] = res
            print(table("host (valgrind callgrind, x86-64 -O2, portable C)", res, cfg))
            ok &= all(res[k]["cheaper_than_dense_below_crossover"] for k in CHECKED_BUILDS)
        qemu: dict[str, dict[str, Any]] = {}
        if not args.no_qemu and arm:
            plugin = build_plugin(work)
            for target_name in QEMU_TARGETS:
                res = measure(cfg, "qemu", work, target_name, plugin)
                qemu[target_name] = res
                core = core_for(load_target(target_name))
                print(table(f"{target_name} (QEMU {core.qemu_machine}, Thumb-2 -Os, "
                            f"{core.kernels} kernels)", res, cfg))
                ok &= all(res[k]["cheaper_than_dense_below_crossover"] for k in CHECKED_BUILDS)
        report["qemu_Os"] = qemu or None
        report["goals"] = goal_rows(qemu) if not args.quick else []
        for row in report["goals"]:
            print(f"  goal {row['target']} {row['kernel']}: {row['value']:.3f} per {row['unit']}"
                  f" (<= {row['goal']}: {'met' if row['met'] else 'NOT met'})")
        if not args.quick and arm:
            report["memory"] = memory_rows(work, MEMORY_TARGETS)
            print(memory_table(report["memory"]))
        else:
            report["memory"] = None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
