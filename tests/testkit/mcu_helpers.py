"""Helpers shared by the MCU backend tests: targets, quantisation of a case, exact comparison."""

from __future__ import annotations

import numpy as np

from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.simulate import Trace
from snnc.target import Target, load_target, parse_target
from testkit.traces import assert_equal_runs

M4 = load_target("cortex-m4")


def variant_target(name: str, **numeric: object) -> Target:
    """The cortex-m4 target with some [numeric] keys changed (exercises profile switches the
    shipped MCU targets do not use: delays, wrapping, truncation, shifts, narrow states)."""
    lines = []
    with open(M4.path, encoding="utf-8") as fh:
        text = fh.read()
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if line.startswith("name ="):
            line = f'name = "{name}"'
        elif key in numeric:
            line = f"{key} = {numeric[key]!r}".replace("'", '"')
        lines.append(line)
    return parse_target("\n".join(lines) + "\n", f"{name}.toml")  # keeps [mcu] cpu


def prepare(graph, inputs: np.ndarray, steps: int,
            target: Target = M4) -> tuple[QuantizedGraph, np.ndarray]:
    qg = quantize(graph, target.numeric, calib=inputs, target=target.name)
    return qg, encode(inputs, steps, graph.encoding, graph.input.shape)


def assert_same_trace(got: Trace, want: Trace) -> None:
    """The C build's run equals the reference's bit for bit (``assert_equal_runs``), with the
    output counts in int64 like the reference's."""
    assert got.output.dtype == np.int64
    assert_equal_runs(got, want)
