"""Overflow at the limits: states driven into saturation (or, for Loihi's current, wrapping)
behave identically in the integer reference and in every backend's artifact.

Each case sets exact integers (weights at the profile's maximum, the largest biases, decays 0 or
2^D, thresholds out of reach) and first checks on the reference trace that the limit really is
reached, so a case that stops reaching it fails instead of passing vacuously. A CubaLIF with
almost full voltage decay (``dv = 2^D - 1``) shows its current register in its membrane, which
is how the current's overflow becomes visible in the trace. Non-default profiles (16-bit
wrapping states, truncating rounding) run on the MCU and SpiNNaker 2 backends, which implement
every switch. The hidden LIF has no reset (Loihi runs it as its variant neuron program) so it
stays at the limit once there.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from testkit.traces import assert_equal_runs

from snnc.backends import get_backend
from snnc.ir.layers import LIF, CubaLIF, Dense, Graph, Input
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.reference.integer import run_quantized
from snnc.reference.simulate import Trace
from snnc.target import Target, load_target, parse_target

F32 = np.float32
N_IN, N_HID = 8, 4
RUNNERS = {"mcu": "host", "spinnaker2": "spinnaker2", "loihi": "lava"}
NEEDS = {"mcu": "gcc", "spinnaker2": "gcc", "loihi": "lava"}


def variant(base: str, name: str, **numeric: object) -> Target:
    """A packaged target with some [numeric] keys replaced (a user-written target file)."""
    text = Path(load_target(base).path).read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if line.startswith("name ="):
            line = f'name = "{name}"'
        elif key in numeric:
            value = numeric[key]
            line = f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}"
        lines.append(line)
    return parse_target("\n".join(lines) + "\n", f"{name}.toml")  # MCU files name their cpu


TARGETS = {
    "cortex-m4": load_target("cortex-m4"),
    "spinnaker2": load_target("spinnaker2"),
    "loihi2": load_target("loihi2"),
    "m4-wrap16": variant("cortex-m4", "m4-wrap16", state_bits=16, current_bits=16,
                         voltage_overflow="wrap", current_overflow="wrap", rounding="trunc"),
    "s2-wrap16": variant("spinnaker2", "s2-wrap16", state_bits=16, current_bits=16,
                         voltage_overflow="wrap", current_overflow="wrap", rounding="trunc"),
}


def chain(neuron: str) -> Graph:
    """x -> fc -> h (LIF or CubaLIF) -> fc2 -> out (LIF): only the structure matters here."""
    w1 = np.full((N_HID, N_IN), 0.1, F32)
    w2 = np.full((2, N_HID), 0.1, F32)
    hidden = (LIF("h", ("fc",), beta=F32(1.0), reset="none") if neuron == "lif"
              else CubaLIF("h", ("fc",), current_decay=F32(0.0), voltage_decay=F32(1.0)))
    return Graph((Input("x", (), shape=(N_IN,)), Dense("fc", ("x",), weight=w1), hidden,
                  Dense("fc2", ("h",), weight=w2), LIF("out", ("fc2",), beta=F32(0.5))),
                 output="out", timesteps=4)


def exact(target: Target, neuron: str, sign: int, steps: int) -> tuple[QuantizedGraph,
                                                                      np.ndarray]:
    """Integers at the limits: every weight +-max, the hidden neuron never fires, inputs at the
    largest input value. LIF: no decay, no reset and the largest bias push v to its limit.
    CubaLIF: no current decay and a membrane that keeps only 2^-D of itself (``dv = 2^D - 1``,
    the most Loihi allows), so v is the current plus at most one unit and shows its overflow."""
    p = target.numeric
    qg = quantize(chain(neuron), p, target=target.name)
    w_max, vth_max = p.weight_max, (1 << p.threshold_bits) - 1
    one, b_max = 1 << p.decay_bits, (1 << (p.bias_bits - 1)) - 1
    layers = dict(qg.layers)
    layers["fc"] = replace(layers["fc"], weight=np.full((N_HID, N_IN), sign * w_max))
    if neuron == "lif":
        layers["h"] = replace(layers["h"], dv=np.asarray(0), vth=np.asarray(vth_max),
                              bias=np.full(N_HID, sign * b_max))
    else:
        layers["h"] = replace(layers["h"], du=np.asarray(0), dv=np.asarray(one - 1),
                              vth=np.asarray(vth_max))
        if p.current_bits > 24:  # weights alone would need ~10^4 steps to fill 32 bits
            layers["fc"] = replace(layers["fc"],
                                   bias=np.full(N_HID, sign * (1 << (p.current_bits - 3))))
    layers["fc2"] = replace(layers["fc2"], weight=np.full((2, N_HID), 3))
    qg = replace(qg, layers=layers, input_scale=1.0)
    drive = np.full((steps, 2, N_IN), float(p.input_max), F32)
    drive[:, 1] *= np.linspace(0.25, 1.0, N_IN, dtype=F32)  # a second, gentler sample
    return qg, drive


def state_limits(p) -> tuple[int, int]:
    half = 1 << (p.state_bits - 1)
    return -(half - 1), half - 1


def run_backend(qg: QuantizedGraph, target: Target, drive: np.ndarray) -> Trace:
    backend = get_backend(target.backend)
    backend.resources(qg, target)
    with tempfile.TemporaryDirectory(prefix="snnc-limits-") as work:
        return backend.simulate(qg, target, drive, RUNNERS[target.backend], Path(work))


CASES = [
    ("cortex-m4", "lif", 1), ("cortex-m4", "lif", -1), ("cortex-m4", "cuba", 1),
    ("spinnaker2", "lif", 1), ("spinnaker2", "lif", -1), ("spinnaker2", "cuba", -1),
    ("loihi2", "lif", 1), ("loihi2", "lif", -1), ("loihi2", "cuba", 1),
    ("m4-wrap16", "lif", 1), ("m4-wrap16", "cuba", -1),
    ("s2-wrap16", "lif", -1), ("s2-wrap16", "cuba", 1),
]


@pytest.mark.parametrize(("target", "neuron", "sign"), CASES)
def test_states_at_their_limits_match_the_reference(target: str, neuron: str, sign: int,
                                                    request: pytest.FixtureRequest) -> None:
    t = TARGETS[target]
    request.applymarker(pytest.mark.needs(NEEDS[t.backend]))
    p = t.numeric
    steps = 40
    qg, drive = exact(t, neuron, sign, steps)
    want = run_quantized(qg, drive)
    v = want.v["h"][:, 0]
    lo, hi = state_limits(p)
    wraps = (p.current_overflow if neuron == "cuba" else p.voltage_overflow) == "wrap"
    if wraps:  # the value crossed the limit and came back from the other side
        assert np.any(np.diff(np.sign(v.astype(np.float64)), axis=0) == -2 * sign), v[:, 0]
    else:  # it sits at the limit
        assert np.any(v == (hi if sign > 0 else lo)), v[:, 0]
    assert v.min() >= lo and v.max() <= hi
    assert_equal_runs(want, run_backend(qg, t, drive))


@pytest.mark.parametrize("target", ["cortex-m4", "spinnaker2"])
def test_long_run_at_saturation_stays_exact(target: str) -> None:
    """300 steps pinned at the limit, with the read-out layer firing on it all along."""
    pytest.importorskip("snnc.backends.mcu")
    t = TARGETS[target]
    qg, drive = exact(t, "lif", 1, 300)
    want = run_quantized(qg, drive)
    assert np.count_nonzero(want.v["h"] == state_limits(t.numeric)[1]) > 250 * 2 * N_HID
    assert_equal_runs(want, run_backend(qg, t, drive))
