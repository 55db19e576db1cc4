"""Every MCU project builds with CMake: the bundled arm-none-eabi toolchain file for Cortex-M4
and Cortex-M55 (library snnc_model and the harness images, warning-free under -Werror), the
host compiler without a toolchain file, and as a subdirectory of a firmware project. The
CMake-built images run under QEMU bit for bit like the integer reference.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from testkit.mcu_helpers import assert_same_trace, prepare
from testkit.mcu_netgen import make_case

from snnc.backends.mcu.emit import write_project
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.simulate import decode_outputs, encode_inputs
from snnc.backends.mcu.toolchain import core_for
from snnc.reference.integer import run_quantized
from snnc.target import load_target


def _cmake(project: Path, build: Path, *extra: str) -> str:
    """Configure and build; returns the build log (compiler diagnostics included)."""
    configure = subprocess.run(["cmake", "-S", str(project), "-B", str(build), *extra],
                               capture_output=True, text=True, timeout=120, check=False)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    made = subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    return made.stdout + made.stderr


def _project(family: str, seed: int, target_name: str, tmp_path: Path):
    target = load_target(target_name)
    case = make_case(family, seed)
    qg, drive = prepare(case.graph, case.inputs, case.steps, target)
    prog = lower(qg, target.name)
    project = tmp_path / "mcu"
    write_project(prog, target, project)
    x_int = qg.quantize_input(drive)
    (project / "input.bin").write_bytes(encode_inputs(prog, x_int))
    return target, qg, drive, prog, project


@pytest.mark.needs("cmake", "arm-none-eabi-gcc", "qemu")
@pytest.mark.parametrize(("target_name", "family"),
                         [("cortex-m4", "conv"), ("cortex-m55", "cuba")])
def test_cmake_arm_build_runs_under_qemu_like_the_reference(target_name, family, tmp_path):
    target, qg, drive, prog, project = _project(family, 3, target_name, tmp_path)
    build = project / "build" / "cmake"
    log = _cmake(project, build, "-DCMAKE_TOOLCHAIN_FILE=arm-none-eabi.cmake")
    assert "warning" not in log.lower()
    for name in ("libsnnc_model.a", "snnc_qemu.elf", "snnc_uart.elf"):
        assert (build / name).is_file(), name
    flags = (build / "CMakeCache.txt").read_text()
    assert f"-mcpu={target_name}" in flags
    core = core_for(target)
    steps, batch = drive.shape[:2]
    proc = subprocess.run(
        ["qemu-system-arm", "-M", core.qemu_machine, "-nographic", "-monitor", "none",
         "-semihosting-config", "enable=on,target=native,arg=snnc,arg=input.bin,arg=out.bin",
         "-kernel", str(build / "snnc_qemu.elf")],
        cwd=project, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    got = decode_outputs(prog, (project / "out.bin").read_bytes(), steps, batch)
    assert_same_trace(got, run_quantized(qg, drive))


@pytest.mark.needs("cmake", "gcc")
def test_cmake_host_build_is_the_host_harness(tmp_path):
    _, qg, drive, prog, project = _project("dense", 5, "cortex-m4", tmp_path)
    build = tmp_path / "host"
    log = _cmake(project, build)
    assert "warning" not in log.lower()
    steps, batch = drive.shape[:2]
    subprocess.run([str(build / "snnc_run"), "input.bin", "out.bin"], cwd=project, check=True,
                   timeout=120)
    got = decode_outputs(prog, (project / "out.bin").read_bytes(), steps, batch)
    assert_same_trace(got, run_quantized(qg, drive))


@pytest.mark.needs("cmake", "gcc")
def test_a_firmware_project_links_snnc_model_as_a_subdirectory(tmp_path):
    """What a vendor SDK does: add_subdirectory + target_link_libraries; no harness targets are
    added to the parent's build."""
    *_, project = _project("recurrent", 2, "cortex-m4", tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(app C)\n"
        f"add_subdirectory({project.as_posix()} snnc)\n"
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE snnc_model)\n")
    (app / "main.c").write_text(
        '#include "model.h"\n'
        "static snnc_input_t x[SNNC_INPUT_SIZE];\nstatic snnc_output_t y[SNNC_OUTPUT_SIZE];\n"
        "int main(void)\n{\n    if (snnc_init() != SNNC_OK) {\n        return 1;\n    }\n"
        "    return snnc_step(x, y) == SNNC_OK ? 0 : 2;\n}\n")
    build = tmp_path / "app-build"
    _cmake(app, build)
    assert not (build / "snnc" / "snnc_run").exists()
    subprocess.run([str(build / "app")], check=True, timeout=60)
