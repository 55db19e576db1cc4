"""The energy report: a mapping per layer with reasons, the flip at the crossover, and
byte-identical report files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from testkit.cost_nets import wide_layer
from testkit.digits_net import digits_like, digits_x

import snnc.cost
from snnc.cost import CostReport, report, write_report
from snnc.cost.analysis import ASSUMED_RATE, cost_stage
from snnc.cost.report import PLOTS, render_json, to_dict
from snnc.ir.layers import Graph
from snnc.ir.stages import stage_of
from snnc.passes.calibrate import calibrate
from snnc.passes.pipeline import optimize
from snnc.reference.encode import encode
from snnc.target import load_target

TARGETS = ["loihi2", "cortex-m4", "spinnaker2"]


@pytest.fixture(scope="module")
def calibrated() -> dict[str, CostReport]:
    return {t: report(calibrate(digits_like(), digits_x()), t) for t in TARGETS}


@pytest.mark.parametrize("target", TARGETS)
def test_every_layer_gets_a_mapping_and_a_reason(calibrated, target):
    cost = calibrated[target]
    assert [s.head for s in cost.stages] == ["lif1", "lif2"]
    for stage in cost.stages:
        assert stage.mapping in ("snn", "qnn")
        assert stage.measured and "SNN" in stage.reason and "QNN" in stage.reason
        cheaper = "qnn" if stage.qnn.total < stage.snn.total else "snn"
        assert stage.cost_choice == cheaper
        assert stage.mapping == cheaper or "would be cheaper" in stage.reason
    layers = json.loads(render_json(cost))["layers"]
    assert [(x["layer"], x["mapping"]) for x in layers] == [
        (s.head, s.mapping) for s in cost.stages]


def _scale_for(graph: Graph, x: np.ndarray, pick) -> float:
    """The first (or last) input scale whose rate-coded input rate satisfies ``pick``."""
    scales = np.linspace(0.0, 1.0, 201)
    rates = [float(encode(x * k, graph.timesteps, "rate", graph.input.shape).mean())
             for k in scales]
    return float(next(k for k, r in zip(scales, rates, strict=True) if pick(r)))


def _flip(graph: Graph, x: np.ndarray, target: str, layer: str) -> tuple[dict, dict]:
    """Calibrate with inputs below half and above twice the layer's crossover rate."""
    t = load_target(target)
    cross = optimize(graph, t, calib=x).layer(layer).attrs["crossover_rate"]
    assert 0 < cross < 0.4, cross
    low = _scale_for(graph, x[::-1], lambda r: r >= 0.5 * cross) * 0.9
    high = _scale_for(graph, x, lambda r: r >= 2 * cross)
    return (optimize(graph, t, calib=x * low).layer(layer).attrs,
            optimize(graph, t, calib=x * high).layer(layer).attrs)


@pytest.mark.parametrize("target", ["cortex-m4", "spinnaker2"])
def test_mapping_flips_across_the_crossover_on_every_target(target):
    graph = wide_layer()
    x = np.random.default_rng(0).random((40, graph.input.shape[0])).astype(np.float32)
    quiet, busy = _flip(graph, x, target, "hidden")
    assert (quiet["cost_choice"], busy["cost_choice"]) == ("snn", "qnn")
    assert quiet["spike_rate_in"] < quiet["crossover_rate"] < busy["spike_rate_in"]
    assert "below the crossover" in quiet["mapping_reason"]
    assert "above the crossover" in busy["mapping_reason"]


@pytest.mark.parametrize("scale", [0.05, 0.3, 1.0])
def test_a_loihi_twin_fed_by_input_spikes_is_qnn_at_any_rate(scale):
    """On Loihi 2 a twin reading spike trains integrates them as the SNN does (the same
    synaptic operations and messages), so only the neuron updates differ: T per neuron for
    the SNN, one level for the twin."""
    graph = wide_layer()
    x = np.random.default_rng(0).random((40, graph.input.shape[0])).astype(np.float32)
    attrs = optimize(graph, load_target("loihi2"), calib=x * scale).layer("hidden").attrs
    assert attrs["crossover_rate"] == -math.inf and attrs["cost_choice"] == "qnn"
    assert attrs["energy_qnn_pj"] < attrs["energy_snn_pj"]


