"""Mutated bytes of valid ONNX and NIR files never escape the loaders as anything but an
SnncError (the CLI turns those into one line and exit status 2).

Mutations: bit flips, overwritten bytes, truncation, inserted or duplicated chunks and byte
swaps of the seed files in :mod:`loader_seeds`. A loaded model must also be a usable layer view
(its shapes inferred). ``docs/reliability.md`` has the 10-minute coverage-guided run of the same
rule (``tests/fuzz/fuzz_loaders.py`` under atheris).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit.loader_seeds import load_bytes, nir_seeds, onnx_seeds

FUZZ = settings.get_current_profile_name() == "fuzz"


def budget(smoke: int) -> settings:
    count = settings.default.max_examples // 4 if FUZZ else smoke
    return settings(max_examples=count, deadline=None, derandomize=not FUZZ,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[bytes, ...]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("flip", "set", "cut", "insert", "repeat", "swap")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from((0x00, 0xFF, 0x7F, 0x80, 0x01)))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "repeat":
            size = draw(st.integers(1, 64))
            data[at:at] = data[at:at + size]
        elif kind == "swap" and len(data) > 1:
            other = draw(st.integers(0, len(data) - 1))
            data[at], data[other] = data[other], data[at]
    return bytes(data)


def check(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory(prefix="snnc-loadfuzz-") as tmp:
        graph = load_bytes(data, suffix, Path(tmp))
    if graph is not None:
        assert graph.shape(graph.output)


@budget(25)
@given(mutated(onnx_seeds()))
def test_mutated_onnx_loads_or_raises_an_snnc_error(data: bytes) -> None:
    check(data, ".onnx")


@budget(25)
@given(mutated(nir_seeds()))
def test_mutated_nir_loads_or_raises_an_snnc_error(data: bytes) -> None:
    check(data, ".nir")
