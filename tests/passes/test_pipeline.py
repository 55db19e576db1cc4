"""The pipeline: fixed printed order, verification after each pass, recorded history."""

from __future__ import annotations

import numpy as np
import pytest
from testkit.digits_net import digits_like, digits_x
from testkit.fuzz_nets import Recipe, build
from testkit.pass_nets import if_chain

from snnc.errors import InputError, VerifyError
from snnc.ir.layers import Dense, Graph
from snnc.passes.pipeline import Pipeline, Step, build_pipeline, optimize
from snnc.reference.simulate import run_graph, simulate
from snnc.target import load_target

ORDER = ["calibrate", "eliminate_dead_neurons", "prune", "calibrate", "choose_kernels",
         "assign_mapping", "guard_mapping"]


def test_passes_run_in_the_fixed_printed_order():
    pipeline = build_pipeline(load_target("loihi2"), calib=digits_x()[:40], prune=0.05)
    printed = [line.split(". ", 1)[1].split(":")[0] for line in pipeline.describe().splitlines()]
    assert printed == ORDER
    seen: list[str] = []
    result = pipeline.run(digits_like(), log=seen.append)
    assert seen == [f"pass {name}" for name in ORDER]
    assert [r["pass"] for r in result.graph.input.attrs["pipeline"]] == ORDER


def test_only_pruning_changes_outputs_and_its_agreement_is_recorded():
    x = digits_x()[:60]
    graph = digits_like()
    out = optimize(graph, load_target("loihi2"), calib=x, prune=0.3)
    history = {r["pass"]: r for r in out.input.attrs["pipeline"]}
    assert "agreement" in history["prune"]
    assert "identical" in history["eliminate_dead_neurons"]["check"]
    unpruned = optimize(graph, load_target("loihi2"), calib=x)
    assert np.array_equal(simulate(graph, x).output, simulate(unpruned, x).output)


def test_a_pass_that_breaks_its_promise_is_caught():
    def sabotage(graph: Graph) -> Graph:
        fc = graph.layer("fc2")
        return graph.with_layer(Dense("fc2", fc.inputs, weight=fc.weight * 3))

    pipeline = Pipeline([Step("sabotage", sabotage, "claims to preserve outputs")],
                        check_inputs=digits_x()[:20])
    with pytest.raises(VerifyError, match="sabotage"):
        pipeline.run(digits_like())


def test_mapping_modes():
    x = digits_x()[:40]
    rng = np.random.default_rng(3)
    graph = if_chain(rng, (64, 32, 10))
    forced = optimize(graph, load_target("loihi2"), calib=x, mapping="qnn")
    assert all(lay.attrs["mapping"] == "qnn" for lay in forced.neurons())
    snn = optimize(graph, load_target("loihi2"), calib=x, mapping="snn")
    assert all(lay.attrs["mapping"] == "snn" for lay in snn.neurons())
    assert snn.layer("fc0").attrs["mapping"] == "snn"
    with pytest.raises(InputError, match="mapping"):
        optimize(graph, load_target("loihi2"), mapping="fastest")


def test_without_calibration_only_structure_is_checked():
    out = optimize(digits_like(), load_target("cortex-m4"))
    checks = [r["check"] for r in out.input.attrs["pipeline"]]
    assert checks and all("structure only" in c for c in checks)
    assert "spike_rate_in" not in out.layer("lif1").attrs


def test_a_float_model_that_overflows_to_nan_keeps_its_outputs_through_the_passes():
    """A recurrent graded layer whose counts grow without bound (found by ``make fuzz``): its
    float run reaches inf and then NaN; the passes keep that NaN where it was, and NaN never
    equals itself, so the check compares NaN positions (the integer targets cap the counts)."""
    case = build(Recipe(family="mlp", seed=18485322, width=2, hidden=(3, 1),
                        neurons=("graded", "levels"), variant=0, recurrent=True,
                        residual=False, pool="none", encoding="direct", steps=40, batch=1,
                        drive_scale=0.1, tiny_threshold=False, extreme=True, pipeline=True,
                        twins=0, widen=0))
    with np.errstate(all="ignore"):
        assert np.isnan(run_graph(case.graph, case.drive(), record=False).output).any()
        optimize(case.graph, load_target("cortex-m4"), calib=case.x)  # no VerifyError
