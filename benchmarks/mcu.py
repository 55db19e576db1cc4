"""Executed instructions of the MCU kernels: per MAC (dense int8) and per synaptic event
(event-driven), and the input spike rate below which the event-driven kernel is cheaper.

One synapse layer (N_IN -> N_OUT, int8 weights, bias) feeds a LIF layer. The MCU backend emits
it three times: with the dense kernel (SMLAD on Cortex-M4), with the event-driven kernel on
dense weight columns, and event-driven on CSR columns of a pruned copy. Binary input spikes with
exactly ``rate * N_IN`` active inputs per step drive each build. Instruction counts cover the
synapse kernels only (the event-driven count includes building the event list):

- host: ``valgrind --tool=callgrind`` on the -O2 x86-64 harness, collection toggled on the
  kernel functions (deterministic, but x86 instructions);
- qemu: the QEMU TCG plugin of ``snnc.backends.mcu.measure`` counts Cortex-M4 Thumb-2
  instructions executed inside the kernels' address ranges of the -Os image on mps2-an386.

Event-driven cost is linear in the rate, ``fixed + per_rate * r``; the crossover is where it
meets the dense cost. The script checks that every measured rate below the crossover is cheaper
event-driven (and every rate above it is not), prints a table and writes
``benchmarks/results/mcu.json``.

    .venv/bin/python benchmarks/mcu.py [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.mcu.emit import write_project
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
# Entry points per kernel (callgrind counts their callees too) and, for the address-range count
# under QEMU, the helpers they call (absent when the compiler inlined them).
KERNELS = {
    "dense": ("snnc_dense_s8_s32",),
    "event": ("snnc_events_s8", "snnc_event_dense_s32"),
    "event-csr": ("snnc_events_s8", "snnc_event_csr_s32"),
}
HELPERS = {
    "dense": ("snnc_dot2_smlad", "snnc_dot_smlad"),
    "event": ("snnc_fill_bias_s32",),
    "event-csr": ("snnc_fill_bias_s32",),
}

@dataclass(frozen=True)
class Config:
    n_in: int
    n_out: int
    steps: int
    batch: int
    rates: tuple[float, ...]


def layer_graph(cfg: Config, kernel: str, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, (cfg.n_out, cfg.n_in)).astype(F32)
    if kernel == "event-csr":
        w[rng.random(w.shape) >= CSR_DENSITY] = 0
    attrs = {"kernel": "dense"} if kernel == "dense" else {
        "kernel": "event", "storage": "csr" if kernel == "event-csr" else "dense"}
    return Graph((
        Input("spikes", (), shape=(cfg.n_in,)),
        Dense("syn", ("spikes",), weight=w, bias=rng.normal(0, 0.1, cfg.n_out).astype(F32))
        .with_attrs(**attrs),
        LIF("lif", ("syn",), beta=F32(0.9), threshold=F32(8.0)),
    ), output="lif", timesteps=cfg.steps, encoding="rate", name=f"bench_{kernel}")


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


def function_ranges(elf: Path, functions: tuple[str, ...],
                    helpers: tuple[str, ...]) -> list[tuple[int, int]]:
    """Address ranges of the kernel functions (all required) and helpers (where present)."""
    nm = run(["arm-none-eabi-nm", "-S", str(elf)], elf.parent, 60, "arm-none-eabi-nm").stdout
    found: dict[str, tuple[int, int]] = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in (*functions, *helpers):
            lo = int(parts[0], 16) & ~1  # clear the Thumb bit
            found[parts[3]] = (lo, lo + int(parts[1], 16))
    missing = [f for f in functions if f not in found]
    if missing:
        raise RuntimeError(f"kernel symbols missing from {elf.name}: {missing}")
    return sorted(found.values())


def qemu_count(project: Path, machine: str, plugin: Path, kernel: str, cpu: str) -> int:
    elf = project / "build" / cpu / "snnc_qemu.elf"
    ranges = function_ranges(elf, KERNELS[kernel], HELPERS[kernel])
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


def measure(cfg: Config, tool: str, work: Path, plugin: Path | None = None) -> dict[str, Any]:
    """Instructions per step of each kernel at each rate, with the derived figures."""
    target = load_target("cortex-m4")
    core = core_for(target)
    steps_total = cfg.steps * cfg.batch
    per_step: dict[str, list[float]] = {}
    nonzero: dict[str, int] = {}
    for kernel, functions in KERNELS.items():
        graph = layer_graph(cfg, kernel)
        qg: QuantizedGraph = quantize(graph, target.numeric, target=target.name)
        prog = lower(qg, target.name)
        project = work / f"{tool}-{kernel}"
        write_project(prog, target, project)
        run(["make", "-s", "host" if tool == "callgrind" else "elf"], project, 300, "build")
        nonzero[kernel] = int(np.count_nonzero(np.asarray(qg.q("syn").weight)))
        per_step[kernel] = []
        for rate in cfg.rates:
            drive = spike_drive(cfg, rate)
            (project / "input.bin").write_bytes(encode_inputs(prog, qg.quantize_input(drive)))
            if tool == "callgrind":
                count = callgrind_count(project, functions)
            else:
                assert plugin is not None
                count = qemu_count(project, core.qemu_machine, plugin, kernel, core.cpu)
            per_step[kernel].append(count / steps_total)
    macs = cfg.n_in * cfg.n_out
    dense = float(np.mean(per_step["dense"]))
    result: dict[str, Any] = {"instructions_per_step": {k: [round(v, 1) for v in vals]
                                                        for k, vals in per_step.items()}}
    result["dense_instructions_per_mac"] = round(dense / macs, 3)
    for kernel in ("event", "event-csr"):
        fixed, per_rate = fit_line(list(cfg.rates), per_step[kernel])
        fan_out = nonzero[kernel] / cfg.n_in  # synapses one input event reaches
        events_at_full_rate = cfg.n_in * fan_out
        crossover = (dense - fixed) / per_rate if per_rate > 0 else float("inf")
        below = [r for r, c in zip(cfg.rates, per_step[kernel], strict=True) if c < dense]
        above = [r for r, c in zip(cfg.rates, per_step[kernel], strict=True) if c >= dense]
        result[kernel] = {
            "instructions_per_synaptic_event": round(per_rate / events_at_full_rate, 3),
            "fixed_instructions_per_step": round(fixed, 1),
            "weight_density": round(nonzero[kernel] / macs, 3),
            "crossover_rate": round(crossover, 4),
            "cheaper_than_dense_below_crossover": all(r < crossover for r in below)
            and all(r >= crossover for r in above),
        }
    return result


def table(name: str, res: dict[str, Any], cfg: Config) -> str:
    lines = [f"{name}: {cfg.n_in}->{cfg.n_out} synapses, {cfg.steps} steps x {cfg.batch}",
             f"  dense int8: {res['dense_instructions_per_mac']:.3f} instructions per MAC",
             f"  {'rate':>6} {'dense':>10} {'event':>10} {'event-csr':>10}   (per step)"]
    for i, rate in enumerate(cfg.rates):
        row = [res["instructions_per_step"][k][i] for k in ("dense", "event", "event-csr")]
        lines.append(f"  {rate:>6.2f} " + " ".join(f"{v:>10.0f}" for v in row))
    for kernel in ("event", "event-csr"):
        r = res[kernel]
        lines.append(
            f"  {kernel}: {r['instructions_per_synaptic_event']:.2f} instructions per synaptic "
            f"event (+{r['fixed_instructions_per_step']:.0f} per step), weight density "
            f"{r['weight_density']:.2f}, beats dense below rate {r['crossover_rate']:.3f}"
            f" ({'confirmed' if r['cheaper_than_dense_below_crossover'] else 'NOT confirmed'})")
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
    with tempfile.TemporaryDirectory(prefix="snnc-bench-mcu-") as tmp:
        work = Path(tmp)
        if shutil.which("valgrind") is None:
            print("valgrind not installed: no host counts")
        else:
            res = measure(cfg, "callgrind", work)
            report["host_callgrind_x86_64_O2"] = res
            print(table("host (valgrind callgrind, x86-64 -O2)", res, cfg))
            ok &= all(res[k]["cheaper_than_dense_below_crossover"]
                      for k in ("event", "event-csr"))
        if args.no_qemu or not (shutil.which("qemu-system-arm")
                                and shutil.which("arm-none-eabi-gcc")):
            report["qemu_cortex_m4_Os"] = None
        else:
            res = measure(cfg, "qemu", work, build_plugin(work))
            report["qemu_cortex_m4_Os"] = res
            print(table("Cortex-M4 (QEMU mps2-an386, Thumb-2 -Os)", res, cfg))
            ok &= all(res[k]["cheaper_than_dense_below_crossover"]
                      for k in ("event", "event-csr"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
