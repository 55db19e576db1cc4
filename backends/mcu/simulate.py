"""Run the generated C: build the project, stream the drive through its test harness on the host
or under QEMU, and read every probe back into a :class:`Trace`.

The drive is quantised exactly as the integer reference does it (``qg.quantize_input``), so the
returned trace compares with ``snnc.reference.integer.run_quantized`` by ``numpy.array_equal``.
Stream formats are documented in ``runtime_c/snnc_harness.h``.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from snnc.backends.mcu.check import check_program
from snnc.backends.mcu.emit import write_project
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.program import Program
from snnc.backends.mcu.toolchain import core_for, require, run
from snnc.errors import ToolchainError, UnsupportedError
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.integer import layer_latencies
from snnc.reference.mapped import spread
from snnc.reference.simulate import Trace
from snnc.target import Target

IN_MAGIC = 0x494E4E53
OUT_MAGIC = 0x4F4E4E53
VERSION = 2
RUNNERS = ("host", "qemu")
TOOLS = {"host": ("make", "cc"), "qemu": ("make", "arm-none-eabi-gcc", "qemu-system-arm")}
BUILD_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 1800.0


def encode_inputs(prog: Program, x_int: np.ndarray) -> bytes:
    """The harness input stream for integer inputs of shape (steps, batch, *input_shape)."""
    steps, batch = x_int.shape[:2]
    ct = prog.input.ctype
    per_sample = np.ascontiguousarray(
        np.swapaxes(x_int.reshape(steps, batch, -1), 0, 1)).astype(ct.numpy)
    head = struct.pack("<6I", IN_MAGIC, VERSION, steps, batch, prog.input.size, ct.bytes)
    return head + per_sample.tobytes()


def _groups(prog: Program, steps: int) -> list[tuple[list[int], int]]:
    """The probe stream of one sample in order: (probe indices, repeats) per phase for its
    steps, then for its once-per-inference values (``snnc_harness.h``)."""
    order = []
    for phase in range(prog.phases):
        for once, repeat in ((False, steps), (True, 1)):
            idx = [i for i, p in enumerate(prog.probes) if p.phase == phase and p.once == once]
            if idx:
                order.append((idx, repeat))
    return order


def decode_outputs(prog: Program, data: bytes, steps: int, batch: int) -> Trace:
    """The probe stream back as a Trace of int64 arrays (steps, batch, *shape); a value made
    once per inference (a QNN level) appears as its even spread over the steps, as in the
    reference (:func:`snnc.reference.mapped.mapped_trace`)."""
    n = len(prog.probes)
    head_bytes = 20 + 16 * n
    if len(data) < head_bytes:
        raise ToolchainError("the harness wrote a truncated output stream")
    magic, version, got_steps, got_batch, count = struct.unpack_from("<5I", data)
    layout = struct.unpack_from(f"<{4 * n}I", data, 20) if count == n else ()
    expected = tuple(v for p in prog.probes
                     for v in (math.prod(p.shape), p.ctype.bytes, p.phase, int(p.once)))
    if (magic, version, got_steps, got_batch, count) != (OUT_MAGIC, VERSION, steps, batch, n) \
            or layout != expected:
        raise ToolchainError("the harness output does not match the model's probe layout")
    groups = _groups(prog, steps)
    fields = []
    for g, (idx, repeat) in enumerate(groups):
        record = np.dtype([(f"p{i}", prog.probes[i].ctype.numpy,
                            (math.prod(prog.probes[i].shape),)) for i in idx])
        fields.append((f"g{g}", record, (repeat,)))
    sample = np.dtype(fields)
    body = data[head_bytes:]
    if len(body) != sample.itemsize * batch:
        raise ToolchainError(f"the harness wrote {len(body)} data bytes, expected "
                             f"{sample.itemsize * batch}")
    rows = np.frombuffer(body, dtype=sample, count=batch)
    values = {}
    for g, (idx, _) in enumerate(groups):
        for i in idx:
            probe = prog.probes[i]
            arr = np.swapaxes(rows[f"g{g}"][f"p{i}"], 0, 1).astype(np.int64)
            if probe.once:
                arr = spread(arr[0], steps, np.int64)
            values[i] = arr.reshape(steps, batch, *probe.shape)
    spikes = {p.layer: values[i] for i, p in enumerate(prog.probes) if p.kind == "spikes"}
    membranes = {p.layer: values[i] for i, p in enumerate(prog.probes) if p.kind == "v"}
    return Trace(output=values[0], spikes=spikes, v=membranes)


def build(project: Path, runner: str, sanitize: bool) -> None:
    if runner == "host":
        cmd = ["make", "-s", "host"] + (["SANITIZE=1"] if sanitize else [])
        run(cmd, project, BUILD_TIMEOUT_S, "host build (cc)")
    else:
        run(["make", "-s", "-j2", "elf"], project, BUILD_TIMEOUT_S, "arm-none-eabi-gcc build")


def execute(project: Path, runner: str, sanitize: bool) -> None:
    """Run the built harness on ``input.bin`` in ``project``, writing ``output.bin``."""
    if runner == "host":
        exe = project / "build" / ("host-sanitize" if sanitize else "host") / "snnc_run"
        run([str(exe), "input.bin", "output.bin"], project, RUN_TIMEOUT_S, "host run")
    else:
        run(["make", "-s", "qemu", "INPUT=input.bin", "OUTPUT=output.bin"], project,
            RUN_TIMEOUT_S, "QEMU run")


def simulate(qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str = "host",
             work_dir: Path | None = None, *, sanitize: bool = True,
             prog: Program | None = None) -> Trace:
    """Build the project in ``work_dir/mcu`` and run ``drive`` (steps, batch, *input_shape)
    through it on the host (``sanitize``: under ASan/UBSan) or under QEMU."""
    if runner not in RUNNERS:
        raise UnsupportedError(f"runner '{runner}' is not one of {', '.join(RUNNERS)}",
                               target=target.name)
    if work_dir is None:
        raise ToolchainError("simulate needs a work_dir for the build")
    core_for(target)  # fails early on a target without a known core
    for tool in TOOLS[runner]:
        require(tool)
    prog = prog or lower(qg, target.name, core_for(target).kernels)
    check_program(prog, target)
    project = Path(work_dir) / "mcu"
    write_project(prog, target, project, layer_latencies(qg.graph, qg.profile))
    x_int = qg.quantize_input(drive)
    steps, batch = x_int.shape[:2]
    (project / "input.bin").write_bytes(encode_inputs(prog, x_int))
    build(project, runner, sanitize)
    execute(project, runner, sanitize)
    return decode_outputs(prog, (project / "output.bin").read_bytes(), steps, batch)
