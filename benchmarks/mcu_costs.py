"""The Cortex-M4 cost parameters of the energy model, measured on snnc's own kernels.

Each figure is the number of Thumb-2 instructions the generated C executes under QEMU (the TCG
plugin of :mod:`snnc.backends.mcu.measure`, counting only the named kernel functions) divided by
the operations it did, times ``instruction_pj`` of the target (one cycle per instruction). The
projects are lowered for the core's kernel set, as ``snnc compile`` emits them:

- per MAC of the dense int8 kernel on QNN counts (``snnc_dense_blk4_s8_s32``, SMLAD);
- per input and step summed into a QNN count (``snnc_add_s8_s8``);
- per QNN output level (``snnc_multilevel_s32_s8``, once per inference);
- per synaptic event and per input event of the event-driven kernel (``snnc_event_dense16_s32``,
  two 16-bit sums per word, at several rates and two fan-outs:
  ``per_rate = n_in (overhead + fan_out * per_synapse)``);
- per input and step of the event-list scan (``snnc_events_s8``);
- per neuron and step of the LIF update plus the bias fill of its synapse kernel.

With ``--write`` the values replace the measured keys of ``targets/cortex-m4.toml`` [energy],
each with a comment giving the measurement; the script prints a table and writes
``benchmarks/results/mcu_costs.json``.

    .venv/bin/python benchmarks/mcu_costs.py [--write] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.mcu.emit import write_project
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.measure import build_plugin, qemu_instructions, symbol_ranges
from snnc.backends.mcu.simulate import encode_inputs
from snnc.backends.mcu.toolchain import core_for, run
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.passes.quantize import quantize
from snnc.passes.snn_to_qnn import convert_quantized
from snnc.target import load_target

ROOT = Path(__file__).resolve().parents[1]
TOML = ROOT / "targets" / "cortex-m4.toml"
F32 = np.float32
N_IN, STEPS, BATCH = 256, 8, 2
FAN_OUTS = (64, 128)
RATES = (0.05, 0.2, 0.5)
# The functions of each kernel as the compiler emits it for the core's kernel set (static helpers
# that GCC keeps out of line count with their kernel; absent ones are skipped).
DENSE = ("snnc_dense_s8_s32", "snnc_dense_blk4_s8_s32", "snnc_block4_smlad", "snnc_dot1_c")
EVENT = ("snnc_event_dense_s32", "snnc_event_dense16_s32")


def _graph(n_out: int, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    w = rng.normal(0.05, 0.3, (n_out, N_IN)).astype(F32)
    return Graph((
        Input("spikes", (), shape=(N_IN,)),
        Dense("syn", ("spikes",), weight=w, bias=rng.normal(0, 0.05, n_out).astype(F32))
        .with_attrs(kernel="event", storage="dense"),
        LIF("lif", ("syn",), beta=F32(1.0), threshold=F32(4.0), reset="subtract"),
    ), output="lif", timesteps=STEPS, encoding="rate", name=f"costs_{n_out}")


def _spikes(rate: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    drive = np.zeros((STEPS, BATCH, N_IN), F32)
    for t in range(STEPS):
        for b in range(BATCH):
            drive[t, b, rng.choice(N_IN, round(rate * N_IN), replace=False)] = 1.0
    return drive


def _count(project: Path, plugin: Path, functions: tuple[str, ...]) -> int:
    target = load_target("cortex-m4")
    elf = project / "build" / core_for(target).cpu / "snnc_qemu.elf"
    ranges = symbol_ranges(elf, set(functions))
    return qemu_instructions(project, target, plugin, ranges)


def _build(qg, drive: np.ndarray, folder: Path) -> Path:
    """The project ``snnc compile -t cortex-m4`` writes (the core's DSP kernel set)."""
    target = load_target("cortex-m4")
    prog = lower(qg, target.name, core_for(target).kernels)
    write_project(prog, target, folder)
    (folder / "input.bin").write_bytes(encode_inputs(prog, qg.quantize_input(drive)))
    run(["make", "-s", "-j2", "elf"], folder, 600, "arm-none-eabi-gcc build")
    return folder


def measure(work: Path) -> dict[str, Any]:
    target = load_target("cortex-m4")
    plugin = build_plugin(work)
    runs = STEPS * BATCH
    out: dict[str, Any] = {"n_in": N_IN, "steps": STEPS, "batch": BATCH}
    slopes = {}
    for n_out in FAN_OUTS:
        qg = quantize(_graph(n_out), target.numeric, target=target.name)
        per_step = []
        for rate in RATES:
            project = _build(qg, _spikes(rate), work / f"snn_{n_out}_{rate}")
            per_step.append(_count(project, plugin, EVENT) / runs)
            if n_out == FAN_OUTS[-1] and rate == RATES[-1]:
                out["scan_per_input"] = _count(project, plugin, ("snnc_events_s8",)) / (
                    runs * N_IN)
                neuron = _count(project, plugin, ("snnc_neuron_s32_s32",))
                fill = _count(project, plugin, ("snnc_fill_bias_s32",))
                out["neuron_per_update"] = (neuron + fill) / (runs * n_out)
        slope, _ = np.polyfit(np.asarray(RATES) * N_IN, np.asarray(per_step), 1)
        slopes[n_out] = float(slope)  # instructions per input event at this fan-out
    (lo, s_lo), (hi, s_hi) = sorted(slopes.items())
    out["per_synaptic_event"] = (s_hi - s_lo) / (hi - lo)
    out["per_input_event"] = s_lo - lo * out["per_synaptic_event"]
    twin = convert_quantized(quantize(_graph(FAN_OUTS[-1]), target.numeric,
                                      target=target.name), ["lif"])
    project = _build(twin, _spikes(0.2), work / "qnn")
    macs = N_IN * FAN_OUTS[-1] * BATCH
    out["per_mac"] = _count(project, plugin, DENSE) / macs
    out["count_per_input"] = _count(project, plugin, ("snnc_add_s8_s8",)) / (runs * N_IN)
    out["level_per_output"] = _count(project, plugin, ("snnc_multilevel_s32_s8",)) / (
        BATCH * FAN_OUTS[-1])
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


SOURCE = ("Cortex-M4F at ~156 pJ/cycle (nRF52840 class), instruction costs of snnc's kernels "
          "measured under QEMU (benchmarks/mcu_costs.py)")
KEYS = {  # TOML key: (measured figure, what one unit is)
    "add_pj": ("per_mac", "half of a dense int8 MAC (SMLAD kernel on QNN counts)"),
    "mul_pj": ("per_mac", "the other half of a dense int8 MAC"),
    "synop_pj": ("per_synaptic_event", "one synapse of an input event (event kernel)"),
    "event_overhead_pj": ("per_input_event", "one input event: its weight column set-up"),
    "neuron_update_pj": ("neuron_per_update", "one LIF update plus its bias fill, per step"),
    "scan_pj": ("scan_per_input", "one input per step in the event-list scan"),
    "count_pj": ("count_per_input", "one input per step added into a QNN count"),
    "level_pj": ("level_per_output", "one QNN level (64-bit division), once per inference"),
}


def write_toml(figures: dict[str, Any], path: Path = TOML) -> None:
    """Replace the measured keys of ``path``'s [energy] table, keeping everything else."""
    text = path.read_text()
    energy = text.index("[energy]")
    head, body = text[:energy], text[energy:]
    pj = float(re.search(r"^instruction_pj = ([0-9.]+)", body, re.M).group(1))
    for key, (figure, unit) in KEYS.items():
        share = 0.5 if key in ("add_pj", "mul_pj") else 1.0
        value = round(figures[figure] * share * pj, 2)
        literal = f"{{ 32 = {value} }}" if key in ("add_pj", "mul_pj") else f"{value}"
        comment = f"# measured: {figures[figure] * share:.3f} instructions, {unit}"
        line = f"{key} = {literal}"
        pattern = re.compile(rf"^{key} = .*$", re.M)
        block = f"{line}  {comment}"
        if pattern.search(body):
            body = re.sub(rf"(^# measured: .*\n)?^{key} = .*$",
                          block.replace("\\", "\\\\"), body, count=1, flags=re.M)
        else:
            body = body.rstrip("\n") + "\n" + block + "\n"
    body = re.sub(r"^source = .*$", f'source = "{SOURCE}"', body, count=1, flags=re.M)
    body = re.sub(r"^# Cycle counts are .*$", "# Costs measured on snnc's own kernels under QEMU "
                  "by benchmarks/mcu_costs.py (--write).", body, count=1, flags=re.M)
    path.write_text(head + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update targets/cortex-m4.toml")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mcu_costs.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="snnc-costs-") as work:
        figures = measure(Path(work))
    print("| figure | Cortex-M4 instructions |\n|---|---:|")
    for key, value in figures.items():
        if isinstance(value, float):
            print(f"| {key} | {value} |")
    Path(args.out).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    if args.write:
        write_toml(figures)
        print(f"wrote {TOML.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
