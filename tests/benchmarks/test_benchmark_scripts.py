"""The benchmark scripts: generated networks of the requested size that every target accepts,
and a README that reports each goal as met or not from the JSON results alone."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from snnc import api
from snnc.backends import get_backend
from snnc.cost.analysis import target_params
from snnc.ir.layers import Dense, Graph, Input, MultiLevelSpike
from snnc.passes.quantize import QuantizeOptions, StageScale, quantize
from snnc.reference.encode import encode
from snnc.target import load_target, parse_target

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@functools.cache
def script(name: str) -> ModuleType:
    """A benchmark script loaded from its file (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def fits_every_target(family: str, size: int) -> None:
    """Optimise, quantise and resource-check the family's network for all three targets, as
    compile_scaling does (SNN mapping, the MCU part enlarged to 16 MB / 4 MB)."""
    scaling = script("compile_scaling")
    graph = scaling.build(family, size)
    for target in api.targets_for("all"):
        if target.backend not in scaling.SCALING_BACKENDS:
            continue
        if target.backend == "mcu":
            limits = {**target.limits, "flash_bytes": 16 << 20, "ram_bytes": 4 << 20}
            target = dataclasses.replace(target, limits=limits)
        prune = 1e-6 if family == "sparse" else None
        optimized = api.optimize(graph, target, prune=prune, mapping=scaling.MAPPING)
        get_backend(target.backend).resources(api.quantize(optimized, target), target)


@pytest.mark.parametrize("family", ["dense", "conv", "sparse"])
def test_generated_networks_have_about_the_requested_synapses(family):
    scaling = script("compile_scaling")
    for size in (64_000, 1_024_000):
        count = scaling.synapse_count(scaling.build(family, size))
        assert 0.85 * size <= count <= 1.15 * size, (family, size, count)


@pytest.mark.parametrize("family", ["dense", "conv", "sparse"])
def test_a_mid_sized_network_of_every_family_fits_every_target(family):
    fits_every_target(family, 64_000)


@pytest.mark.parametrize("family", ["dense", "conv", "sparse"])
def test_the_largest_network_of_every_family_fits_every_target(family):
    fits_every_target(family, 1_024_000)


def compile_results(ratio: float, total: float) -> dict:
    row = {"family": "dense", "requested": 4000, "synapses": 4000, "startup_s": 1.0,
           "seconds": dict.fromkeys(("frontend", "passes", "loihi", "mcu", "spinnaker2"),
                                    total / 5),
           "total_s": total, "total_cpu_s": total, "child_cpu_seconds": {"mcu": 0.5},
           "peak_bytes": {"mcu": 1 << 20}, "profile": {"mcu": [
               {"function": "<method 'poll' of 'select.poll' objects>", "own_s": 0.4,
                "cumulative_s": 0.4, "calls": 3}]}}
    small = {**row, "requested": 1000, "synapses": 1000, "total_s": total / ratio}
    return {"command": "python benchmarks/compile_scaling.py", "rows": [small, row],
            "machine": {"cpu_count": 2},
            "growth": [{"family": "dense", "n": 1000, "4n": 4000, "ratio": ratio}],
            "goals": {"largest_total_s": {"dense": total}, "under_10s": total < 10,
                      "max_growth": ratio, "growth_within_4_5": ratio <= 4.5}}


@pytest.mark.parametrize(("ratio", "total"), [(3.0, 5.0), (5.0, 5.0), (3.0, 12.0)])
def test_compile_section_reports_each_goal_from_the_numbers(ratio, total):
    text = "\n".join(script("run_all").section_compile(compile_results(ratio, total)))
    assert f"4000 synapses: {total:.2f} s wall" in text
    assert ("goal < 10 s: met" in text) == (total < 10)
    assert ("(goal <= 4.5: met)" in text) == (ratio <= 4.5)
    assert "waiting for child processes" in text  # the profile names what poll() waits for


def simulate_results(ratios: list[float]) -> dict:
    cases = [{"network": f"net{i}", "batch": 2, "steps": 16, "neurons": 10,
              "reference_s": 0.01, "lava_s": 0.01 * r, "ratio": r, "equal": True,
              "reference_per_step_ms": 0.6, "lava_per_step_ms": 30.0,
              "reference_profile": {"neuron_updates_share": 0.7, "synapses_share": 0.2}}
             for i, r in enumerate(ratios)]
    return {"cases": cases, "lava_startup_s": 2.0, "goal_ratio": 200}


def test_simulate_section_explains_every_case_below_the_goal():
    text = "\n".join(script("run_all").section_simulate(simulate_results([450.0, 120.0])))
    assert "in every case: **NOT met**" in text
    assert "- net1, batch 2, 16 steps: 120x" in text
    assert "- net0," not in text
    met = "\n".join(script("run_all").section_simulate(simulate_results([450.0, 201.0])))
    assert "in every case: met" in met


def test_memory_rows_name_the_widths_the_fidelity_search_chose():
    widths = script("run_all")._widths
    assert widths({"input_bits": 10, "widened_weight_bits": {"a": 10, "b": 11}}) == (
        "input 10, 2 weight layers at 10/11")
    assert widths({"input_bits": 8, "widened_weight_bits": {}}) == "input 8"
    assert widths({}) == "input 8"  # results from before the width search


def test_mcu_costs_rewrites_only_the_measured_energy_keys(tmp_path):
    costs = script("mcu_costs")
    toml = tmp_path / "cortex-m4.toml"
    toml.write_text((costs.TOML).read_text())
    figures = {"per_mac": 2.0, "per_synaptic_event": 5.0, "per_input_event": 30.0,
               "neuron_per_update": 60.0, "scan_per_input": 7.0, "count_per_input": 8.0,
               "level_per_output": 28.0}
    costs.write_toml(figures, toml)
    once = toml.read_text()
    costs.write_toml(figures, toml)
    assert toml.read_text() == once  # regenerating changes nothing
    target = parse_target(once, "cortex-m4.toml")
    params = target_params(target)
    assert params.synop_pj == 5.0 * 156.0 and params.count_pj == 8.0 * 156.0
    assert params.mac(8, 8) == 2.0 * 156.0
    assert "measured: 5.000 instructions" in once and "[limits]" in once


def _multilevel_net(weight: np.ndarray) -> Graph:
    return Graph((
        Input("x", (), shape=(4, 8)),
        Dense("d1", ("x",), weight=weight),
        MultiLevelSpike("s1", ("d1",), levels=4, alpha=1.0, axis=-1),
        Dense("d2", ("s1",), weight=weight),
        MultiLevelSpike("s2", ("d2",), levels=4, alpha=1.0, axis=-1),
    ), output="s2", timesteps=1, encoding="direct")


def test_isolated_agreement_is_each_layers_own_loss():
    layers = script("fidelity_layers")
    profile = load_target("cortex-m4").numeric
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (16, 4, 8)).astype(np.float32) / 4  # exact in the input unit
    drive = encode(x, 1, "direct", (4, 8))
    # dyadic weights in [-1, 1]: exact integers at the chosen units, every layer exact alone
    graph = _multilevel_net(rng.integers(-64, 65, (8, 8)).astype(np.float32) / 64)
    dyadic = {name: StageScale(power_of_two=True) for name in ("d1", "d2")}
    qg = quantize(graph, profile, options=QuantizeOptions(input_scale=0.25 / 4, stages=dyadic))
    assert layers.isolated(qg, drive) == {"s1": 1.0, "s2": 1.0}
    # the first layer's weights negated: it loses levels, the second, fed the float levels,
    # does not inherit the loss
    d1 = qg.layers["d1"]
    broken = dataclasses.replace(qg, layers={**qg.layers, "d1": dataclasses.replace(
        d1, weight=-np.asarray(d1.weight))})
    own = layers.isolated(broken, drive)
    assert own["s1"] < 1.0 and own["s2"] == 1.0


