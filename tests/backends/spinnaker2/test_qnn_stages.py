"""QNN stages on SpiNNaker 2: the MAC program of a twin runs once per inference on buffers that
summed the packets of its phase, its levels travel as packet payloads, and populations behind it
step afterwards on their share of each level; bit-exact with the mixed-schedule reference."""

from __future__ import annotations

import numpy as np
import pytest
from testkit.mixed_nets import mixed_conv, mixed_mlp, mixed_skip
from testkit.traces import assert_equal_runs

from snnc.backends.spinnaker2 import simulate
from snnc.backends.spinnaker2.network import build_network
from snnc.errors import UnsupportedError
from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input
from snnc.passes.quantize import quantize
from snnc.passes.snn_to_qnn import convert_quantized
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.target import load_target

S2 = load_target("spinnaker2")


def _run(graph: Graph, names: tuple[str, ...], batch: int, tmp_path) -> None:
    x = np.random.default_rng(7).random((batch, *graph.input.shape)).astype(np.float32)
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    qg = convert_quantized(quantize(graph, S2.numeric, calib=x, target=S2.name), names)
    want = run_quantized(qg, drive)
    got = simulate(qg, S2, drive, "spinnaker2", tmp_path)
    assert_equal_runs(got, want)


@pytest.mark.parametrize("names", [("n0",), ("n1",), ("n2",), ("n0", "n2"), ("n0", "n1", "n2")])
def test_mlp_with_qnn_stages_equals_the_mixed_reference(names, tmp_path):
    _run(mixed_mlp(4), names, 5, tmp_path)


@pytest.mark.parametrize("names", [("s0",), ("s1",), ("s0", "s1")])
def test_conv_with_qnn_stages_equals_the_mixed_reference(names, tmp_path):
    _run(mixed_conv(2), names, 3, tmp_path)


def test_twin_populations_run_once_on_the_mac_path():
    graph = mixed_mlp(1)
    x = np.random.default_rng(0).random((2, 20)).astype(np.float32)
    qg = convert_quantized(quantize(graph, S2.numeric, calib=x, target=S2.name), ("n1",))
    net = build_network(qg, S2.name)
    by_name = {p.name: p for p in net.populations}
    assert (by_name["n1"].phase, by_name["n1"].once) == (0, True)
    assert (by_name["n2"].phase, by_name["n2"].once) == (1, False)
    assert "QNN stage" in net.stages[by_name["n1"].index].reason


def test_a_skip_around_a_qnn_stage_is_refused():
    rng = np.random.default_rng(0)
    graph = mixed_skip(rng)
    x = rng.random((2, 6)).astype(np.float32)
    qg = convert_quantized(quantize(graph, S2.numeric, calib=x, target=S2.name), ("nb",))
    with pytest.raises(UnsupportedError, match="ran before a QNN"):
        build_network(qg, S2.name)


def test_a_qnn_stage_counts_its_sources_undelayed_through_a_flatten(tmp_path):
    """Found by fuzzing: the count a twin reads through a Flatten is the sum of every step
    its source sent, including the last one a one-step synapse would deliver too late."""
    rng = np.random.default_rng(12)
    graph = Graph((
        Input("img", (), shape=(1, 5, 5)),
        Conv2d("c0", ("img",), weight=rng.normal(0.3, 0.5, (2, 1, 2, 2)).astype(np.float32)),
        LIF("s0", ("c0",), beta=np.float32(1.0), threshold=np.float32(0.6), reset="subtract"),
        Flatten("f0", ("s0",)),
        Dense("d1", ("f0",), weight=rng.normal(0.2, 0.6, (4, 32)).astype(np.float32)),
        LIF("s1", ("d1",), beta=np.float32(1.0), threshold=np.float32(1.0), reset="subtract"),
    ), output="s1", timesteps=3, encoding="rate", name="flat_twin")
    _run(graph, ("s1",), 4, tmp_path)
