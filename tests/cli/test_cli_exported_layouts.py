"""`snnc simulate -i X` takes X exactly as a framework's exported graph takes it, the trace says
how its steps x batch map back, and `snnc inspect` names each neuron's recovered idiom."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from snnc.cli import app

runner = CliRunner()
MATRIX = Path(__file__).resolve().parents[1] / "fixtures" / "matrix"


@pytest.mark.parametrize(("name", "layout"), [
    ("sinabs_iafsqueeze_multispike_mlp_ts17", "B*T,*"),  # [B*T, F]
    ("sinabs_lif_singlespike_mlp_dyn18", "B,T,*"),  # [B, T, F]
    ("norse_lif_mlp_dyn18", "T,B,*"),  # [T, B, F]
])
def test_simulate_takes_the_input_as_exported_and_maps_the_output_back(
        tmp_path: Path, name: str, layout: str) -> None:
    with np.load(MATRIX / f"{name}.npz") as data:
        x, want = data["x"], data["ort"]
    np.save(tmp_path / "x.npy", x)
    trace = tmp_path / "trace.npz"
    result = runner.invoke(app, ["simulate", str(MATRIX / f"{name}.onnx"), "-i",
                                 str(tmp_path / "x.npy"), "-o", str(trace)])
    assert result.exit_code == 0, result.output
    with np.load(trace) as data:
        assert str(data["layout/input"]) == layout
        assert str(data["layout/output"]) == layout
        assert np.array_equal(data["output_as_exported"], want)
        assert data["output"].shape[:2] == (8, 2)  # steps x batch


def test_inspect_names_the_idiom_and_the_layout() -> None:
    result = runner.invoke(app, ["inspect", "--json",
                                 str(MATRIX / "spikingjelly_plif_m_mlp_dyn18.onnx")])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["input_layout"] == "T,B,*"
    idioms = [row["idiom"] for row in info["layers"] if row["kind"] == "lif"]
    assert len(idioms) == 2
    assert all("ParametricLIFNode" in i and ">=" in i for i in idioms)


def test_an_input_that_does_not_split_into_steps_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((13, 6), np.float32))
    result = runner.invoke(app, ["simulate", str(
        MATRIX / "sinabs_iafsqueeze_multispike_mlp_ts17.onnx"), "-i", str(tmp_path / "x.npy")])
    assert result.exit_code == 2
    assert "does not split into 8 steps" in result.output
