"""Lava's fixed-point simulation of the emitted network equals the integer reference exactly.

Every comparison is ``numpy.array_equal`` on the whole trace: the output and, per neuron layer,
its spikes (or spike levels) and LIF membranes, step by step (the reference includes Loihi's
one-step synaptic delay, so no realignment is needed). These tests run in CI (``needs("lava")``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from testkit.loihi_netgen import TOPOLOGIES, conv_net, drive_for, generated_net
from testkit.traces import assert_same_trace

from snnc import api
from snnc.backends.loihi import compat, simulate
from snnc.backends.loihi.emit import emit
from snnc.backends.loihi.lower import lower
from snnc.backends.loihi.simulate import run_artifact
from snnc.frontend.nir import load_nir
from snnc.ir.layers import LIF, CubaLIF, Dense, Graph, Input
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.simulate import run_graph
from snnc.reference.timing import hardware_trace, model_drive, padded, to_model_time
from snnc.target import load_target

pytestmark = pytest.mark.needs("lava")

LOIHI = load_target("loihi2")
F32 = np.float32


def q(graph: Graph) -> QuantizedGraph:
    return quantize(graph, LOIHI.numeric, target=LOIHI.name)


@pytest.mark.parametrize("seed", range(2 * TOPOLOGIES))
def test_generated_net_runs_bit_exact_in_lava(tmp_path, seed):
    graph = generated_net(seed)
    qg = q(graph)
    drive = drive_for(graph, batch=4, seed=seed)
    expected = run_quantized(qg, drive)
    assert sum(int(np.abs(s).sum()) for s in expected.spikes.values()) > 0
    assert_same_trace(expected, simulate(qg, LOIHI, drive, "lava", tmp_path))


@pytest.mark.parametrize("per_neuron", [False, True])
def test_full_range_lava_parameters_over_100_steps(tmp_path, per_neuron):
    """du, dv over [0, 4095], vth over [0, 131071], bias over [-4096, 4095], weights over
    [-127, 127], graded input up to 127: currents wrap and membranes saturate, in both."""
    rng = np.random.default_rng(17 + per_neuron)
    n_in, n, n_out, steps = 16, 12, 6, 100
    graph = Graph((Input("x", (), shape=(n_in,)),
                   Dense("fc", ("x",), weight=np.zeros((n, n_in), F32)), CubaLIF("h", ("fc",)),
                   Dense("fc2", ("h",), weight=np.zeros((n_out, n), F32)), LIF("out", ("fc2",))),
                  output="out", timesteps=steps, encoding="direct")
    shape = (n,) if per_neuron else ()

    def draw(low: int, high: int, size: tuple[int, ...]) -> np.ndarray:
        return rng.integers(low, high + 1, size)

    layers = {
        "x": QuantLayer(),
        "fc": QuantLayer(weight=draw(-127, 127, (n, n_in))),
        "h": QuantLayer(du=draw(0, 4095, shape), dv=draw(0, 4095, shape),
                        vth=draw(0, 131071, shape), bias=draw(-4096, 4095, (n,))),
        "fc2": QuantLayer(weight=draw(-127, 127, (n_out, n))),
        "out": QuantLayer(dv=draw(0, 4095, ()), vth=draw(0, 600, ()),
                          bias=draw(-4096, 4095, (n_out,))),
    }
    qg = QuantizedGraph(graph, LOIHI.numeric, layers, input_scale=1.0, target=LOIHI.name)
    drive = draw(-127, 127, (steps, 3, n_in)).astype(F32)
    expected = run_quantized(qg, drive)
    assert expected.spikes["h"].any() and expected.spikes["out"].any()
    assert_same_trace(expected, simulate(qg, LOIHI, drive, "lava", tmp_path))


def digits_net(hidden: int = 128, steps: int = 16) -> tuple[Graph, np.ndarray, np.ndarray]:
    """64-128-10 LIF on scikit-learn's 8x8 digits: random hidden layer, least-squares read-out
    fitted on the float reference's hidden spike counts. Returns (graph, test x, test labels)."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(F32)
    y = digits.target
    rng = np.random.default_rng(11)
    w1 = rng.normal(0, 0.35, (hidden, 64)).astype(F32)
    layers = (Input("pixels", (), shape=(64,)), Dense("fc1", ("pixels",), weight=w1),
              LIF("hidden", ("fc1",), beta=F32(0.9), threshold=F32(1.0)))
    probe = Graph(layers, output="hidden", timesteps=steps, encoding="rate")
    train = slice(0, 600)
    counts = run_graph(probe, encode(x[train], steps, "rate", (64,)), record=False)
    features = counts.output.sum(axis=0)
    target = np.eye(10)[y[train]] * 4.0
    w2, *_ = np.linalg.lstsq(features, target, rcond=None)
    graph = Graph((*layers, Dense("fc2", ("hidden",), weight=(w2.T * 1.5).astype(F32)),
                   LIF("digits", ("fc2",), beta=F32(0.9), threshold=F32(1.0))),
                  output="digits", timesteps=steps, encoding="rate", name="digits")
    test = slice(1700, 1724)
    return graph, x[test], y[test]


