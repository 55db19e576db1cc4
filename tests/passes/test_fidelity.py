"""Fidelity-driven quantization: scales chosen by measured spike agreement with the float model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnc import api
from snnc.backends import get_backend
from snnc.frontend.nir import load_nir
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.passes.fidelity import choose_scales, spike_agreement
from snnc.passes.quantize import quantize
from snnc.reference.integer import run_quantized
from snnc.reference.simulate import Trace, run_graph
from snnc.target import load_target

FIXTURES = Path(__file__).parents[1] / "fixtures" / "frameworks"
F32 = np.float32


def _fixture(name: str, reading: str) -> tuple[Graph, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz") as data:
        return load_nir(FIXTURES / f"{name}.nir", reading), data["x"]


def test_agreement_reads_each_layer_its_latency_later():
    graph = Graph((Input("x", (), shape=(2,)), Dense("fc", ("x",), weight=np.eye(2, dtype=F32)),
                   LIF("h", ("fc",))), output="h")
    spikes = np.array([[[1, 0]], [[0, 1]], [[1, 1]], [[0, 0]]], np.int64)
    delayed = np.concatenate([np.zeros((1, 1, 2), np.int64), spikes[:-1]])
    loihi, mcu = load_target("loihi2").numeric, load_target("cortex-m4").numeric
    reference = Trace(spikes.astype(F32), spikes={"h": spikes.astype(F32)})
    assert spike_agreement(graph, loihi, reference, Trace(delayed, spikes={"h": delayed})) == {
        "h": 1.0}
    assert spike_agreement(graph, mcu, reference, Trace(delayed, spikes={"h": delayed}))[
        "h"] == pytest.approx(2 / 8)


@pytest.mark.parametrize("target", ["cortex-m4", "spinnaker2", "loihi2"])
@pytest.mark.parametrize(("name", "reading"), [("snntorch_leaky", "snntorch"),
                                               ("snntorch_synaptic", "snntorch"),
                                               ("sinabs_iaf", "sinabs")])
def test_chosen_scales_agree_at_least_as_well_as_the_range_based_ones(target, name, reading):
    graph, x = _fixture(name, reading)
    profile = load_target(target).numeric
    reference = run_graph(graph, x, record=True)
    plain = quantize(graph, profile, calib=x)
    chosen = choose_scales(graph, profile, x, calib=x)
    before = spike_agreement(plain.graph, profile, reference, run_quantized(plain, x))
    after = spike_agreement(chosen.graph, profile, reference, run_quantized(chosen, x))
    assert after == dict(chosen.agreement)
    assert np.mean(list(after.values())) >= np.mean(list(before.values()))


def test_dyadic_exported_weights_come_out_exact_on_a_target_without_delay():
    graph, x = _fixture("snntorch_leaky", "snntorch")
    profile = load_target("cortex-m4").numeric
    chosen = choose_scales(graph, profile, x, calib=x)
    assert chosen.agreement == {graph.output: 1.0}
    assert np.array_equal(run_quantized(chosen, x).output, run_graph(graph, x).output)


@pytest.mark.needs("gcc")
def test_chosen_scales_stay_bit_exact_on_the_backends(tmp_path):
    graph, x = _fixture("snntorch_synaptic", "snntorch")
    for name, runner in (("cortex-m4", "host"), ("spinnaker2", "spinnaker2")):
        target = load_target(name)
        qg = api.quantize(graph, target, calib=x)
        assert qg.agreement
        want = run_quantized(qg, x)
        got = get_backend(target.backend).simulate(qg, target, x, runner, tmp_path / name)
        assert np.array_equal(want.output, got.output)
        assert all(np.array_equal(want.v[k], got.v[k]) for k in want.v)


def test_recurrent_graded_counts_bounded_by_their_membrane_leave_loihi_its_exponents():
    """Sinabs ``LIFRecurrent`` with ``MultiSpike``: the recurrent projection reads counts that
    ``max_spikes`` allows up to 127 but a 24-bit membrane over the fine threshold holds only a
    few of; with that bound the weight exponent fits Loihi's current register and the spikes
    come out as the float model's."""
    from snnc.frontend.onnx import import_onnx
    from snnc.frontend.timeline import layouts, to_steps

    cell = Path(__file__).parents[1] / "fixtures" / "matrix" / (
        "sinabs_lifrecurrent_multispike_rec_dyn18")
    graph = import_onnx(cell.with_suffix(".onnx")).graph
    with np.load(cell.with_suffix(".npz")) as data:
        found = layouts(graph.layout)
        assert found is not None  # a whole-sequence export: (batch, steps, ...) -> steps first
        drive = to_steps(data["x"], found[0], found[2])
    qg = api.quantize(graph, load_target("loihi2"), calib=drive)
    assert qg.agreement and min(qg.agreement.values()) == 1.0
    assert qg.q("n1.rec_connect").weight_exp > 0
