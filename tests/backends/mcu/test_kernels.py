"""The int8 synapse kernels of runtime_c/snnc_dense.c against a plain int64 reference, on random
shapes and values (kernels/kernel_fuzz.c): the portable C on the host under ASan/UBSan, the DSP
code (SMLAD, SXTAB, SXTAB16) on Cortex-M4 and the Helium code on Cortex-M55 under QEMU. The
whole-network differential tests cover the same kernels through the compiler; this one reaches
shapes, weight extremes and the misaligned fallback that generated models rarely do."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from testkit.mcu_helpers import prepare

from snnc.backends.mcu.emit import write_project
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.toolchain import core_for
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.runtime_c import runtime_dir
from snnc.target import load_target

SOURCE = Path(__file__).parent / "kernels" / "kernel_fuzz.c"
SEEDS = (1, 2, 3)
MAIN = "int kb_run(void);\nint main(void);\nint main(void) { return kb_run(); }\n"


def _project(target_name: str, folder: Path) -> Path:
    """A generated project of a tiny model: its startup code, linker script and config."""
    target = load_target(target_name)
    graph = Graph((Input("x", (), shape=(4,)),
                   Dense("fc", ("x",), weight=np.ones((2, 4), np.float32)),
                   LIF("lif", ("fc",))), output="lif", timesteps=2)
    qg, _ = prepare(graph, np.ones((1, 4), np.float32), 2, target)
    write_project(lower(qg, target.name, core_for(target).kernels), target, folder)
    return folder


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("seed", SEEDS)
def test_kernels_equal_the_int64_reference_on_the_host(seed, tmp_path):
    project = _project("cortex-m4", tmp_path / "p")
    (tmp_path / "main.c").write_text(MAIN)
    exe = tmp_path / "kernels"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-g",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    "-DSNNC_ALL_KERNELS=1", f"-DKB_SEED={seed}u", f"-I{project}",
                    f"-I{runtime_dir()}", str(SOURCE), str(tmp_path / "main.c"),
                    str(runtime_dir() / "snnc_dense.c"), "-o", str(exe)],
                   check=True, capture_output=True)
    assert subprocess.run([str(exe)], capture_output=True, timeout=300).returncode == 0


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("target_name", ["cortex-m4", "cortex-m55"])
def test_dsp_and_helium_kernels_equal_the_int64_reference_under_qemu(target_name, seed,
                                                                       tmp_path):
    project = _project(target_name, tmp_path / "p")
    core = core_for(load_target(target_name))
    (tmp_path / "main.c").write_text(MAIN)
    elf = tmp_path / "kernels.elf"
    subprocess.run(["arm-none-eabi-gcc", *core.cflags.split(), "-std=c99", "-Wall", "-Wextra",
                    "-Werror", "-Os", "-ffunction-sections", "-fdata-sections",
                    "-DSNNC_ALL_KERNELS=1", f"-DKB_SEED={seed}u", f"-I{project}",
                    f"-I{runtime_dir()}", str(SOURCE), str(tmp_path / "main.c"),
                    str(runtime_dir() / "snnc_dense.c"), str(project / "startup.c"),
                    "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections",
                    "-T", str(project / "link.ld"), "-o", str(elf)],
                   check=True, capture_output=True)
    proc = subprocess.run(["qemu-system-arm", "-M", core.qemu_machine, "-nographic",
                           "-monitor", "none", "-semihosting-config", "enable=on,target=native",
                           "-kernel", str(elf)], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-500:]
