"""weights.c writes int8, uint16 and uint32 arrays as string literals of their bytes: the bytes
decode to the planned constants, and the project built with the strict flags under ASan/UBSan
(host) and for the Cortex-M4 (QEMU) runs bit-exactly like the integer reference."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from testkit.mcu_helpers import M4, assert_same_trace, prepare

from snnc.backends.mcu import emit, simulate
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.ranges import S8, U16, U32
from snnc.backends.mcu.toolchain import core_for
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.reference.integer import run_quantized
from snnc.target import load_target

F32 = np.float32


def csr_graph() -> Graph:
    """A spiking input into a 70 %-sparse layer stored as CSR (uint32 column indices on DSP
    cores, uint16 on others; int8 values), then a dense read-out; weights include -128..127
    extremes after quantisation."""
    rng = np.random.default_rng(21)
    w1 = rng.normal(0, 0.6, (40, 24)).astype(F32) * (rng.random((40, 24)) < 0.3)
    w1[0, 0], w1[1, 1] = 4.0, -4.0  # the largest magnitudes: quantised to +-127
    w2 = rng.normal(0, 0.5, (6, 40)).astype(F32)
    return Graph((
        Input("x", (), shape=(24,)),
        Dense("fc1", ("x",), weight=w1, attrs={"kernel": "event", "storage": "csr"}),
        LIF("lif1", ("fc1",), beta=F32(0.875)),
        Dense("fc2", ("lif1",), weight=w2),
        LIF("lif2", ("fc2",), beta=F32(0.75)),
    ), output="lif2", timesteps=7, encoding="rate", name="csr")


def literal_bytes(text: str, declaration: str) -> bytes:
    """The bytes of the string literal initialising ``declaration`` in weights.c."""
    start = text.index(declaration)
    body = text[start:text.index(";", start)]
    pieces = re.findall(r'"((?:\\x[0-9a-f]{2})*)"', body)
    return bytes.fromhex("".join(pieces).replace("\\x", ""))


@pytest.mark.parametrize(("target_name", "index_type"), [("cortex-m4", U32), ("cortex-m55", U16)])
def test_int8_and_unsigned_literals_decode_to_the_planned_constants(target_name, index_type,
                                                                     tmp_path: Path) -> None:
    target = load_target(target_name)
    rng = np.random.default_rng(2)
    qg, _ = prepare(csr_graph(), rng.random((3, 24)).astype(F32), 7, target)
    emit(qg, target, tmp_path, measure=False)
    text = (tmp_path / "weights.c").read_text()
    header = (tmp_path / "weights.h").read_text()
    arrays = {a.name: a for a in lower(qg, target.name, core_for(target).kernels).arrays}
    assert arrays["snnc_ci_fc1"].ctype == index_type
    for name, array in arrays.items():
        if array.ctype == S8:
            declaration = (f"const union {name}_bytes {name} =" if array.word_aligned
                           else f"const int8_t {name}[{array.values.size}] =")
            data = literal_bytes(text, declaration)
            assert np.array_equal(np.frombuffer(data, np.int8), array.values), name
        elif array.ctype in (U16, U32):
            assert f"{array.ctype.c} values[{array.values.size}];" in header
            data = literal_bytes(text, f"const union {name}_bytes {name} =")
            assert np.array_equal(np.frombuffer(data, f"<u{array.ctype.bytes}"),
                                  array.values), name
    assert "snnc_ci_fc1.values" in (tmp_path / "model.c").read_text()


@pytest.mark.needs("gcc")
def test_csr_project_under_sanitizers_equals_the_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    qg, drive = prepare(csr_graph(), rng.random((4, 24)).astype(F32), 7)
    got = simulate(qg, M4, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, run_quantized(qg, drive))


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_csr_project_on_the_cortex_m4_equals_the_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    qg, drive = prepare(csr_graph(), rng.random((2, 24)).astype(F32), 7)
    got = simulate(qg, M4, drive, runner="qemu", work_dir=tmp_path)
    assert_same_trace(got, run_quantized(qg, drive))
