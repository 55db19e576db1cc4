"""Generated C is safe to put on a device: strict warnings, sanitizers, no heap, bounded stack.

For a set of generated MCU projects covering every runtime kernel family (dense, event-driven
and CSR synapses, convolutions, max/avg/sum pooling, recurrence, residual adds, LIF/IF/CubaLIF,
multi-level spikes with every threshold form, attention):

- every model source and the host harness compile with ``-Wall -Wextra -Wpedantic -Werror``
  and a stricter superset, on the host gcc and on arm-none-eabi-gcc for Cortex-M4;
- the host build runs under AddressSanitizer and UndefinedBehaviorSanitizer and equals the
  integer reference;
- the Cortex-M4 QEMU image links no heap (no malloc/calloc/realloc/free/sbrk) and the model
  library needs nothing from libc but ``mem*`` (and libgcc's ``__aeabi_*`` helpers);
- ``-fstack-usage -fcallgraph-info=su`` gives every function a static frame, the call graph has
  no recursion, and the deepest chain from ``snnc_step``/``snnc_init`` fits the stack the target
  reserves.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from testkit.c_projects import PROJECTS, project_case
from testkit.traces import assert_equal_runs

from snnc.backends.mcu import emit, simulate
from snnc.backends.mcu.stack import entry_stacks
from snnc.reference.integer import run_quantized
from snnc.target import load_target

M4 = load_target("cortex-m4")
BASE = ("-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror")
STRICT = (*BASE, "-Wshadow", "-Wconversion", "-Wsign-conversion", "-Wvla", "-Wcast-qual",
          "-Wcast-align", "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wundef",
          "-Wdouble-promotion", "-Wformat=2", "-Wnull-dereference", "-Wredundant-decls")
ARM_CPU = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
HEAP_SYMBOLS = {"malloc", "calloc", "realloc", "free", "_malloc_r", "_calloc_r", "_realloc_r",
                "_free_r", "_sbrk", "_sbrk_r", "sbrk"}
LIBC_ALLOWED = {"memset", "memcpy", "memmove"}
COMPILER_RUNTIME = "__aeabi_"  # libgcc helpers, e.g. 64-bit division on a 32-bit core


def run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def model_sources(project: Path) -> list[str]:
    """The model's C sources, as the generated Makefile lists them."""
    text = (project / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^MODEL_SRC := (.+)$", text, re.MULTILINE)
    assert found, "Makefile has no MODEL_SRC line"
    return found.group(1).split()


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case's emitted MCU project (without the measured memory report)."""
    out = {}
    for name in PROJECTS:
        qg, _ = project_case(name, M4)
        folder = tmp_path_factory.mktemp(f"c-{name}")
        out[name] = emit(qg, M4, folder, measure=False).out_dir
    return out


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("name", PROJECTS)
def test_host_build_is_clean_under_strict_warnings(projects, name: str) -> None:
    project = projects[name]
    with tempfile.TemporaryDirectory() as tmp:
        run(["gcc", *STRICT, "-O2", "-DSNNC_OBSERVE", "-I.", *model_sources(project),
             "snnc_harness.c", "main_host.c", "-o", str(Path(tmp) / "run")], project)


@pytest.mark.needs("arm-none-eabi-gcc")
@pytest.mark.parametrize("name", PROJECTS)
def test_cortex_m4_build_is_clean_under_strict_warnings(projects, name: str) -> None:
    project = projects[name]
    with tempfile.TemporaryDirectory() as tmp:
        for source in model_sources(project):
            run(["arm-none-eabi-gcc", *STRICT, *ARM_CPU, "-Os", "-I.", "-c", source, "-o",
                 str(Path(tmp) / (Path(source).stem + ".o"))], project)


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("name", PROJECTS)
def test_sanitized_host_run_equals_the_reference(name: str, tmp_path: Path) -> None:
    qg, drive = project_case(name, M4)
    want = run_quantized(qg, drive)
    got = simulate(qg, M4, drive, "host", tmp_path, sanitize=True)
    assert_equal_runs(want, got)


def defined_and_undefined(nm_output: str) -> tuple[set[str], set[str]]:
    defined, undefined = set(), set()
    for line in nm_output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-2] == "U":
            undefined.add(parts[-1])
        elif len(parts) == 3:
            defined.add(parts[2])
    return defined, undefined


@pytest.mark.needs("arm-none-eabi-gcc")
@pytest.mark.parametrize("name", PROJECTS)
def test_cortex_m4_image_has_no_heap(projects, name: str, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(projects[name], project)
    run(["make", "-s", "elf", "cortex-m4"], project)
    image, _ = defined_and_undefined(run(["arm-none-eabi-nm", "build/cortex-m4/snnc_qemu.elf"],
                                         project))
    assert not image & HEAP_SYMBOLS, sorted(image & HEAP_SYMBOLS)
    lib_defined, lib_needed = defined_and_undefined(
        run(["arm-none-eabi-nm", "build/cortex-m4/libsnnc_model.a"], project))
    outside = {s for s in lib_needed - lib_defined if not s.startswith(COMPILER_RUNTIME)}
    assert outside <= LIBC_ALLOWED, sorted(outside)


# ---------------------------------------------------------------------------- stack usage

def stack_report(project: Path, work: Path) -> dict[str, int]:
    """Worst-case stack bytes of the public entry points, built for Cortex-M4 at -Os."""
    texts = []
    for source in model_sources(project):
        obj = work / (Path(source).stem + ".o")
        run(["arm-none-eabi-gcc", *BASE, *ARM_CPU, "-Os", "-I.", "-fstack-usage",
             "-fcallgraph-info=su", "-c", source, "-o", str(obj)], project)
        su = obj.with_suffix(".su").read_text(encoding="utf-8")
        for line in su.splitlines():
            assert line.rsplit(maxsplit=1)[-1] == "static", f"non-static frame: {line}"
        texts.append(obj.with_suffix(".ci").read_text(encoding="utf-8"))
    return entry_stacks(texts)


@pytest.mark.needs("arm-none-eabi-gcc")
@pytest.mark.parametrize("name", PROJECTS)
def test_stack_is_static_and_fits_the_reserved_stack(projects, name: str,
                                                     tmp_path: Path) -> None:
    usage = stack_report(projects[name], tmp_path)
    reserved = int(M4.limits["stack_bytes"])
    assert 0 < usage["snnc_step"] <= reserved // 4, usage
    assert usage["snnc_init"] <= reserved // 4, usage
