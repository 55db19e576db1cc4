"""The committed spikeformer example: what it is, how well it classifies unseen voices, that
every backend runs it exactly like the integer reference, and that the CLI compiles and
reports it."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from testkit.traces import assert_same_trace
from typer.testing import CliRunner

from snnc import api
from snnc.backends import get_backend
from snnc.cli import app
from snnc.ir.layers import Conv2d, Graph, MultiLevelSpike, SpikingSelfAttention
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.simulate import Trace, simulate
from snnc.target import load_target

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spikeformer"
MODEL = EXAMPLE / "model.onnx"
TARGETS = ("cortex-m4", "loihi2", "spinnaker2")
# A chance classifier scores 0.1; the float model scores ~0.9 on these unseen voices.
MIN_ACCURACY = 0.85

_SPEC = importlib.util.spec_from_file_location("spikeformer_model", EXAMPLE / "model.py")
assert _SPEC is not None and _SPEC.loader is not None
arch = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = arch  # dataclasses look their module up
_SPEC.loader.exec_module(arch)


@cache
def graph() -> Graph:
    return api.load(MODEL)


@cache
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.load(EXAMPLE / "test_x.npy"), np.load(EXAMPLE / "test_y.npy"),
            np.load(EXAMPLE / "calib_x.npy"))


@cache
def prepared(target_name: str, count: int) -> tuple[QuantizedGraph, np.ndarray, Trace]:
    """Integer model, drive over ``latency + 1`` steps and the integer reference trace."""
    x, _, calib = data()
    target = load_target(target_name)
    qg = quantize(graph(), target.numeric, calib=calib, target=target.name)
    steps = graph().timesteps + latency(graph(), qg.profile)
    drive = encode(x[:count], steps, graph().encoding, graph().input.shape)
    return qg, drive, run_quantized(qg, drive)


def test_example_is_an_iml_spikeformer_encoder():
    g = graph()
    attention = [lay for lay in g.layers if isinstance(lay, SpikingSelfAttention)]
    levels = [lay for lay in g.layers if isinstance(lay, MultiLevelSpike)]
    assert len(attention) == arch.BLOCKS
    assert all(lay.heads == arch.HEADS and len(set(lay.gammas.tolist())) == arch.HEADS
               for lay in attention)
    assert all(lay.axis == -1 and lay.levels == arch.LEVELS for lay in levels)
    (front,) = [lay for lay in g.layers if isinstance(lay, Conv2d)]
    assert front.groups == arch.TOKENS  # one frequency convolution shared by every token
    per_token = front.weight.reshape(arch.TOKENS, arch.FILTERS, -1)
    assert np.array_equal(per_token, np.broadcast_to(per_token[:1], per_token.shape))
    assert g.timesteps == 1 and g.shape(g.output) == (arch.CLASSES,)


def test_training_forward_is_the_exported_float_model():
    """The numpy training code computes what the exported layer view computes."""
    g = graph()
    params = {f"{name}.weight": lay.weight for lay in g.layers
              for name in [lay.name] if hasattr(lay, "weight")}
    params.update({f"{lay.name}.bias": lay.bias for lay in g.layers
                   if getattr(lay, "bias", None) is not None})
    params["frontend.weight"] = params["frontend.weight"][:arch.FILTERS, 0, 0, :]
    params["frontend.bias"] = params["frontend.bias"][:arch.FILTERS]
    x = data()[0][:64]
    logits = arch.forward({k: arch.leaf(v) for k, v in params.items()}, x).value
    reference = simulate(g, x, record=False).output[0]
    np.testing.assert_allclose(logits, reference, rtol=0, atol=1e-3)
    assert np.array_equal(logits.argmax(1), reference.argmax(1))


def test_float_reference_recognises_unseen_voices():
    x, y, _ = data()
    assert len(y) == 250 and np.bincount(y).tolist() == [25] * 10
    predicted = simulate(graph(), x, record=False).output[0].argmax(1)
    assert np.mean(predicted == y) >= MIN_ACCURACY


@pytest.mark.parametrize("target", TARGETS)
def test_integer_model_keeps_the_accuracy(target):
    """Scored without the profile's synaptic delay: the model is stateless, so a delayed
    pipeline settles on exactly this output after its latency (the backend tests below run
    the delayed traces)."""
    x, y, calib = data()
    t = load_target(target)
    qg = quantize(graph(), replace(t.numeric, synapse_delay=0), calib=calib, target=t.name)
    ref = run_quantized(qg, encode(x, 1, graph().encoding, graph().input.shape),
                        record=False)
    predicted = ref.output[-1].argmax(1)
    float_predicted = simulate(graph(), x, record=False).output[0].argmax(1)
    assert np.mean(predicted == y) >= MIN_ACCURACY
    assert np.mean(predicted == float_predicted) >= 0.9


def _run(target_name: str, runner: str, count: int, work: Path) -> tuple[Trace, Trace]:
    target = load_target(target_name)
    qg, drive, ref = prepared(target_name, count)
    backend = get_backend(target.backend)
    backend.resources(qg, target)
    return backend.simulate(qg, target, drive, runner, work), ref


@pytest.mark.needs("gcc")
def test_mcu_host_build_runs_the_example_exactly(tmp_path):
    got, ref = _run("cortex-m4", "host", 250, tmp_path)
    assert_same_trace(got, ref)


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_mcu_under_qemu_runs_the_example_exactly(tmp_path):
    got, ref = _run("cortex-m4", "qemu", 8, tmp_path)
    assert_same_trace(got, ref)


def test_spinnaker2_layout_runs_the_example_exactly(tmp_path):
    got, ref = _run("spinnaker2", "spinnaker2", 16, tmp_path)
    assert_same_trace(got, ref)


@pytest.mark.needs("lava")
def test_lava_runs_the_example_exactly(tmp_path):
    got, ref = _run("loihi2", "lava", 4, tmp_path)
    assert_same_trace(got, ref)


def test_cli_compiles_the_example_for_every_target(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--quiet", "compile", str(MODEL), "--target", "all",
                                      "-o", str(out), "--calib",
                                      str(EXAMPLE / "calib_x.npy")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["loihi", "mcu", "spinnaker2"]
    loihi = json.loads((out / "loihi" / "resources.json").read_text())
    off_chip = {entry["layer"]: entry["reason"] for entry in loihi["off_chip"]}
    assert "b0.attention" in off_chip and "embed" in off_chip  # host processes, named
    for folder in ("loihi", "mcu", "spinnaker2"):
        report = (out / folder / "report.md").read_text()
        assert "The equivalent ANN needs" in report
        assert "multi-level inputs ceil(log2(D T + 1)): 3 for D = 4" in report


def test_report_compares_with_the_equivalent_ann(tmp_path):
    result = CliRunner().invoke(app, ["--quiet", "report", str(MODEL), "--target", "loihi2",
                                      "--calib", str(EXAMPLE / "calib_x.npy"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    layers = {entry["layer"]: entry for entry in payload["layers"]}
    attention_stage = layers["b0.attention_s"]
    assert attention_stage["dynamic_macs"] > 0 and attention_stage["synapses"] == 0
    assert attention_stage["literature"]["macs"] == attention_stage["dynamic_macs"]
    totals = payload["totals"]
    assert totals["literature_ann_pj"] > 2 * totals["literature_snn_pj"]
