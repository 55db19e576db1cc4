"""snnc report --measure: both mappings run on the target's executor, their counters priced
with the target's energies, per twin stage, next to the model's prediction."""

from __future__ import annotations

import json

import numpy as np
import pytest
from testkit.digits_net import digits_like, digits_x

from snnc import api
from snnc.cost.report import write_report
from snnc.errors import InputError
from snnc.ir.layers import Dense, Graph, Input, MultiLevelSpike


def _check(report, tmp_path) -> dict:
    written = write_report(report, tmp_path)
    assert (tmp_path / "measured.png") in written
    layers = {x["layer"]: x for x in json.loads((tmp_path / "report.json").read_text())["layers"]}
    assert set(report.measured) == {"lif1", "lif2"}
    for name, stage in report.measured.items():
        entry = layers[name]
        assert set(entry["measured_cost"]) == {"snn", "qnn"}
        assert entry["measured_cost"]["snn"]["energy_pj"] > 0
        assert entry["measured_cost"]["qnn"]["energy_pj"] > 0
        assert entry["measured_choice"] == stage.choice
    assert "## Measured on the target" in (tmp_path / "report.md").read_text()
    return layers


def test_spinnaker2_counters_come_from_the_layout_simulator(tmp_path):
    report = api.report(digits_like(), "spinnaker2", calib=digits_x()[:32], measure=True)
    layers = _check(report, tmp_path)
    qnn, snn = (layers["lif1"]["measured_cost"][m] for m in ("qnn", "snn"))
    synapses = next(s.shape.synapses for s in report.stages if s.head == "lif1")
    assert qnn["macs"] == synapses and snn["macs"] == 0  # the twin runs its MACs once
    assert snn["synaptic_events"] > 0 and qnn["synaptic_events"] == 0
    assert snn["neuron_updates"] == 8 * qnn["neuron_updates"]  # T steps against one level


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_mcu_counts_qemu_instructions_per_stage(tmp_path):
    report = api.report(digits_like(), "cortex-m4", calib=digits_x()[:8], measure=True)
    layers = _check(report, tmp_path)
    for entry in layers.values():
        for mapping in ("snn", "qnn"):
            cost = entry["measured_cost"][mapping]
            assert cost["energy_pj"] == pytest.approx(156.0 * cost["instructions"])


def test_measure_needs_calibration_data():
    with pytest.raises(InputError, match="--calib"):
        api.report(digits_like(), "spinnaker2", measure=True)


@pytest.mark.needs("lava")
def test_loihi_counts_what_the_lava_run_delivered(tmp_path):
    report = api.report(digits_like(), "loihi2", calib=digits_x()[:32], measure=True)
    layers = _check(report, tmp_path)
    snn, qnn = (layers["lif2"]["measured_cost"][m] for m in ("snn", "qnn"))
    assert snn["spike_messages"] > 0 and snn["graded_messages"] == 0
    assert qnn["graded_messages"] > 0 and qnn["spike_messages"] == 0  # lif1's level, sent once
    assert qnn["graded_ops"] == qnn["synaptic_ops"] < snn["synaptic_ops"]
    for name in ("lif1", "lif2"):
        cost = layers[name]["measured_cost"]
        assert cost["snn"]["neuron_updates"] == 8 * cost["qnn"]["neuron_updates"]


def test_a_model_without_twins_says_there_is_nothing_to_measure(tmp_path):
    """Multi-level spikes have no QNN twin: both mappings compile to one program."""
    rng = np.random.default_rng(0)
    graph = Graph((Input("x", (), shape=(16,)),
                   Dense("fc", ("x",), weight=rng.normal(0, 0.5, (8, 16)).astype(np.float32)),
                   MultiLevelSpike("ml", ("fc",), levels=4, axis=None, theta=0.5)),
                  output="ml", timesteps=4, encoding="rate", name="levels")
    report = api.report(graph, "spinnaker2", calib=rng.random((8, 16)).astype(np.float32),
                        measure=True)
    assert report.measured == {}
    write_report(report, tmp_path)
    assert "No stage has a QNN twin" in (tmp_path / "report.md").read_text()
    layers = json.loads((tmp_path / "report.json").read_text())["layers"]
    assert not any("measured_cost" in x for x in layers)
