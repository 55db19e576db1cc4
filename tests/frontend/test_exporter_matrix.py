"""The exporter matrix (``tests/fixtures/matrix``): files written by snnTorch, SpikingJelly, Norse
and Sinabs with torch's TorchScript and dynamo exporters compile, and the float reference equals
onnxruntime on the exported graph at every step and output, bit for bit; what is not a network
snnc can compile is refused with one line naming the construct.

A fast sample (every framework, every input layout, every recovered form) always runs; the
whole matrix, and the integer targets on every cell, are the ``slow`` sweep.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from snnc import api
from snnc.errors import SnncError, UnsupportedError
from snnc.frontend.onnx import import_onnx
from snnc.frontend.timeline import from_steps, layouts, to_steps
from snnc.ir.layers import LIF, CubaLIF
from snnc.reference.simulate import run_graph

MATRIX = Path(__file__).parents[1] / "fixtures" / "matrix"
MANIFEST = json.loads((MATRIX / "MANIFEST.json").read_text())
CELLS = sorted(p.stem for p in MATRIX.glob("*.onnx"))
# snnTorch's Alpha neuron: a membrane made of two synaptic traces with their own resets,
# neither a LIF nor a CUBA neuron (the refusal names the region's node and why, or the node
# no layer explains)
REFUSED = {name: r"state variables|not part of any neuron" for name in CELLS
           if name.startswith("snntorch_alpha")}
SAMPLE = [
    "snntorch_rleaky_rec_ts17",  # unrolled loop, reset from the previous membrane, recurrent
    "spikingjelly_lif_m_conv_avg_dyn18",  # multi-step: conv on [T*B, ...], v + (x - v)/tau
    "spikingjelly_recurrent_s_rec_dyn18",  # concatenated input and spikes
    "norse_lifrecurrent_rec_dyn18",  # current-based, sequence module over [T, B, ...]
    "sinabs_iafsqueeze_multispike_conv_sum_ts17",  # [B*T, ...], graded spikes, sum pooling
    "sinabs_lifrecurrent_multispike_rec_ts17",  # [B, T, ...], recurrent current as state
]


def recorded(name: str) -> dict[str, np.ndarray]:
    with np.load(MATRIX / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}


def float_output(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The float reference on the recorded input, laid out like the exported output, and
    onnxruntime's output on the exported graph."""
    graph = import_onnx(MATRIX / f"{name}.onnx").graph
    rec = recorded(name)
    found = layouts(graph.layout)
    assert found is not None, "a whole-sequence export records its layout"
    inp, out, steps = found
    trace = run_graph(graph, to_steps(rec["x"], inp, steps))
    return from_steps(trace.output, out), rec["ort"]


def test_the_matrix_covers_every_framework_net_and_exporter() -> None:
    cells = MANIFEST["cells"]
    assert MANIFEST["steps"] >= 8
    assert {c["framework"] for c in cells.values()} == {"snntorch", "spikingjelly", "norse",
                                                        "sinabs"}
    assert {c["net"] for c in cells.values()} >= {"mlp", "rec", "conv_max", "conv_avg",
                                                  "conv_sum"}
    assert {c["layout"] for c in cells.values()} == {"TB", "BT", "(BT)"}
    exported = [n for n, c in cells.items() if "export_error" not in c]
    assert sorted(exported) == CELLS
    assert {cells[n]["exporter"] for n in exported} == {"ts17", "dyn18"}
    assert all(v for v in MANIFEST["versions"].values())


def test_every_recorded_run_has_spikes_and_onnxruntime_outputs() -> None:
    for name in CELLS:
        rec = recorded(name)
        assert rec["framework"].shape == rec["ort"].shape, name
        assert rec["ort"].sum() > 0, name  # the network is not silent


@pytest.mark.parametrize("name", SAMPLE)
def test_a_sample_of_the_matrix_simulates_bit_exact(name: str) -> None:
    got, want = float_output(name)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CELLS if n not in REFUSED])
def test_every_matrix_cell_simulates_bit_exact(name: str) -> None:
    got, want = float_output(name)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_is_not_a_supported_neuron_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(SnncError) as caught:
        import_onnx(MATRIX / f"{name}.onnx")
    message = str(caught.value)
    assert "\n" not in message and re.search(REFUSED[name], message)
    assert message.startswith("node '")


def test_the_coverage_is_at_least_95_percent() -> None:
    assert len(CELLS) - len(REFUSED) >= 0.95 * len(CELLS)


def test_recovered_neurons_name_their_idiom_and_keep_the_exporters_arithmetic() -> None:
    graph = import_onnx(MATRIX / "spikingjelly_lif_m_conv_avg_dyn18.onnx").graph
    neurons = [layer for layer in graph.layers if isinstance(layer, LIF | CubaLIF)]
    assert neurons and all(layer.program is not None for layer in neurons)
    assert all("LIFNode" in layer.attrs["idiom"] for layer in neurons)
    # SpikingJelly's decay_input LIF: the membrane measured in units of 1/tau
    assert all(float(np.ravel(layer.beta)[0]) == 0.5 for layer in neurons)


def integer_targets_agree(name: str) -> None:
    graph = import_onnx(MATRIX / f"{name}.onnx").graph
    found = layouts(graph.layout)
    assert found is not None
    drive = to_steps(recorded(name)["x"], found[0], found[2])
    for target, runner in (("cortex-m4", "host"), ("loihi2", "lava"),
                           ("spinnaker2", "spinnaker2")):
        try:
            want = api.simulate(graph, drive, target=target, backend="reference").output
        except UnsupportedError as exc:  # Loihi's synapses are linear: no max pooling
            assert target == "loihi2" and "max pooling" in str(exc)
            continue
        got = api.simulate(graph, drive, target=target, backend=runner).output
        assert np.array_equal(got, want), target


@pytest.mark.needs("gcc", "lava")
@pytest.mark.parametrize("name", ["sinabs_lif_singlespike_conv_avg_ts17"])
def test_a_sample_runs_bit_exact_on_every_integer_target(name: str) -> None:
    integer_targets_agree(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CELLS if n not in REFUSED])
def test_every_matrix_cell_runs_bit_exact_on_every_integer_target(name: str) -> None:
    integer_targets_agree(name)
