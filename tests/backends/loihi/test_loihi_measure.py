"""Measured cost on Loihi 2: the counters of ``measure_stages`` are what the Lava run did.

The Lava run's record of every population's messages is checked against the integer
reference's spikes and levels (the backend is bit-exact with it, so both must give the same
synaptic operations and messages), and the energy against the target's prices.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnc.backends import get_backend
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.passes.snn_to_qnn import convert_quantized
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.target import load_target

LOIHI = load_target("loihi2")
HEADS = ["n0", "n1"]


def _net() -> Graph:
    rng = np.random.default_rng(11)
    w0 = rng.normal(0.2, 0.6, (9, 12)).astype(np.float32)
    w0[:, 3] = 0.0  # an input with no synapses: its spikes cost no operation
    w1 = rng.normal(0.2, 0.6, (5, 9)).astype(np.float32)
    return Graph((Input("x", (), shape=(12,)), Dense("fc0", ("x",), weight=w0),
                  LIF("n0", ("fc0",), beta=np.float32(1.0), threshold=np.float32(1.0),
                      reset="subtract"),
                  Dense("fc1", ("n0",), weight=w1),
                  LIF("n1", ("fc1",), beta=np.float32(0.9), threshold=np.float32(1.0))),
                 output="n1", timesteps=6, encoding="rate", name="measured")


def _case(twins: bool) -> tuple[QuantizedGraph, np.ndarray]:
    graph = _net()
    x = np.random.default_rng(2).random((4, 12)).astype(np.float32)
    qg = quantize(graph, LOIHI.numeric, calib=x, target=LOIHI.name)
    if twins:
        qg = convert_quantized(qg, HEADS)
    return qg, encode(x, graph.timesteps, graph.encoding, graph.input.shape)


def _ops(sent: np.ndarray, weight: np.ndarray) -> float:
    """Synaptic operations of messages ``sent`` (..., inputs) on ``weight`` (outputs, inputs),
    per sample of the batch axis 1."""
    fan_out = (np.asarray(weight) != 0).sum(axis=0)
    return float(((sent != 0) * fan_out).sum() / sent.shape[1])


@pytest.mark.needs("lava")
def test_snn_counters_are_the_spikes_lava_delivered(tmp_path):
    qg, drive = _case(twins=False)
    units = qg.quantize_input(drive)
    got = get_backend("loihi").measure_stages(qg, LOIHI, drive, HEADS, tmp_path)
    spikes = run_quantized(qg, drive).spikes
    batch, steps = drive.shape[1], drive.shape[0]
    w0, w1 = qg.layers["fc0"].weight, qg.layers["fc1"].weight
    assert got["n0"]["synaptic_ops"] == _ops(units, w0) > 0
    assert got["n0"]["spike_messages"] == float((units != 0).sum() / batch)
    assert got["n1"]["synaptic_ops"] == _ops(spikes["n0"], w1) > 0
    assert got["n1"]["spike_messages"] == float((spikes["n0"] != 0).sum() / batch)
    assert got["n1"]["output_spikes"] == float(spikes["n1"].sum() / batch)
    for head, size in (("n0", 9), ("n1", 5)):
        assert got[head]["neuron_updates"] == size * steps
        assert got[head]["graded_ops"] == got[head]["graded_messages"] == 0


@pytest.mark.needs("lava")
def test_a_twin_reading_a_twin_receives_one_graded_spike_per_non_zero_level(tmp_path):
    qg, drive = _case(twins=True)
    got = get_backend("loihi").measure_stages(qg, LOIHI, drive, HEADS, tmp_path)
    levels = run_quantized(qg, drive).spikes["n0"].sum(axis=0, keepdims=True)  # spread -> level
    w1 = qg.layers["fc1"].weight
    assert got["n1"]["graded_messages"] == float((levels != 0).sum() / drive.shape[1]) > 0
    assert got["n1"]["graded_ops"] == got["n1"]["synaptic_ops"] == _ops(levels, w1)
    assert got["n1"]["spike_messages"] == 0
    assert got["n0"]["neuron_updates"] == 9 and got["n1"]["neuron_updates"] == 5  # one level
    # the first twin still integrates the input spikes of every step
    units = qg.quantize_input(drive)
    assert got["n0"]["synaptic_ops"] == _ops(units, qg.layers["fc0"].weight)


@pytest.mark.needs("lava")
def test_energy_prices_the_counters_with_the_targets_table(tmp_path):
    qg, drive = _case(twins=False)
    c = get_backend("loihi").measure_stages(qg, LOIHI, drive, ["n1"], tmp_path)["n1"]
    e = LOIHI.energy
    acc = e["add_pj"]["32"]
    want = ((c["synaptic_ops"] + c["neuron_updates"] + c["output_spikes"]) * acc
            + c["spike_messages"] * e["noc_sparse_pj_per_bit_hop"] * e["avg_hops"]
            + c["stored_weights"] * 8 * e["memory_pj_per_bit"]["core_sram"])
    assert c["energy_pj"] == pytest.approx(want, rel=1e-12)