def test_digits_64_128_10_matches_the_reference_on_24_samples(tmp_path):
    graph, x, labels = digits_net()
    qg = quantize(graph, LOIHI.numeric, calib=x, target=LOIHI.name)
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    expected = run_quantized(qg, drive)
    got = simulate(qg, LOIHI, drive, "lava", tmp_path)
    assert_same_trace(expected, got)
    reference_pred, lava_pred = api.predict(expected), api.predict(got)
    assert np.array_equal(reference_pred, lava_pred)
    assert (lava_pred == labels).mean() > 0.5  # a working classifier, not a silent network


def test_cli_api_lava_backend_equals_reference_backend():
    graph = generated_net(0)
    x = np.random.default_rng(2).random((3, *graph.input.shape)).astype(F32)
    reference = api.simulate(graph, x, target="loihi2", backend="reference")
    assert_same_trace(reference, api.simulate(graph, x, target="loihi2", backend="lava"))


def test_lava_sparse_synapses_give_the_same_trace_as_dense(tmp_path):
    graph = conv_net(np.random.default_rng(3), "direct")
    qg = q(graph)
    drive = drive_for(graph, batch=3, seed=3)
    emit(qg, LOIHI, tmp_path / "loihi")
    got = run_artifact(tmp_path / "loihi", qg.quantize_input(drive), tmp_path, dense_limit=0)
    assert_same_trace(run_quantized(qg, drive), got)


@pytest.mark.parametrize("encoding", ["rate", "direct"])
def test_neuron_reading_the_input_directly_gets_it_without_delay(tmp_path, encoding):
    graph = Graph((Input("x", (), shape=(5,)),
                   LIF("h", ("x",), beta=F32(0.5), threshold=F32(0.6)),
                   Dense("fc", ("h",), weight=np.eye(3, 5, dtype=F32)),
                   LIF("out", ("fc",), threshold=F32(0.5))), output="out", encoding=encoding)
    qg = q(graph)
    drive = drive_for(graph, batch=2, seed=7)
    expected = run_quantized(qg, drive)
    assert expected.spikes["h"].sum() > 0
    assert_same_trace(expected, simulate(qg, LOIHI, drive, "lava", tmp_path))


RAW_LAVA = """
import json, sys
import numpy as np
import lava_compat
lava_compat.activate()
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source

weights = np.array([[3], [-3], [1], [-1], [5]])
result = {}
for name, w, exp in (("plain", weights, 0), ("doubled", 2 * weights, -1)):
    src = Source(data=np.array([[1, 0, 0]]))
    dense = Dense(weights=w, weight_exp=exp)
    sink = Sink(shape=(5,), buffer=3)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(sink.a_in)
    src.run(condition=RunSteps(num_steps=3), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    result[name] = sink.data.get().astype(int).T.tolist()
    src.stop()
print(json.dumps(result))
"""


