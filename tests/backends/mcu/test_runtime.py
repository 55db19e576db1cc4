"""The runtime's fixed-point helpers (snnc_types.h) against the integer reference's, on edge
values, compiled for both rounding modes under ASan/UBSan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from snnc.reference.integer import decay, overflow, round_shift
from snnc.runtime_c import runtime_dir

EDGES = sorted({0, 1, -1, 2, -2, 3, -3, 7, -7, 8, -8, 9, -9, 255, -255, 256, -256,
                2**15 - 1, -(2**15), 2**15, 2**31 - 1, -(2**31 - 1), -(2**31), 2**31,
                2**32, -(2**32), 2**32 + 1, -(2**32 + 1), 2**40 + 12345, -(2**40 + 12345),
                123456789, -123456789})
SHIFTS = (0, 1, 3, 12, 15)
DECAYS = (0, 1, 100, 4096, 16384, 32767, 32768)
BITS = (8, 12, 16, 24, 32)
PROGRAM = """
#include <inttypes.h>
#include <stdio.h>
#include "snnc_types.h"
static const int64_t values[] = {%(values)s};
static const int shifts[] = {%(shifts)s};
static const int64_t decays[] = {%(decays)s};
static const int bits[] = {%(bits)s};
#define N(a) (sizeof a / sizeof a[0])
int main(void)
{
    for (size_t i = 0; i < N(values); ++i) {
        for (size_t k = 0; k < N(shifts); ++k)
            printf("%%" PRId64 "\\n", snnc_round_shift(values[i], shifts[k]));
        for (size_t k = 0; k < N(decays); ++k)
            printf("%%" PRId64 "\\n", snnc_decay(values[i] / 65536, decays[k]));
        for (size_t k = 0; k < N(bits); ++k)
            printf("%%" PRId64 " %%" PRId64 "\\n", snnc_saturate(values[i], bits[k]),
                   snnc_wrap(values[i], bits[k]));
        for (size_t k = 1; k < N(values); k += 5)
            if (values[k] > 0)
                printf("%%" PRId64 "\\n", snnc_floor_div(values[i], values[k]));
    }
    return 0;
}
"""


def _expected(rounding: str) -> list[str]:
    lines = []
    for v in EDGES:
        x = np.array([v], np.int64)
        lines += [str(int(round_shift(x, s, rounding)[0])) for s in SHIFTS]
        lines += [str(int(decay(np.array([int(v / 65536)], np.int64), d, 15, rounding)[0]))
                  for d in DECAYS]
        lines += [f"{int(overflow(x, b, 'saturate')[0])} {int(overflow(x, b, 'wrap')[0])}"
                  for b in BITS]
        lines += [str(v // EDGES[k]) for k in range(1, len(EDGES), 5) if EDGES[k] > 0]
    return lines


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("rounding", ["floor", "trunc"])
def test_fixed_point_helpers_match_the_reference(rounding, tmp_path: Path):
    (tmp_path / "snnc_config.h").write_text(
        f"#define SNNC_DECAY_BITS 15\n#define SNNC_ROUND_TRUNC {int(rounding == 'trunc')}\n")
    source = PROGRAM % {"values": ", ".join(f"INT64_C({v})" for v in EDGES),
                        "shifts": ", ".join(map(str, SHIFTS)),
                        "decays": ", ".join(map(str, DECAYS)), "bits": ", ".join(map(str, BITS))}
    (tmp_path / "t.c").write_text(source)
    exe = tmp_path / "t"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O1",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    f"-I{tmp_path}", f"-I{runtime_dir()}", str(tmp_path / "t.c"), "-o", str(exe)],
                   check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert out.splitlines() == _expected(rounding)


CONFIG = """#define SNNC_DECAY_BITS 15
#define SNNC_CURRENT_DECAY_OFFSET 0
#define SNNC_STATE_BITS 32
#define SNNC_CURRENT_BITS 32
#define SNNC_VOLTAGE_WRAP 0
#define SNNC_CURRENT_WRAP 1
#define SNNC_ROUND_TRUNC 0
#define SNNC_INPUT_SHIFT 0
#define SNNC_THRESHOLD_SHIFT 0
#define SNNC_ALPHA_FRAC_BITS 16
#define SNNC_MASK_FRAC_BITS 15
#define SNNC_LIF_CURRENT_REGISTER 1
#define SNNC_GRADED 1
#define SNNC_ALL_KERNELS 1
"""
KERNEL_SOURCES = ("snnc_dense.c", "snnc_conv.c", "snnc_tensor.c", "snnc_neuron.c",
                  "snnc_attention.c")
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Wvla",
            "-Werror", "-Os"]


@pytest.mark.needs("gcc")
def test_every_kernel_instantiation_compiles_warning_free_on_the_host(tmp_path: Path):
    (tmp_path / "snnc_config.h").write_text(CONFIG)
    for source in KERNEL_SOURCES:
        subprocess.run(["gcc", *WARNINGS, f"-I{tmp_path}", f"-I{runtime_dir()}", "-c",
                        str(runtime_dir() / source), "-o", str(tmp_path / "k.o")],
                       check=True, capture_output=True)


@pytest.mark.needs("arm-none-eabi-gcc")
def test_every_kernel_instantiation_compiles_warning_free_for_cortex_m4(tmp_path: Path):
    (tmp_path / "snnc_config.h").write_text(CONFIG)
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    for source in KERNEL_SOURCES:
        subprocess.run(["arm-none-eabi-gcc", *cpu, *WARNINGS, f"-I{tmp_path}",
                        f"-I{runtime_dir()}", "-c", str(runtime_dir() / source), "-o",
                        str(tmp_path / "k.o")], check=True, capture_output=True)
