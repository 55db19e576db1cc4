"""Model time: a target whose synapses deliver late returns the model's own steps.

The strongest check needs no tolerance: the same integer numerics with a synaptic delay of 1 or
2 steps, run in model time, equal the undelayed run bit for bit on a feed-forward network (the
digits example; biased framework exports, whose biases start with their stage's input),
every layer's spikes and membranes included. The raw schedule (``hardware_timing``) is that run
shifted by each layer's latency.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from snnc import api
from snnc.reference.integer import latency, layer_latencies
from snnc.reference.timing import model_drive, padded
from snnc.target import Target, load_target, parse_target

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def variant_target(name: str, synapse_delay: int) -> Target:
    """cortex-m4 with its synapses delivering ``synapse_delay`` steps late."""
    text = Path(load_target("cortex-m4").path).read_text(encoding="utf-8")
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', text)
    text = re.sub(r"(?m)^synapse_delay = .*$", f"synapse_delay = {synapse_delay}", text)
    if not re.search(r"(?m)^\[mcu\]$", text):  # older target files had no [mcu] table
        text += '\n[mcu]\ncpu = "cortex-m4"\n'
    return parse_target(text, f"{name}.toml")


@pytest.fixture(scope="module")
def digits():
    graph = api.load(EXAMPLES / "digits" / "digits.onnx")
    x = np.load(EXAMPLES / "digits" / "test_x.npy")[:40]
    return graph, x, api.simulate(graph, x, target="cortex-m4")


@pytest.mark.parametrize("delay", [1, 2])
def test_a_delayed_target_in_model_time_equals_the_undelayed_run(digits, delay):
    graph, x, undelayed = digits
    target = variant_target(f"m4-delay{delay}", synapse_delay=delay)
    got = api.simulate(graph, x, target=target)
    assert got.latency == 2 * delay and not got.hardware_timing
    want = undelayed.arrays()
    have = got.arrays()
    assert sorted(have) == sorted(want)
    for key, value in want.items():
        if key != "latency":
            assert np.array_equal(have[key], value), key


@pytest.mark.parametrize("delay", [1, 2])
def test_hardware_timing_keeps_the_raw_schedule(digits, delay):
    graph, x, undelayed = digits
    target = variant_target(f"m4-delay{delay}", synapse_delay=delay)
    raw = api.simulate(graph, x, target=target, hardware_timing=True)
    assert raw.hardware_timing and raw.latency == 2 * delay
    steps = graph.timesteps
    lag = raw.latency
    assert np.array_equal(raw.output[lag:], undelayed.output[:steps - lag])
    assert not raw.output[:lag].any()  # the pipeline is still filling
    lags = layer_latencies(api.quantize(graph, target).graph, target.numeric)
    for name, spikes in raw.spikes.items():
        d = lags[name]
        assert np.array_equal(spikes[d:], undelayed.spikes[name][:steps - d]), name


def test_the_npz_records_steps_latency_and_timing(digits):
    graph, x, _ = digits
    arrays = api.simulate(graph, x, target="loihi2").arrays()
    assert int(arrays["steps"]) == graph.timesteps == arrays["output"].shape[0]
    assert int(arrays["latency"]) == latency(graph, api.as_target("loihi2").numeric) == 2
    assert int(arrays["hardware_timing"]) == 0


def test_raw_inputs_go_on_as_encoded_and_a_short_drive_gets_empty_steps():
    x = np.array([[0.5, 1.0], [0.25, 0.0]], dtype=np.float32)
    drive = model_drive(x, 4, 2, "direct", (2,))
    assert drive.shape == (6, 2, 2) and np.array_equal(drive[5], x)
    rate = model_drive(x, 4, 2, "rate", (2,))
    assert rate.shape == (6, 2, 2) and rate[:, 0, 1].sum() == 6
    short = model_drive(drive[:4], 4, 2, "direct", (2,))
    assert np.array_equal(short, padded(drive[:4], 2)) and not short[4:].any()
    long = model_drive(drive, 4, 2, "direct", (2,))
    assert np.array_equal(long, drive)


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frameworks"
RECORDED = sorted(p for p in FIXTURES.glob("*.onnx")
                  if p.with_suffix(".npz").exists()
                  and "spikes" in np.load(p.with_suffix(".npz")).files)


def _agreement(got: np.ndarray, want: np.ndarray, shift: int) -> float:
    steps = got.shape[0]
    if shift >= 0:
        return float(np.mean(got[shift:] == want[:steps - shift]))
    return float(np.mean(got[:steps + shift] == want[-shift:]))


@pytest.mark.parametrize("target", ["loihi2", "spinnaker2"])
@pytest.mark.parametrize("fixture", RECORDED, ids=lambda p: p.stem)
def test_real_exports_line_up_with_the_framework_without_a_shift(fixture, target):
    """Framework exports with their recorded spikes (snnTorch, Norse, SpikingJelly): on the
    delayed targets, model-time outputs agree with the framework best at shift 0."""
    data = np.load(fixture.with_suffix(".npz"))
    graph, x, want = api.load(fixture), data["x"], data["spikes"]
    got = api.simulate(graph, x, steps=x.shape[0], target=target)
    assert got.latency > 0 and got.output.shape == want.shape
    at = {shift: _agreement(got.output, want, shift) for shift in range(-2, 3)}
    assert max(at, key=at.__getitem__) == 0, at


@pytest.mark.parametrize("delay", [1, 2])
@pytest.mark.parametrize("name", ["snntorch_leaky", "snntorch_synaptic", "norse_lifcell"])
def test_biases_start_with_their_input_so_a_biased_export_in_model_time_is_undelayed(name, delay):
    """Biased Dense layers and neurons on a delayed target: each bias is on from its stage's
    latency (``bias_onsets``), so nothing is integrated before the input arrives and model
    time equals the undelayed run, membranes included."""
    fixture = FIXTURES / f"{name}.onnx"
    graph, x = api.load(fixture), np.load(fixture.with_suffix(".npz"))["x"]
    assert any(getattr(lay, "bias", None) is not None for lay in graph.layers)
    want = api.simulate(graph, x, steps=x.shape[0], target="cortex-m4").arrays()
    target = variant_target(f"m4-delay{delay}", synapse_delay=delay)
    have = api.simulate(graph, x, steps=x.shape[0], target=target).arrays()
    assert sorted(have) == sorted(want)
    for key, value in want.items():
        if key != "latency":
            assert np.array_equal(have[key], value), key


@pytest.mark.needs("lava")
def test_lava_runs_a_real_export_in_model_time_like_the_reference():
    fixture = FIXTURES / "snntorch_leaky.onnx"
    data = np.load(fixture.with_suffix(".npz"))
    graph, x = api.load(fixture), data["x"]
    want = api.simulate(graph, x, steps=x.shape[0], target="loihi2").arrays()
    got = api.simulate(graph, x, steps=x.shape[0], target="loihi2", backend="lava").arrays()
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        assert np.array_equal(got[key], value), key


def test_a_model_with_qnn_stages_runs_its_own_schedule_as_run(digits):
    """QNN stages run once after the steps that feed them (snnc.reference.mapped): a delayed
    target runs T steps and labels the trace as run, equal to the mixed reference."""
    from snnc.reference.integer import run_quantized

    graph, x, _ = digits
    calib = np.load(EXAMPLES / "digits" / "calib_x.npy")
    target = api.as_target("spinnaker2")
    got = api.simulate(graph, x, target=target, calib=calib, mapping="qnn")
    assert got.hardware_timing and got.output.shape[0] == graph.timesteps
    qg = api.quantize(api.optimize(graph, target, calib=calib, mapping="qnn"), target,
                      calib=calib, mapping="qnn")
    want = run_quantized(qg, model_drive(x, graph.timesteps, 0, graph.encoding,
                                         graph.input.shape))
    assert np.array_equal(got.output, want.output)
    assert got.spikes.keys() == want.spikes.keys()
    for name, spikes in want.spikes.items():
        assert np.array_equal(got.spikes[name], spikes), name