def test_small_fan_in_on_a_cpu_target_is_qnn_at_any_rate(calibrated):
    """Per-step neuron updates alone outweigh a 64-input layer's QNN on a Cortex-M."""
    stage = calibrated["cortex-m4"].stages[0]
    assert stage.crossover < 0 and stage.cost_choice == "qnn"
    assert "any input rate" in stage.reason


def test_forcing_one_stage_rate_across_its_crossover_flips_only_that_choice():
    graph = optimize(digits_like(), load_target("loihi2"), calib=digits_x())
    t = load_target("loihi2")
    from snnc.cost.analysis import target_params

    params = target_params(t)
    base = cost_stage(graph, stage_of(graph, "lif2"), params, t.numeric, "auto")
    below = base.activity.with_rate(0.5 * base.crossover)
    above = base.activity.with_rate(min(1.0, 1.5 * base.crossover))
    chosen = {cost_stage(graph, stage_of(graph, "lif2"), params, t.numeric, "auto",
                         activity=act).mapping for act in (below, above)}
    assert chosen == {"snn", "qnn"}


def test_report_files_are_byte_identical_across_runs(tmp_path, calibrated):
    cost = calibrated["loihi2"]
    first = write_report(cost, tmp_path / "a")
    second = write_report(report(calibrate(digits_like(), digits_x()), "loihi2"), tmp_path / "b")
    assert sorted(p.name for p in first) == sorted(["report.md", "report.json", *PLOTS])
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert (tmp_path / "a" / "energy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_json_matches_the_report(calibrated):
    cost = calibrated["cortex-m4"]
    data = json.loads(render_json(cost))
    assert data == json.loads(json.dumps(to_dict(cost)))
    assert data["typical_mean_crossover_T5_10"] == pytest.approx(cost.typical_mean_crossover)
    assert 0.04 <= data["typical_mean_crossover_T5_10"] <= 0.07
    assert [p["T"] for p in data["crossover_curve"]["target"]] == list(range(1, 17))


def test_chosen_mapping_is_never_worse_than_either_uniform_mapping(calibrated):
    for cost in calibrated.values():
        totals = cost.totals()
        assert totals["chosen_pj"] <= totals["snn_pj"] + 1e-9
        assert totals["chosen_pj"] <= totals["qnn_where_possible_pj"] + 1e-9


def test_literature_energy_counts_synaptic_operations(calibrated):
    stage = calibrated["loihi2"].stages[1]
    sops = stage.shape.synapses * stage.activity.timesteps * stage.activity.rate_in
    assert stage.literature["sops"] == pytest.approx(sops)
    assert stage.literature["snn_pj"] == pytest.approx(0.9 * sops)
    assert stage.literature["ann_pj"] == pytest.approx(4.6 * stage.shape.synapses)


def test_uncalibrated_report_uses_the_assumed_rate_and_says_so():
    cost = report(digits_like(), "loihi2")
    assert not cost.calibrated
    assert all(s.activity.rate_in == ASSUMED_RATE and not s.measured for s in cost.stages)
    assert "assumed input rate" in snnc.cost.render_markdown(cost)


def test_forced_mapping_shows_in_the_report():
    graph = optimize(digits_like(), load_target("loihi2"), calib=digits_x()[:50],
                     mapping="snn")
    cost = report(graph, "loihi2")
    assert all(s.mapping == "snn" and "forced" in s.reason for s in cost.stages)
    assert cost.pipeline and cost.calibrated


def test_both_spellings_of_the_report_api():
    from snnc.cost.report import write_report as from_module

    assert snnc.cost.report.write_report is from_module is write_report
    assert isinstance(snnc.cost.report(digits_like(), "cortex-m4"), CostReport)


def test_markdown_has_no_unbounded_numbers(calibrated):
    text = snnc.cost.render_markdown(calibrated["spinnaker2"])
    assert "nan" not in text.lower() and "inf" not in text.replace("inference", "")
    assert all(math.isfinite(s.snn.total) for s in calibrated["spinnaker2"].stages)
