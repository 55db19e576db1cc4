"""The command line as a user drives it: help, inspect, simulate, compile, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from snnc.cli import app
from snnc.ir.layers import LIF, Dense, Flatten, Graph, Input, Pool2d
from snnc.onnx_builder import graph_to_onnx

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "digits" / "digits.onnx"


def small_graph() -> Graph:
    rng = np.random.default_rng(3)
    w1 = np.round(rng.normal(0, 0.5, (12, 6)) * 64) / 64
    w2 = np.round(rng.normal(0, 0.5, (4, 12)) * 64) / 64
    return Graph((
        Input("x", (), shape=(6,)),
        Dense("fc1", ("x",), weight=w1.astype(np.float32)),
        LIF("lif1", ("fc1",), beta=np.float32(0.875), threshold=np.float32(1.0)),
        Dense("fc2", ("lif1",), weight=w2.astype(np.float32)),
        LIF("lif2", ("fc2",), beta=np.float32(0.75), threshold=np.float32(1.0)),
    ), output="lif2", timesteps=6, encoding="rate", name="small")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "small.onnx"
    onnx.save(graph_to_onnx(small_graph()), path)
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).random((5, 6)).astype(np.float32))
    return path


def test_help_lists_the_main_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("compile", "simulate", "inspect", "report", "convert", "targets", "run"):
        assert command in result.output


def test_inspect_shows_layers_and_per_target_support(model: Path):
    result = runner.invoke(app, ["inspect", str(model), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [row["name"] for row in data["layers"]] == ["x", "fc1", "lif1", "fc2", "lif2"]
    assert data["layers"][1]["params"] == 72
    support = data["layers"][2]["support"]
    assert set(support) == {"akida1", "cortex-m4", "loihi2", "spinnaker2", "xylo-audio2"}
    assert support["xylo-audio2"] == "yes" and support["loihi2"] == "yes"
    assert support["akida1"].startswith("approximate QNN twin (leak beta != 1")


def test_inspect_support_is_what_compile_refuses(tmp_path: Path):
    rng = np.random.default_rng(4)
    graph = Graph((
        Input("img", (), shape=(1, 4, 4)),
        Pool2d("pool", ("img",), pool="max", kernel=(2, 2), stride=(2, 2)),
        Flatten("flat", ("pool",)),
        Dense("fc", ("flat",), weight=rng.normal(0, 0.5, (3, 4)).astype(np.float32)),
        LIF("out", ("fc",)),
    ), output="out", timesteps=4, encoding="direct", name="maxpool")
    # a max pool of real values: Loihi max-pools spikes only (as OR neurons)
    path = tmp_path / "maxpool.onnx"
    onnx.save(graph_to_onnx(graph), path)
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    support = {row["name"]: row["support"] for row in json.loads(result.output)["layers"]}
    assert "max pooling" in support["pool"]["loihi2"]
    assert support["pool"]["cortex-m4"] == support["pool"]["spinnaker2"] == "yes"
    refused = runner.invoke(app, ["compile", str(path), "--target", "loihi2", "-o",
                                  str(tmp_path / "out")])
    assert refused.exit_code == 2 and "pool" in refused.output
    assert "max pooling" in refused.output


def test_simulate_writes_the_trace_layout(model: Path, inputs: Path, tmp_path: Path):
    out = tmp_path / "trace.npz"
    result = runner.invoke(app, ["simulate", str(model), "--input", str(inputs), "--steps", "7",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    trace = np.load(out)
    assert sorted(trace.files) == ["hardware_timing", "latency", "lif1/spikes", "lif1/v",
                                   "lif2/spikes", "lif2/v", "output", "steps"]
    assert trace["output"].shape == (7, 5, 4)
    assert (int(trace["steps"]), int(trace["latency"]), int(trace["hardware_timing"])) == (7, 0, 0)
    assert np.array_equal(trace["output"], trace["lif2/spikes"])


@pytest.mark.parametrize("target", ["loihi2", "spinnaker2"])
def test_simulate_is_in_model_time_and_records_the_latency(model, inputs, tmp_path, target):
    """A delayed target's 7 model steps are hardware steps latency .. latency + 6 of a longer
    raw run (each layer from its own latency); --hardware-timing keeps the raw first 7."""
    files = {}
    for name, extra in (("model", ["--steps", "7"]),
                        ("raw", ["--steps", "7", "--hardware-timing"]),
                        ("long", ["--steps", "9", "--hardware-timing"])):
        out = tmp_path / f"{name}.npz"
        result = runner.invoke(app, ["simulate", str(model), "-t", target, "-i", str(inputs),
                                     "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        files[name] = dict(np.load(out))
    model_time, raw, long = files["model"], files["raw"], files["long"]
    assert (int(model_time["latency"]), int(model_time["hardware_timing"])) == (2, 0)
    assert (int(raw["latency"]), int(raw["hardware_timing"])) == (2, 1)
    assert int(model_time["steps"]) == int(raw["steps"]) == 7
    assert np.array_equal(model_time["output"], long["output"][2:9])
    assert np.array_equal(model_time["lif1/spikes"], long["lif1/spikes"][1:8])
    assert np.array_equal(raw["output"], long["output"][:7])


def test_simulate_integer_reference_equals_the_mcu_host_build(model, inputs, tmp_path):
    pytest.importorskip("snnc.backends.mcu")
    ref, host = tmp_path / "ref.npz", tmp_path / "host.npz"
    for backend, out in (("reference", ref), ("host", host)):
        result = runner.invoke(app, ["simulate", str(model), "--target", "cortex-m4",
                                     "--backend", backend, "--input", str(inputs),
                                     "--output", str(out)])
        assert result.exit_code == 0, result.output
    a, b = np.load(ref), np.load(host)
    assert sorted(a.files) == sorted(b.files)
    assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_compile_all_writes_one_folder_per_backend_that_fits(model: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(model), "--target", "all", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["loihi", "mcu", "spinnaker2", "xylo"]
    # the leaky LIF layers have only approximate QNN twins: Akida is skipped, with the reason
    assert "akida1: skipped" in result.output and "--mapping qnn" in result.output
    for folder in out.iterdir():
        assert (folder / "report.json").is_file() and (folder / "report.md").is_file()
    assert not [p for p in out.rglob("*") if p.name.endswith((".tmp", ".old"))]


def test_compile_twice_gives_byte_identical_trees(model: Path, tmp_path: Path):
    trees = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert runner.invoke(app, ["compile", str(model), "-o", str(out)]).exit_code == 0
        trees.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*"))
                      if p.is_file()})
    assert trees[0] == trees[1]


SPIKEFORMER = ROOT / "examples" / "spikeformer"


def _said(output: str) -> str:
    """The CLI's output with its line wrapping undone."""
    return " ".join(output.split())


