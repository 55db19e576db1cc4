"""The generated C equals the integer reference bit for bit: output, spikes and membranes of
every layer at every step, on the host (under ASan/UBSan) and under QEMU on Cortex-M cores.

Each network is built once and runs a batch of inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from testkit.mcu_helpers import M4, assert_same_trace, prepare, variant_target
from testkit.mcu_netgen import FAMILIES, make_case

from snnc.api import predict
from snnc.backends.mcu import simulate
from snnc.backends.mcu.emit import write_project
from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.simulate import build, execute
from snnc.errors import ToolchainError
from snnc.ir.layers import (
    LIF,
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    MultiLevelSpike,
    Reshape,
)
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.reference.integer import run_quantized
from snnc.target import Target, load_target

HOST_SEEDS = range(7)  # 8 families x 7 seeds = 56 generated networks


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("seed", HOST_SEEDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_host_build_equals_integer_reference(family, seed, tmp_path):
    case = make_case(family, seed)
    qg, drive = prepare(case.graph, case.inputs, case.steps)
    got = simulate(qg, M4, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, run_quantized(qg, drive))


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
@pytest.mark.parametrize("target_name", ["cortex-m4", "cortex-m55"])  # DSP and Helium kernels
@pytest.mark.parametrize("family", FAMILIES)
def test_qemu_run_equals_integer_reference(family, target_name, tmp_path):
    target = load_target(target_name)
    case = make_case(family, 100)
    qg, drive = prepare(case.graph, case.inputs, case.steps, target)
    got = simulate(qg, target, drive, runner="qemu", work_dir=tmp_path)
    assert_same_trace(got, run_quantized(qg, drive))


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
@pytest.mark.parametrize("target_name", ["cortex-m7", "cortex-m55"])
def test_other_cores_run_the_same_c_exactly(target_name, tmp_path):
    target = load_target(target_name)
    case = make_case("conv", 101)
    qg, drive = prepare(case.graph, case.inputs, case.steps, target)
    got = simulate(qg, target, drive, runner="qemu", work_dir=tmp_path)
    assert_same_trace(got, run_quantized(qg, drive))


def digits_net() -> tuple[Graph, np.ndarray]:
    """The digits demo's shape: 64 rate-coded pixels, 128 LIF, 10 LIF, 8 steps."""
    rng = np.random.default_rng(7)
    graph = Graph((
        Input("pixels", (), shape=(64,)),
        Dense("fc1", ("pixels",), weight=(rng.normal(0, 1, (128, 64)) * 0.35).astype(
            np.float32)),
        LIF("lif1", ("fc1",), beta=np.float32(0.9), threshold=np.float32(1.0)),
        Dense("fc2", ("lif1",), weight=(rng.normal(0, 1, (10, 128)) * 0.3).astype(np.float32)),
        LIF("lif2", ("fc2",), beta=np.float32(0.9), threshold=np.float32(1.0)),
    ), output="lif2", timesteps=8, encoding="rate", name="digits")
    x = (load_digits().data[:40] / 16.0).astype(np.float32)
    return graph, x


@pytest.mark.needs("gcc")
def test_digits_network_on_host_equals_reference(tmp_path):
    graph, x = digits_net()
    qg, drive = prepare(graph, x, graph.timesteps)
    want = run_quantized(qg, drive)
    got = simulate(qg, M4, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, want)
    assert 0.02 < want.spikes["lif1"].mean() < 0.9  # the comparison is not between silences


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_digits_network_under_qemu_predicts_like_the_reference(tmp_path):
    graph, x = digits_net()
    qg, drive = prepare(graph, x, graph.timesteps)
    want = run_quantized(qg, drive)
    got = simulate(qg, M4, drive, runner="qemu", work_dir=tmp_path)
    assert_same_trace(got, want)
    assert np.array_equal(predict(got), predict(want))


