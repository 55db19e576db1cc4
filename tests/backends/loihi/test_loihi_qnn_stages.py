"""QNN stages on Loihi 2: a twin sums its input over the steps that feed it, computes its level
in one step and sends it (one graded spike to QNN readers, its spike train to SNN readers);
stages behind it wait for it. Lava equals the mixed-schedule reference exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from testkit.mixed_nets import mixed_mlp, mixed_skip

from snnc.backends.loihi import simulate
from snnc.backends.loihi.emit import emit
from snnc.backends.loihi.lower import lower
from snnc.errors import UnsupportedError
from snnc.ir.layers import Graph
from snnc.passes.quantize import quantize
from snnc.passes.snn_to_qnn import convert_quantized
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.target import load_target

LOIHI = load_target("loihi2")


def _mlp(seed: int) -> Graph:
    """The shared mixed MLP, narrower and shorter: Lava runs are slow."""
    return mixed_mlp(seed, 12, (10, 8, 5), 6)


def _mixed(graph: Graph, names: tuple[str, ...], batch: int = 3):
    x = np.random.default_rng(5).random((batch, *graph.input.shape)).astype(np.float32)
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    qg = convert_quantized(quantize(graph, LOIHI.numeric, calib=x, target=LOIHI.name), names)
    return qg, drive


@pytest.mark.needs("lava")
@pytest.mark.parametrize("names", [("n0",), pytest.param(("n1",), marks=pytest.mark.slow),
                                   pytest.param(("n0", "n1"), marks=pytest.mark.slow),
                                   ("n0", "n1", "n2")])
def test_lava_runs_qnn_stages_like_the_mixed_reference(names, tmp_path):
    qg, drive = _mixed(_mlp(3), names)
    want = run_quantized(qg, drive).arrays()
    got = simulate(qg, LOIHI, drive, "lava", tmp_path).arrays()
    assert sorted(got) == sorted(want)
    for key in want:
        assert np.array_equal(got[key], want[key]), key


def test_twins_compute_after_their_inputs_and_later_stages_wait():
    qg, _ = _mixed(_mlp(1), ("n0",))
    net = lower(qg, LOIHI.name)
    pops = net.by_layer()
    assert pops["n0"].params["compute"] == 6 and pops["n0"].params["send_level"] == 0
    assert pops["n1"].offset == 6 and pops["n1"].kind == "lif_variant"
    assert net.run_steps == 12
    chain, _ = _mixed(_mlp(1), ("n0", "n1", "n2"))
    net = lower(chain, LOIHI.name)
    levels = net.by_layer()
    assert levels["n0"].params["send_level"] == 1 and levels["n1"].params["compute"] == 7
    assert levels["n2"].params["compute"] == 8 and net.run_steps == 14


def test_resources_say_where_each_qnn_stage_runs(tmp_path):
    qg, _ = _mixed(_mlp(2), ("n1",))
    emit(qg, LOIHI, tmp_path)
    resources = json.loads((tmp_path / "resources.json").read_text())
    (stage,) = resources["qnn_stages"]
    assert stage["layer"] == "n1" and stage["on_chip"]
    assert stage["placement"].startswith("neurocore: one graded-spike step")
    assert resources["run_steps_per_inference"] == 12


def test_a_stage_reading_steps_from_before_a_qnn_stage_is_refused():
    qg, _ = _mixed(mixed_skip(np.random.default_rng(0)), ("nb",))
    with pytest.raises(UnsupportedError, match="different times"):
        lower(qg, LOIHI.name)
