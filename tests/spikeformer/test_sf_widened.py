"""Spikeformers quantized wider than 8 bits run bit-exact on every integer backend.

The fidelity search widens the spikeformer demo's weights (each widened layer a high and a low
int8 member of one current) and its input (10 or more bits) where 8 bits stay below the
agreement goal. The backends run the result with their existing kernels: the C project on the
host (under ASan/UBSan) and under QEMU, the SpiNNaker-2 layout simulator and Lava. Each
comparison is ``numpy.array_equal`` on the output and every layer's levels and membranes,
over ``latency + T`` steps. Generated spikeformers (``sf_netgen``) widened by 2 bits
everywhere, input 12 bits, cover the other layer forms (convolutional front ends, binary
LIF layers, rate inputs).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from testkit.sf_netgen import make_net

from snnc import api
from snnc.backends import get_backend
from snnc.backends.mcu.simulate import simulate as mcu_simulate
from snnc.ir.layers import Graph
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import QuantizeOptions, StageScale, quantize, stage_groups
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.simulate import Trace
from snnc.target import load_target

DEMO = Path(__file__).parents[2] / "examples" / "spikeformer"
RUNS = {"cortex-m4": ("host", "qemu"), "spinnaker2": ("spinnaker2",), "loihi2": ("lava",)}
NEEDS = {"host": ("gcc",), "qemu": ("arm-none-eabi-gcc", "qemu"), "spinnaker2": (),
         "lava": ("lava",)}
CASES = [pytest.param(t, r, marks=pytest.mark.needs(*NEEDS[r]))
         for t, runners in RUNS.items() for r in runners]
GENERATED = [("conv_frontend", 1), ("two_blocks", 2), ("binary_qkv", 3)]


@cache
def _demo(target: str) -> tuple[Graph, QuantizedGraph]:
    graph = api.load(DEMO / "model.onnx")
    calib = np.load(DEMO / "test_x.npy")[:32]
    return graph, api.quantize(graph, load_target(target), calib=calib)


def _run(qg: QuantizedGraph, target: str, runner: str, inputs: np.ndarray,
         work: Path) -> tuple[Trace, Trace]:
    t = load_target(target)
    steps = latency(qg.graph, qg.profile) + qg.graph.timesteps
    drive = encode(inputs, steps, qg.graph.encoding, qg.graph.input.shape)
    want = run_quantized(qg, drive)
    if runner == "host":
        return mcu_simulate(qg, t, drive, runner="host", work_dir=work, sanitize=True), want
    backend = get_backend(t.backend)
    backend.resources(qg, t)
    return backend.simulate(qg, t, drive, runner, work), want


def assert_same_trace(got: Trace, want: Trace) -> None:
    have, expect = got.arrays(), want.arrays()
    assert sorted(have) == sorted(expect)
    for key, value in expect.items():
        assert np.array_equal(have[key], value), key


@pytest.mark.parametrize(("target", "runner"), CASES)
def test_widened_spikeformer_demo_equals_the_integer_reference(target, runner, tmp_path):
    _, qg = _demo(target)
    assert qg.widened and qg.profile.input_bits > 8  # the search widened it
    inputs = np.load(DEMO / "test_x.npy")[32:35]  # beyond the calibration samples
    got, want = _run(qg, target, runner, inputs, tmp_path)
    assert_same_trace(got, want)


@pytest.mark.parametrize(("target", "runner"), CASES)
@pytest.mark.parametrize(("recipe", "seed"), GENERATED)
def test_generated_spikeformer_widened_everywhere_equals_the_integer_reference(
        recipe, seed, target, runner, tmp_path):
    net = make_net(recipe, seed)
    profile = load_target(target).numeric
    roots = stage_groups(quantize(net.graph, profile, calib=net.inputs).graph)
    options = QuantizeOptions(stages={r: StageScale(widen=2) for r in roots}, input_bits=12)
    qg = quantize(net.graph, profile, calib=net.inputs, options=options, target=target)
    assert qg.widened
    got, want = _run(qg, target, runner, net.inputs, tmp_path)
    assert_same_trace(got, want)