# Profiles the shipped MCU targets do not use, to prove the C follows every profile switch.
VARIANTS = {
    "delay2": {"synapse_delay": 2},
    "narrow": {"state_bits": 14, "current_bits": 12, "current_overflow": "wrap",
               "rounding": "trunc", "input_shift": 1, "threshold_shift": 2,
               "threshold_bits": 10, "synapse_delay": 1},
    "lava": {"state_bits": 24, "current_bits": 24, "current_overflow": "wrap",
             "rounding": "trunc", "decay_bits": 12, "current_decay_offset": 1,
             "input_shift": 6, "threshold_shift": 6, "threshold_bits": 17, "bias_bits": 13,
             "synapse_delay": 1, "lif_current_register": True},
}


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("family", ["dense", "recurrent", "cuba", "conv", "attention",
                                    "multilevel"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_profile_variants_equal_integer_reference(variant, family, tmp_path):
    target = variant_target(variant, **VARIANTS[variant])
    case = make_case(family, 200)
    qg, drive = prepare(case.graph, case.inputs, case.steps, target)
    got = simulate(qg, target, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, run_quantized(qg, drive))


def _overflow_case(state_bits: int, current_bits: int, overflow: str,
                   rounding: str) -> tuple[QuantizedGraph, Target]:
    """Integer parameters chosen so membranes and currents run into their limits."""
    graph = Graph((
        Input("x", (), shape=(4,)),
        Dense("fc", ("x",), weight=np.ones((3, 4), np.float32)),
        LIF("lif", ("fc",)),
        CubaLIF("cuba", ("fc",)),
    ), output="cuba", timesteps=24)
    target = variant_target("overflow", state_bits=state_bits, current_bits=current_bits,
                            voltage_overflow=overflow, current_overflow=overflow,
                            rounding=rounding)
    w = np.array([[127, 127, 127, 127], [-127, -127, -127, -127], [127, -90, 127, 3]])
    layers = {
        "x": QuantLayer(unit=1.0),
        "fc": QuantLayer(weight=w, bias=np.array([5, -7, 0])),
        "lif": QuantLayer(dv=np.array([0, 300, 32768 // 2]), vth=np.array(1 << 30)),
        "cuba": QuantLayer(du=np.array(100), dv=np.array([0, 7, 1000]), vth=np.array(1 << 30),
                           bias=np.array([3, -3, 0])),
    }
    return QuantizedGraph(graph, target.numeric, layers, input_scale=1.0,
                          target=target.name), target


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("overflow,rounding", [("saturate", "floor"), ("wrap", "trunc"),
                                               ("wrap", "floor"), ("saturate", "trunc")])
def test_membranes_and_currents_at_their_limits_match(overflow, rounding, tmp_path):
    qg, target = _overflow_case(18, 16, overflow, rounding)
    drive = np.full((24, 2, 4), 127.0, np.float32)
    drive[:, 1] *= -1
    want = run_quantized(qg, drive)
    limit = (1 << 17) - 1
    v = want.v["lif"]
    if overflow == "saturate":
        assert np.abs(v).max() == limit  # the test really reaches the saturation bound
    else:
        assert (np.diff(np.sign(v[:, :, 0]), axis=0) != 0).any()  # and really wraps
    got = simulate(qg, target, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, want)


@pytest.mark.needs("gcc")
def test_harness_rejects_an_input_stream_for_another_model(tmp_path):
    case = make_case("dense", 0)
    qg, _ = prepare(case.graph, case.inputs, case.steps)
    project = tmp_path / "mcu"
    write_project(lower(qg, M4.name), M4, project)
    (project / "input.bin").write_bytes(b"SNNI" + bytes(20))
    build(project, "host", sanitize=False)
    with pytest.raises(ToolchainError, match="exit 4"):
        execute(project, "host", sanitize=False)


@pytest.mark.needs("gcc")
def test_neurons_on_the_input_and_non_spike_outputs_match(tmp_path):
    """Neurons reading the int8 input directly, a current as the graph output, and a graph
    whose output is the input itself (copied out of the caller's buffer)."""
    rng = np.random.default_rng(11)
    graph = Graph((
        Input("x", (), shape=(2, 3)),
        LIF("direct", ("x",), threshold=rng.uniform(0.2, 0.8, (2, 3)).astype(np.float32),
            reset="subtract"),
        MultiLevelSpike("levels", ("x",), levels=3, axis=0),
        Flatten("flat", ("direct",)),
        Dense("readout", ("flat",), weight=rng.normal(0, 1, (4, 6)).astype(np.float32)),
        Flatten("lv", ("levels",)),
        Dense("readout2", ("lv",), weight=rng.normal(0, 1, (4, 6)).astype(np.float32)),
        Add("sum", ("readout", "readout2")),
    ), output="sum", timesteps=7)
    x = rng.normal(0, 1, (3, 2, 3)).astype(np.float32)
    qg, drive = prepare(graph, x, graph.timesteps)
    got = simulate(qg, M4, drive, runner="host", work_dir=tmp_path / "a", sanitize=True)
    assert_same_trace(got, run_quantized(qg, drive))
    echo = Graph((Input("x", (), shape=(2, 3)), Reshape("r", ("x",), shape=(6,))),
                 output="r", timesteps=3)
    qg, drive = prepare(echo, x, echo.timesteps)
    got = simulate(qg, M4, drive, runner="host", work_dir=tmp_path / "b", sanitize=True)
    assert_same_trace(got, run_quantized(qg, drive))


def exponent_net(seed: int) -> tuple[Graph, np.ndarray]:
    """Thresholds far below the weights, biased conv and dense layers: the quantizer gives both
    weight layers an exponent (int8 mantissas times 2^k, the sums shifted by snnc_scale_*)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    graph = Graph((
        Input("x", (), shape=(2, 6, 6)),
        Conv2d("conv", ("x",), weight=rng.normal(0, 2, (3, 2, 3, 3)).astype(f32),
               bias=rng.normal(0, 0.02, 3).astype(f32)),
        LIF("n1", ("conv",), beta=f32(0.9), threshold=f32(0.01)),
        Flatten("flat", ("n1",)),
        Dense("fc", ("flat",), weight=rng.normal(0, 2, (4, 48)).astype(f32),
              bias=rng.normal(0, 0.02, 4).astype(f32)),
        LIF("out", ("fc",), beta=f32(0.8), threshold=f32(0.02)),
    ), output="out", timesteps=6)
    return graph, rng.uniform(0, 1, (5, 2, 6, 6)).astype(f32)


@pytest.mark.needs("gcc")
@pytest.mark.parametrize("delay", [0, 1])
def test_weight_exponents_and_late_biases_equal_the_reference(delay, tmp_path):
    """Mantissa kernels plus the scale call, and (with a synaptic delay) biases that start at
    their stage's onset (snnc_bias_step), against the reference."""
    graph, inputs = exponent_net(3)
    target = variant_target(f"m4-exp-delay{delay}", synapse_delay=delay)
    qg, drive = prepare(graph, inputs, graph.timesteps, target)
    assert qg.q("conv").weight_exp > 0 and qg.q("fc").weight_exp > 0
    want = run_quantized(qg, drive)
    assert want.spikes["out"].any()
    got = simulate(qg, target, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, want)


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_weight_exponents_under_qemu_equal_the_reference(tmp_path):
    graph, inputs = exponent_net(4)
    qg, drive = prepare(graph, inputs, graph.timesteps)
    assert qg.q("fc").weight_exp > 0
    got = simulate(qg, M4, drive, runner="qemu", work_dir=tmp_path)
    assert_same_trace(got, run_quantized(qg, drive))