def test_compile_with_calibration_prints_the_agreement_and_the_widths_chosen(tmp_path: Path):
    """The spikeformer demo misses the agreement goal with 8-bit weights and inputs: the
    summary names every widened layer, as ``resources.json`` records them."""
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(SPIKEFORMER / "model.onnx"), "-t",
                                 "spinnaker2", "--calib", str(SPIKEFORMER / "calib_x.npy"),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    said = _said(result.output)
    mean = float(said.split("on the calibration data: mean ")[1].split(",")[0])
    assert mean >= 0.95
    widths = json.loads((out / "spinnaker2" / "resources.json").read_text())["widths"]
    assert widths["weight_bits"] == 8 and 8 < widths["input_bits"] <= 16
    layers = widths["widened_weight_bits"]
    assert layers and all(8 < bits <= 14 for bits in layers.values())
    assert (f"widened to reach the agreement goal: input {widths['input_bits']} bits, "
            f"{len(layers)} weight layer(s) beyond 8 bits") in said
    for name, bits in layers.items():
        assert f"{name}: {bits}-bit weights" in said


def test_compile_keeps_the_target_widths_where_the_goal_holds(tmp_path: Path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(DIGITS), "-t", "spinnaker2", "--calib",
                                 str(ROOT / "examples" / "digits" / "calib_x.npy"),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "spike agreement with the float model" in result.output
    assert "widened" not in result.output
    assert "widths" not in json.loads((out / "spinnaker2" / "resources.json").read_text())


def test_report_with_calibration_writes_the_agreement_and_the_widths(tmp_path: Path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(SPIKEFORMER / "model.onnx"), "-t", "cortex-m4",
                                 "--calib", str(SPIKEFORMER / "calib_x.npy"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    agreement = json.loads((out / "agreement.json").read_text())
    assert np.mean(list(agreement.values())) >= 0.95
    widths = json.loads((out / "widths.json").read_text())
    assert widths["input_bits"] > 8 and widths["widened_weight_bits"]
    assert "widened to reach the agreement goal" in _said(result.output)


def test_unknown_target_is_one_line_and_exit_2(model: Path, tmp_path: Path):
    result = runner.invoke(app, ["compile", str(model), "--target", "gpu", "-o",
                                 str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "unknown target 'gpu'" in result.output
    assert not (tmp_path / "o").exists()


def test_missing_model_file_is_reported_without_traceback(tmp_path: Path):
    result = runner.invoke(app, ["inspect", str(tmp_path / "nope.onnx")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ")


def test_wrong_input_shape_names_the_expected_shape(model: Path, tmp_path: Path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 5), np.float32))
    result = runner.invoke(app, ["simulate", str(model), "--input", str(bad)])
    assert result.exit_code == 2
    assert "(batch, 6)" in result.output


def test_digits_model_reaches_ninety_percent_in_the_float_reference():
    x = ROOT / "examples" / "digits" / "test_x.npy"
    y = ROOT / "examples" / "digits" / "test_y.npy"
    result = runner.invoke(app, ["simulate", str(DIGITS), "--input", str(x), "--labels", str(y)])
    assert result.exit_code == 0, result.output
    accuracy = float(result.output.split("accuracy:")[1].split()[0])
    assert accuracy >= 0.90


def test_simulate_as_exported_runs_the_onnx_graph_and_matches_the_float_reference(
        model: Path, inputs: Path, tmp_path: Path):
    # dyadic weights and decays: the exported float32 arithmetic and the layer view's agree
    exported, reference = tmp_path / "exported.npz", tmp_path / "reference.npz"
    result = runner.invoke(app, ["simulate", str(model), "-b", "exported", "-i", str(inputs),
                                 "--steps", "7", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("as exported: 7 steps, batch 5")
    assert runner.invoke(app, ["simulate", str(model), "-i", str(inputs), "--steps", "7",
                               "-o", str(reference)]).exit_code == 0
    got, want = np.load(exported), np.load(reference)
    assert sorted(got.files) == ["hardware_timing", "latency", "lif2/spikes", "output", "steps"]
    assert want["output"].any()
    assert np.array_equal(got["output"], want["output"])


@pytest.mark.parametrize("extra", [["-t", "cortex-m4"], ["--nir"]])
def test_simulate_as_exported_refuses_a_target_or_a_nir_model(model: Path, inputs: Path,
                                                             tmp_path: Path, extra: list[str]):
    path = model
    if extra == ["--nir"]:
        path, extra = tmp_path / "small.nir", []
        assert runner.invoke(app, ["convert", str(model), str(path)]).exit_code == 0
    result = runner.invoke(app, ["simulate", str(path), "-b", "exported", "-i", str(inputs),
                                 *extra])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --backend exported")
    assert result.stderr.count("\n") == 1