def test_fidelity_section_judges_the_goal_with_multispike_cells_and_names_widenings():
    def stats(mean: float, low: float) -> dict:
        return {"models": 2, "mean": mean, "min": low, "worst": [["cell", low]]}

    data = {"goals": {"cortex-m4": 0.99}, "minimum_goal": 0.95, "seconds": 60,
            "summary": {"cortex-m4/range": stats(0.9, 0.8), "cortex-m4/chosen": stats(0.995, 0.96)},
            "summary_multispike": {"cortex-m4/range": stats(0.7, 0.6),
                                   "cortex-m4/chosen": stats(1.0, 1.0)},
            "rows": [{"model": "net", "cortex-m4": {"chosen": 0.96, "widths": {
                "input_bits": 10, "weight_bits": {"fc": 10}}}}]}
    text = "\n".join(script("run_all").section_fidelity(data))
    assert ("| cortex-m4 | 2 | 0.9000 -> 0.9950 | 0.8000 -> 0.9600 | >= 0.99 / >= 0.95: met |"
            in text)
    assert "| cortex-m4, of which Sinabs MultiSpike | 2 | 0.7000 -> 1.0000 |" in text
    assert "Widened by the search: net on cortex-m4: input 10 bits, 1 weight layers" in text
    data["summary"]["cortex-m4/chosen"] = stats(0.995, 0.94)
    assert "**NOT met**" in "\n".join(script("run_all").section_fidelity(data))