def test_raw_lava_drops_mixed_sign_lsb_and_delays_one_step_which_doubling_undoes(tmp_path):
    shutil.copy(compat.__file__, tmp_path / "lava_compat.py")
    done = subprocess.run([sys.executable, "-c", RAW_LAVA], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Step 1 sees nothing (one-step delay), step 2 the weights of step 1's spike.
    assert result["plain"] == [[0] * 5, [2, -4, 0, -2, 4], [0] * 5]
    assert result["doubled"] == [[0] * 5, [3, -3, 1, -1, 5], [0] * 5]


def test_membranes_can_be_left_out_of_the_run(tmp_path):
    graph = generated_net(1)
    qg = q(graph)
    drive = drive_for(graph, batch=2, seed=1)
    emit(qg, LOIHI, tmp_path / "loihi")
    got = run_artifact(tmp_path / "loihi", qg.quantize_input(drive), tmp_path, voltages=False)
    expected = run_quantized(qg, drive)
    assert got.v == {}
    assert np.array_equal(got.output, expected.output)
    assert all(np.array_equal(got.spikes[k], v) for k, v in expected.spikes.items())


def _run_py(folder: Path, x: np.ndarray, out: Path, *extra: str) -> dict[str, np.ndarray]:
    np.save(out.with_suffix(".npy"), x)
    done = subprocess.run([sys.executable, str(folder / "run.py"), "--input",
                           str(out.with_suffix(".npy")), "--output", str(out), *extra],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    with np.load(out) as got:
        return {k: got[k] for k in got.files}


def _assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(expected)
    assert all(np.array_equal(got[k], v) for k, v in expected.items())


def test_run_py_quantises_a_float_drive_like_snnc(tmp_path):
    """A float drive, quantised like snnc; model time by default, the raw schedule with
    --hardware-timing."""
    graph = generated_net(TOPOLOGIES)  # direct encoding: real-valued input
    qg = q(graph)
    drive = drive_for(graph, batch=2, seed=4)
    emit(qg, LOIHI, tmp_path / "loihi")
    lag = latency(qg.graph, qg.profile)
    assert lag > 0
    model = to_model_time(run_quantized(qg, padded(drive, lag)), qg.graph, qg.profile,
                          drive.shape[0])
    _assert_same(_run_py(tmp_path / "loihi", drive, tmp_path / "m.npz"), model.arrays())
    raw = hardware_trace(run_quantized(qg, drive), qg.graph, qg.profile)
    _assert_same(_run_py(tmp_path / "loihi", drive, tmp_path / "h.npz", "--hardware-timing"),
                 raw.arrays())


def test_run_py_encodes_raw_inputs_like_snnc(tmp_path):
    """Raw (batch, ...) inputs: run.py encodes them as snnc does (the model's encoding, its
    T steps) and returns model time, equal to snnc's integer reference of the same steps."""
    for seed, encoding in ((5, "direct"), (6, "rate")):
        graph = generated_net(TOPOLOGIES)
        graph = graph.replace_layers(graph.layers, encoding=encoding)
        qg = q(graph)
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 1, (3, *graph.input.shape)).astype(np.float32)
        emit(qg, LOIHI, tmp_path / encoding)
        steps = graph.timesteps
        drive = model_drive(x, steps, latency(qg.graph, qg.profile), graph.encoding,
                            graph.input.shape)
        want = to_model_time(run_quantized(qg, drive), qg.graph, qg.profile, steps)
        _assert_same(_run_py(tmp_path / encoding, x, tmp_path / f"{encoding}.npz"),
                     want.arrays())


def test_missing_runner_is_an_unsupported_error(tmp_path):
    from snnc.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match="runner 'qemu'"):
        simulate(q(generated_net(0)), LOIHI, np.zeros((2, 1, 1)), "qemu", Path(tmp_path))


def test_members_of_one_current_with_their_own_weight_exponents_run_bit_exact(tmp_path):
    """snnTorch RLeaky: a recurrent projection of spikes and a feed-forward one of an 8-bit input
    summed into one current; the scales chosen on its inputs give them different exponents."""
    fixtures = Path(__file__).parents[2] / "fixtures" / "frameworks"
    graph = load_nir(fixtures / "snntorch_rleaky.nir", "snntorch")
    with np.load(fixtures / "snntorch_rleaky.npz") as data:
        x = data["x"]
    qg = api.quantize(graph, LOIHI, calib=x)
    exponents = {qg.q(lay.name).weight_exp for lay in qg.graph.layers
                 if isinstance(lay, Dense)}
    assert len(exponents) == 2
    assert_same_trace(run_quantized(qg, x), simulate(qg, LOIHI, x, "lava", tmp_path))


def test_currents_of_saturated_graded_counts_wrap_in_lava_as_in_the_reference(tmp_path):
    # counts at the 127 limit on 200 neurons drive the next layer far past Lava's once-only
    # wrap correction (2^18 a step): the variant LIF wraps its 24-bit current exactly
    rng = np.random.default_rng(5)
    graph = Graph((Input("x", (), shape=(8,)),
                   Dense("a", ("x",), weight=rng.normal(0, 1, (200, 8)).astype(F32)),
                   LIF("g", ("a",), threshold=F32(0.01), reset="subtract", compare="ge",
                       graded=True),
                   Dense("b", ("g",), weight=np.abs(rng.normal(0, 1, (3, 200))).astype(F32)),
                   LIF("h", ("b",))), output="h", encoding="rate", timesteps=6)
    qg = q(graph)
    drive = np.ones((6, 2, 8), F32)
    expected = run_quantized(qg, drive)
    assert int(expected.spikes["g"].max()) == LOIHI.numeric.max_spikes
    current = expected.spikes["g"] @ np.asarray(qg.q("b").weight).T
    assert np.abs(current).max() > 1 << 18  # past the stock model's single correction
    assert lower(qg).by_layer()["h"].kind == "lif_variant"  # a stock LIF would differ
    assert_same_trace(expected, simulate(qg, LOIHI, drive, "lava", tmp_path))
