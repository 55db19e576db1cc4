"""Measured cost of the generated C: Cortex-M4 instructions executed per stage under QEMU.

A small QEMU TCG plugin (built with the host compiler) counts the guest instructions executed
inside given address ranges. :func:`measure_stages` cuts each stage out of the model (its
sources become the input, its layers keep their integer parameters), drives it with the values
its sources sent in the reference run of the whole model, and counts the instructions of the
model's own code (``snnc_init``, ``snnc_step``, ``snnc_finish`` and the runtime kernels, not the
test harness) per inference. ``snnc report --measure`` and ``benchmarks/`` use it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from snnc.backends.mcu.emit import write_project
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.simulate import encode_inputs
from snnc.backends.mcu.toolchain import core_for, run
from snnc.ir.layers import Graph, Input
from snnc.ir.quantized import QuantizedGraph
from snnc.ir.stages import stage_of
from snnc.reference.integer import run_quantized
from snnc.target import Target

# A minimal QEMU TCG plugin (plugin API version 1, QEMU 7.x): counts executed guest
# instructions whose address lies in one of the ranges r0=lo:hi, r1=lo:hi, ...
PLUGIN_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t,
    void (*)(qemu_plugin_id_t, struct qemu_plugin_tb *));
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *,
    enum qemu_plugin_op, void *, uint64_t);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, void *),
    void *);
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
static uint64_t lo[256], hi[256], count;
static int ranges;
static char out[1024] = "insns.txt";
static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        for (int r = 0; r < ranges; ++r)
            if (pc >= lo[r] && pc < hi[r]) {
                qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                           &count, 1);
                break;
            }
    }
}
static void write_count(qemu_plugin_id_t id, void *p) {
    (void)id; (void)p;
    FILE *f = fopen(out, "w");
    if (f) { fprintf(f, "%llu\n", (unsigned long long)count); fclose(f); }
}
__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; ++i) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            strncpy(out, argv[i] + 4, sizeof out - 1);
        } else if (argv[i][0] == 'r' && strchr(argv[i], '=') && ranges < 256) {
            char *end;
            lo[ranges] = strtoull(strchr(argv[i], '=') + 1, &end, 0);
            hi[ranges] = strtoull(end + 1, NULL, 0);
            ++ranges;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
    qemu_plugin_register_atexit_cb(id, write_count, NULL);
    return 0;
}
"""


HARNESS_OBJECTS = ("snnc_harness.o", "main_qemu.o", "startup.o")


def build_plugin(folder: Path) -> Path:
    source, lib = folder / "insncount.c", folder / "libinsncount.so"
    source.write_text(PLUGIN_C)
    run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(lib), str(source)], folder, 120,
        "QEMU plugin build")
    return lib


def symbol_ranges(elf: Path, names: set[str]) -> list[tuple[int, int]]:
    """Address ranges of the named functions in ``elf`` (those present)."""
    nm = run(["arm-none-eabi-nm", "-S", str(elf)], elf.parent, 60, "arm-none-eabi-nm").stdout
    found = []
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT" and parts[3] in names:
            lo = int(parts[0], 16) & ~1  # clear the Thumb bit
            found.append((lo, lo + int(parts[1], 16)))
    return sorted(found)


def model_functions(build: Path) -> set[str]:
    """Functions defined by the model's objects (model, weights, runtime kernels)."""
    names: set[str] = set()
    for obj in sorted(build.glob("*.o")):
        if obj.name in HARNESS_OBJECTS:
            continue
        out = run(["arm-none-eabi-nm", str(obj)], build, 60, "arm-none-eabi-nm").stdout
        names.update(parts[2] for parts in (line.split() for line in out.splitlines())
                     if len(parts) == 3 and parts[1] in "tT")
    return names


def qemu_instructions(project: Path, target: Target, plugin: Path,
                      ranges: list[tuple[int, int]]) -> int:
    core = core_for(target)
    elf = project / "build" / core.cpu / "snnc_qemu.elf"
    args = ",".join(f"r{i}=0x{lo:x}:0x{hi:x}" for i, (lo, hi) in enumerate(ranges))
    count_file = project / "insns.txt"
    run(["qemu-system-arm", "-M", core.qemu_machine, "-nographic", "-monitor", "none",
         "-semihosting-config", "enable=on,target=native,arg=snnc,arg=input.bin,arg=output.bin",
         "-plugin", f"{plugin},{args},out={count_file}", "-kernel", str(elf)],
        project, 1800, "QEMU run")
    return int(count_file.read_text().split()[0])


def stage_program(qg: QuantizedGraph, head: str) -> tuple[QuantizedGraph, tuple[str, ...]]:
    """The stage of ``head`` alone: its sources become inputs (one source per stage here)."""
    graph = qg.graph
    stage = stage_of(graph, head)
    if len(stage.sources) != 1:
        raise ValueError(f"stage '{head}' reads {len(stage.sources)} sources")
    src = graph.layer(stage.sources[0])
    encoding = "rate" if src.is_neuron else graph.encoding
    layers = [Input(src.name, (), shape=graph.shape(src.name)),
              *(graph.layer(m) for m in stage.members), graph.layer(head)]
    sub = Graph(tuple(layers), output=head, timesteps=graph.timesteps, encoding=encoding,
                name=f"{graph.name}_{head}")
    keep = {lay.name for lay in layers}
    return replace(qg, graph=sub, layers={k: v for k, v in qg.layers.items() if k in keep}), \
        stage.sources


def measure_stages(qg: QuantizedGraph, target: Target, drive: np.ndarray, heads: list[str],
                   work: Path) -> dict[str, dict[str, float]]:
    """Instructions per inference of each stage in ``heads``, run on the values its source
    sends in ``qg``'s reference run on ``drive``."""
    trace = run_quantized(qg, drive)
    x_int = qg.quantize_input(drive)
    steps, batch = x_int.shape[:2]
    plugin = build_plugin(work)
    core = core_for(target)
    out: dict[str, dict[str, float]] = {}
    for head in heads:
        sub, sources = stage_program(qg, head)
        src = sources[0]
        values = x_int if src == qg.graph.input.name else trace.spikes[src]
        prog = lower(sub, target.name, core.kernels)  # what snnc compile emits for the core
        project = work / f"stage_{len(out)}"
        write_project(prog, target, project)
        (project / "input.bin").write_bytes(
            encode_inputs(prog, values.reshape(steps, batch, *sub.graph.input.shape)))
        run(["make", "-s", "-j2", "elf"], project, 600, "arm-none-eabi-gcc build")
        ranges = symbol_ranges(project / "build" / core.cpu / "snnc_qemu.elf",
                               model_functions(project / "build" / core.cpu))
        count = qemu_instructions(project, target, plugin, ranges)
        out[head] = {"instructions": count / batch}
    return out