def test_fidelity_layers_section_lists_every_layer_and_width():
    data = {"samples": 4, "widths": [{"weight_bits": 8, "input_bits": 8, "mean": 0.9}],
            "layers": {t: {"chained": {"a": 0.5, "b": 0.7}, "isolated": {"a": 1.0, "b": 0.9}}
                       for t in ("cortex-m4", "loihi2")}}
    text = "\n".join(script("run_all").section_fidelity_layers(data))
    assert "| b | 0.7000 / 0.9000 | 0.7000 / 0.9000 |" in text
    assert "| mean | 0.6000 / 0.9500 | 0.6000 / 0.9500 |" in text
    assert "| 8 | 8 | 0.9000 |" in text
    assert "As compiled" not in text  # results from before the width search
    data["compiled"] = {"cortex-m4": {"chained": {"a": 0.9, "b": 1.0}, "input_bits": 10,
                                      "weight_bits": {"fc": 10, "proj": 10}},
                        "loihi2": {"chained": {"a": 1.0, "b": 1.0}, "input_bits": 8,
                                   "weight_bits": {}}}
    text = "\n".join(script("run_all").section_fidelity_layers(data))
    assert "| cortex-m4 | 0.9500 | - | 10 | fc 10, proj 10 |" in text
    assert "| loihi2 | 1.0000 | - | 8 | none |" in text
    data["held_out_samples"] = 9
    data["layers"]["cortex-m4"]["held_out"] = 0.5
    data["compiled"]["cortex-m4"]["held_out"] = 0.75
    text = "\n".join(script("run_all").section_fidelity_layers(data))
    assert "on the 9 other test utterances" in text
    assert "| cortex-m4 | 0.9500 | 0.5000 -> 0.7500 | 10 | fc 10, proj 10 |" in text


def test_energy_truth_summary_counts_agreement_and_the_2x_band_per_target():
    truth = script("energy_truth")
    point = {"target": "loihi2", "predicted": "qnn", "measured": "qnn", "agree": True,
             "predicted_snn_pj": 30.0, "measured_snn_pj": 10.0,
             "predicted_qnn_pj": 5.0, "measured_qnn_pj": 5.0}
    miss = {**point, "predicted": "snn", "agree": False, "predicted_snn_pj": 15.0}
    got = truth.summary([point, miss])["loihi2"]
    assert got["points"] == 2 and got["agreement"] == 0.5
    assert (got["ratio_min"], got["ratio_max"]) == (1.0, 3.0)
    assert got["within_2x"] == 0.75 and got["within_1_25x"] == 0.5
