"""Xylo backend: the emitted specification run in rockpool's XyloSim (xylosim) equals the
bit-shift integer reference bit for bit; the limits and unsupported layers are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from testkit.traces import assert_equal_runs

from snnc import api
from snnc.errors import ResourceError, UnsupportedError
from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense, Graph, Input
from snnc.reference.encode import encode

FIXTURES = Path(__file__).parents[2] / "fixtures" / "frameworks"
F32 = np.float32


def xylo_net(seed: int, inputs: int = 12, hidden: int = 20, outputs: int = 6,
             gain: float = 1.0) -> Graph:
    """Input -> CubaLIF (recurrent) -> LIF -> CubaLIF read-out, with biases everywhere."""
    rng = np.random.default_rng(seed)

    def w(o: int, i: int) -> np.ndarray:
        return (rng.normal(0, gain * 2 / np.sqrt(i), (o, i))).astype(F32)

    layers = (
        Input("x", (), shape=(inputs,)),
        Dense("w0", ("x",), weight=w(hidden, inputs), bias=rng.normal(0, .1, hidden).astype(F32)),
        Dense("r0", ("h0",), weight=w(hidden, hidden), recurrent=True),
        Add("s0", ("w0", "r0")),
        CubaLIF("h0", ("s0",), current_decay=F32(0.25), voltage_decay=F32(0.1),
                threshold=F32(1.0), bias=rng.normal(0, .1, hidden).astype(F32)),
        Dense("w1", ("h0",), weight=w(hidden, hidden)),
        LIF("h1", ("w1",), beta=F32(0.9), threshold=F32(1.0)),
        Dense("w2", ("h1",), weight=w(outputs, hidden)),
        CubaLIF("out", ("w2",), current_decay=F32(0.5), voltage_decay=F32(0.05),
                threshold=F32(0.8)),
    )
    return Graph(layers, output="out", timesteps=30, encoding="rate", name="xylo_net")


@pytest.mark.needs("xylosim")
@pytest.mark.parametrize("target", ["xylo-audio2", "xylo-imu"])
@pytest.mark.parametrize("seed,gain", [(0, 1.0), (1, 6.0), (2, 40.0)])
def test_recurrent_three_layer_net_equals_the_reference(target: str, seed: int,
                                                        gain: float) -> None:
    graph = xylo_net(seed, gain=gain)
    x = np.random.default_rng(seed + 9).uniform(0, 1, (3, 12)).astype(F32)
    want = api.simulate(graph, x, target=target)
    got = api.simulate(graph, x, target=target, backend="xylosim")
    assert_equal_runs(want, got)
    assert int(want.output.sum()) > 0  # the comparison is not about silence
    if gain > 10:  # large currents: multi-spike counts above 1 and saturating sums
        assert max(int(s.max()) for s in want.spikes.values()) > 1


@pytest.mark.needs("xylosim")
@pytest.mark.parametrize("name", ["snntorch_synaptic.nir", "snntorch_synaptic.onnx",
                                  "snntorch_rleaky.onnx", "spikingjelly_lif.nir"])
def test_framework_exports_run_bit_exact_on_xylosim(name: str) -> None:
    graph = api.load(FIXTURES / name)
    x = np.load(FIXTURES / (Path(name).stem + ".npz"))["x"]
    want = api.simulate(graph, x, target="xylo-audio2")
    got = api.simulate(graph, x, target="xylo-audio2", backend="xylosim")
    assert_equal_runs(want, got)
    assert int(want.output.sum()) > 0


@pytest.mark.needs("xylosim")
def test_emitted_run_py_runs_alone(tmp_path: Path) -> None:
    graph = xylo_net(3)
    x = np.random.default_rng(4).uniform(0, 1, (2, 12)).astype(F32)
    result = api.compile(graph, "xylo-audio2", tmp_path)
    folder = result.artifact.out_dir
    doc = json.loads((folder / "resources.json").read_text())
    assert doc["hidden_neurons"] == 40 and doc["readout_neurons"] == 6
    assert doc["output_from"] == "readout"
    qg = result.quantized
    events = qg.quantize_input(encode(x, graph.timesteps, graph.encoding, graph.input.shape))
    np.save(tmp_path / "events.npy", events)
    subprocess.run([sys.executable, "run.py", str(tmp_path / "events.npy"),
                    str(tmp_path / "trace.npz")], cwd=folder, check=True)
    with np.load(tmp_path / "trace.npz") as f:
        output = f["output"]
    want = api.simulate(graph, x, target="xylo-audio2", hardware_timing=True)  # as run
    assert np.array_equal(output, want.output)


def test_compiling_twice_gives_identical_files(tmp_path: Path) -> None:
    graph = xylo_net(5)
    a = api.compile(graph, "xylo-audio2", tmp_path / "a").artifact.out_dir
    b = api.compile(graph, "xylo-audio2", tmp_path / "b").artifact.out_dir
    for name in ("spec.npz", "run.py", "resources.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_too_many_inputs_or_readout_neurons_are_resource_errors(tmp_path: Path) -> None:
    with pytest.raises(ResourceError, match="input channels needs 17 but the limit is 16"):
        api.compile(xylo_net(0, inputs=17), "xylo-audio2", tmp_path)
    with pytest.raises(ResourceError, match="readout neurons needs 9 but the limit is 8"):
        api.compile(xylo_net(0, outputs=9), "xylo-audio2", tmp_path)
    api.compile(xylo_net(0, outputs=9), "xylo-imu", tmp_path / "imu")  # 16 readout neurons
    with pytest.raises(ResourceError, match="hidden neurons needs 600 but the limit is 496"):
        api.compile(xylo_net(0, hidden=300), "xylo-imu", tmp_path / "big")
    assert not (tmp_path / "xylo").exists()


def test_a_convolution_has_no_xylo_form(tmp_path: Path) -> None:
    layers = (Input("x", (), shape=(1, 4, 4)),
              Conv2d("c", ("x",), weight=np.ones((2, 1, 3, 3), F32)),
              LIF("n", ("c",), beta=F32(0.9), threshold=F32(1.0)))
    graph = Graph(layers, output="n", timesteps=4, encoding="rate", name="conv")
    with pytest.raises(UnsupportedError, match="conv2d layers have no Xylo form"):
        api.compile(graph, "xylo-audio2", tmp_path)
