"""snnc.frontend.load: dispatch by suffix and a first end-to-end load of an ONNX file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnc.errors import InputError
from snnc.frontend import load
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.onnx_builder import graph_to_onnx
from snnc.reference.simulate import run_graph

F32 = np.float32


def small_net() -> Graph:
    rng = np.random.default_rng(3)
    return Graph((
        Input("x", (), shape=(6,)),
        Dense("fc1", ("x",), weight=rng.integers(-32, 32, (5, 6)).astype(F32) / 64),
        LIF("lif1", ("fc1",), beta=F32(0.75), threshold=F32(0.5), reset="subtract"),
        Dense("fc2", ("lif1",), weight=rng.integers(-32, 32, (3, 5)).astype(F32) / 32),
        LIF("lif2", ("fc2",), beta=F32(0.5), threshold=F32(0.25)),
    ), output="lif2", timesteps=6, encoding="rate", name="small")


@pytest.mark.parametrize("form", ["snnc", "primitive"])
def test_load_reads_an_onnx_file_into_the_same_layer_view(tmp_path: Path, form: str) -> None:
    graph = small_net()
    path = tmp_path / "net.onnx"
    path.write_bytes(graph_to_onnx(graph, form).SerializeToString())
    loaded = load(path)
    assert [lay.name for lay in loaded.layers] == [lay.name for lay in graph.layers]
    assert (loaded.timesteps, loaded.encoding, loaded.output) == (6, "rate", "lif2")
    drive = np.random.default_rng(0).integers(0, 2, (6, 4, 6)).astype(F32)
    assert np.array_equal(run_graph(loaded, drive).output, run_graph(graph, drive).output)


def test_load_rejects_an_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"x")
    with pytest.raises(InputError, match=r"model\.pt"):
        load(path)
