"""snnc's reference against spikes recorded from real SNN frameworks (tests/fixtures/generate.py).

Each fixture is ``Linear(6 -> 5)`` and one spiking layer with dyadic weights and inputs, run for
25 steps on a batch of 4. The framework's own spikes must come out exactly, given the reading
(:data:`snnc.frontend.nir.PRESETS`) that states the framework's reset and comparison rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snnc.errors import SnncError
from snnc.frontend import load
from snnc.frontend.exported import run_exported
from snnc.frontend.nir import load_nir
from snnc.frontend.onnx import import_onnx
from snnc.ir.layers import LIF, CubaLIF
from snnc.reference.simulate import run_graph

FIXTURES = Path(__file__).parent.parent / "fixtures" / "frameworks"

# fixture -> the NIR reading that reproduces the framework module's own spikes
NIR_EXACT = {
    "snntorch_leaky": "snntorch",  # Leaky defaults: subtract reset from the previous membrane
    "snntorch_leaky_zero": "nir",  # reset_mechanism="zero", reset_delay=False: NIR's meaning
    "snntorch_leaky_zero_delayed": "nir",  # reset_delay=True: the same spikes
    "snntorch_synaptic": "snntorch",
    "snntorch_rleaky": "snntorch",
    "spikingjelly_lif": "spikingjelly",  # fires on v >= threshold
    "spikingjelly_if": "spikingjelly",  # and writes IF with r = 1/dt (Euler)
    "sinabs_iaf": "sinabs",  # IAF with SingleSpike and MembraneSubtract
    "norse_lifcell": "norse",  # tau written as dt*tau, current jumps by the input
}
# fixture -> whether snnc's one-step ONNX import must reproduce the module exactly
ONNX_FIXTURES = ["snntorch_leaky", "snntorch_leaky_zero", "snntorch_leaky_zero_delayed",
                 "snntorch_synaptic", "snntorch_rleaky", "spikingjelly_lif", "spikingjelly_if",
                 "norse_lifcell"]
# whole-loop export -> (its recording, the one-step export of the same layers)
UNROLLED = {
    "snntorch_leaky_unrolled": ("snntorch_leaky_unrolled", "snntorch_leaky"),
    "snntorch_leaky_unrolled_torchscript": ("snntorch_leaky_unrolled", "snntorch_leaky"),
    "spikingjelly_lif_unrolled": ("spikingjelly_lif_unrolled", "spikingjelly_lif"),
    "snntorch_rleaky_unrolled": ("snntorch_rleaky_unrolled", "snntorch_rleaky"),
    "norse_lifcell_unrolled": ("norse_lifcell_unrolled", "norse_lifcell"),
}


def _recorded(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}


def test_fixtures_cover_at_least_twenty_steps_and_spike() -> None:
    manifest = json.loads((FIXTURES / "MANIFEST.json").read_text())
    assert manifest["steps"] >= 20
    for name in sorted(set(NIR_EXACT) | set(ONNX_FIXTURES) | {r for r, _ in UNROLLED.values()}):
        rec = _recorded(name)
        assert rec["x"].shape[0] >= 20
        assert 0 < rec["spikes"].mean() < 1, name  # neither silent nor saturated


@pytest.mark.parametrize(("name", "reading"), sorted(NIR_EXACT.items()))
def test_nir_export_reproduces_the_framework_spikes_exactly(name: str, reading: str) -> None:
    rec = _recorded(name)
    graph = load_nir(FIXTURES / f"{name}.nir", reading)
    trace = run_graph(graph, rec["x"])
    assert np.array_equal(trace.output, rec["spikes"])


@pytest.mark.parametrize("name", ["snntorch_leaky", "snntorch_leaky_zero",
                                  "snntorch_leaky_zero_delayed", "snntorch_synaptic"])
def test_default_reading_matches_the_frameworks_own_nir_import(name: str) -> None:
    # What snnTorch's import_from_nir makes of its export: zero reset at the same step.
    rec = _recorded(name)
    trace = run_graph(load_nir(FIXTURES / f"{name}.nir"), rec["x"])
    assert np.array_equal(trace.output, rec["nir_spikes"])


def test_snntorch_leaky_default_reset_is_not_what_nir_states() -> None:
    # The NIR file cannot say "subtract, from the previous membrane": read literally, the
    # spikes differ; this is why the "snntorch" reading exists.
    rec = _recorded("snntorch_leaky")
    literal = run_graph(load_nir(FIXTURES / "snntorch_leaky.nir"), rec["x"]).output
    assert not np.array_equal(literal, rec["spikes"])


def test_rleaky_recurrence_reads_the_previous_step_spikes() -> None:
    graph = load_nir(FIXTURES / "snntorch_rleaky.nir", "snntorch")
    rec = graph.layer("1.w_rec")
    assert getattr(rec, "recurrent", False) and rec.inputs == ("1.lif",)


def test_batch_axis_left_in_the_input_shape_is_dropped() -> None:
    # Norse and Sinabs write the sample's batch axis into the Input node ((4, 6) and (1, 6)).
    for name, reading in (("norse_lifcell", "norse"), ("sinabs_iaf", None)):
        graph = load_nir(FIXTURES / f"{name}.nir", reading)
        assert graph.input.shape == (6,)
        assert graph.shape(graph.output) == (5,)


def test_norse_export_read_literally_is_refused_with_a_hint() -> None:
    # Norse 1.1.0 writes tau = dt / tau_inv (dt*tau, here 5e-6 s and 1e-5 s) instead of
    # 1/tau_inv; with dt = 1e-4 the decay rates dt/tau would be 20 and 10 per step.
    with pytest.raises(SnncError, match=r"tau_syn = 5e-06 s is shorter than the step.*'norse'"):
        load_nir(FIXTURES / "norse_lifcell.nir")


def test_norse_reading_recovers_the_cell_and_its_membrane() -> None:
    # LIFCell(tau_syn_inv=200/s, tau_mem_inv=100/s, dt=1 ms): decays 0.2 and 0.1 per step, the
    # current jumps by the input, the membrane is measured in units of dt*tau_mem_inv = 0.1.
    rec = _recorded("norse_lifcell")
    cell = load_nir(FIXTURES / "norse_lifcell.nir", "norse").layer("1")
    assert isinstance(cell, CubaLIF)
    np.testing.assert_allclose(cell.current_decay, 0.2, rtol=1e-6)
    np.testing.assert_allclose(cell.voltage_decay, 0.1, rtol=1e-6)
    np.testing.assert_allclose(cell.threshold, 0.125 / 0.1, rtol=1e-6)
    trace = run_graph(load_nir(FIXTURES / "norse_lifcell.nir", "norse"), rec["x"])
    # Norse computes v + 0.1*((0 - v) + i) where snnc computes 0.9*v' + i: equal in real
    # arithmetic, so the membranes agree to float32 rounding.
    np.testing.assert_allclose(trace.v["1"] * 0.1, rec["v"], atol=1e-6)


@pytest.mark.parametrize("name", ONNX_FIXTURES)
def test_onnx_step_export_reproduces_the_framework_spikes(name: str) -> None:
    rec = _recorded(name)
    graph = load(FIXTURES / f"{name}.onnx")
    trace = run_graph(graph, rec["x"])
    neurons = [lay for lay in graph.layers if isinstance(lay, LIF | CubaLIF)]
    assert len(neurons) == 1
    assert np.array_equal(trace.output, rec["spikes"])


@pytest.mark.parametrize("name", sorted(UNROLLED))
def test_whole_loop_export_folds_into_the_one_step_export(name: str) -> None:
    recording, one_step = UNROLLED[name]
    manifest = json.loads((FIXTURES / "MANIFEST.json").read_text())
    folded = load(FIXTURES / f"{name}.onnx")
    assert folded.timesteps == manifest["fixtures"][recording]["unrolled_steps"]
    rec = _recorded(recording)
    assert rec["x"].shape[0] > folded.timesteps  # the folded step runs past the export's T
    assert np.array_equal(run_graph(folded, rec["x"]).output, rec["spikes"])
    single = load(FIXTURES / f"{one_step}.onnx")
    assert [type(lay) for lay in folded.layers] == [type(lay) for lay in single.layers]
    for mine, theirs in zip(folded.layers[1:], single.layers[1:], strict=True):
        for field in ("weight", "bias", "recurrent", "into_neuron", "beta", "current_decay",
                      "voltage_decay", "threshold", "reset", "reset_timing", "compare"):
            a, b = getattr(mine, field, None), getattr(theirs, field, None)
            assert np.array_equal(*np.broadcast_arrays(a, b)), (mine.name, field)


@pytest.mark.parametrize("name", sorted({*ONNX_FIXTURES, *UNROLLED}))
def test_the_exported_graph_run_as_written_reproduces_the_framework(name: str) -> None:
    # The "as exported" run: the framework's own float arithmetic, op by op.
    rec = _recorded(UNROLLED.get(name, (name,))[0])
    assert np.array_equal(run_exported(import_onnx(FIXTURES / f"{name}.onnx"), rec["x"]),
                          rec["spikes"])


def test_layers_are_named_after_the_modules_whichever_the_exporter() -> None:
    # dynamo: the name_scopes metadata; TorchScript: /fc/Gemm scopes; loops: per copy counters
    for name in ("snntorch_leaky", "snntorch_leaky_zero", "snntorch_leaky_unrolled",
                 "snntorch_leaky_unrolled_torchscript"):
        assert [lay.name for lay in load(FIXTURES / f"{name}.onnx").layers] == \
            ["x", "fc", "lif"], name
