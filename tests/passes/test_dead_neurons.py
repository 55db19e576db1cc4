"""Dead-neuron elimination: removes never-firing neurons and keeps every output exactly."""

from __future__ import annotations

import numpy as np
import pytest
from testkit.fuzz_nets import Recipe, build
from testkit.pass_nets import conv_net, digits_like, digits_x

from snnc.errors import InputError
from snnc.ir.layers import Add, Dense, Graph
from snnc.passes.calibrate import calibrate
from snnc.passes.dead_neurons import eliminate_dead_neurons, removal_plan
from snnc.passes.pipeline import OutputsKept, optimize
from snnc.reference.simulate import simulate
from snnc.target import load_target


def _with_dead_units(graph: Graph, dead: list[int]) -> Graph:
    fc1 = graph.layer("fc1")
    w = fc1.weight.copy()
    w[dead] = -np.abs(w[dead])  # non-negative inputs can never drive these units
    return graph.with_layer(Dense("fc1", fc1.inputs, weight=w))


def test_dead_units_are_removed_and_outputs_stay_identical():
    x = digits_x()
    graph = calibrate(_with_dead_units(digits_like(), [3, 17, 64]), x)
    pruned = eliminate_dead_neurons(graph)
    assert graph.size("lif1") - pruned.size("lif1") >= 3
    assert pruned.layer("lif1").attrs["dead_removed"] == graph.size("lif1") - pruned.size("lif1")
    before, after = simulate(graph, x), simulate(pruned, x)
    assert np.array_equal(before.output, after.output)
    kept = np.asarray(graph.layer("lif1").attrs["active"])
    assert np.array_equal(after.spikes["lif1"], before.spikes["lif1"][..., kept])


def test_dead_conv_channels_are_removed_through_pooling_and_flatten():
    x = np.random.default_rng(2).random((20, 1, 8, 8)).astype(np.float32)
    graph = calibrate(conv_net(), x)
    pruned = eliminate_dead_neurons(graph)
    assert pruned.shape("lc")[0] < graph.shape("lc")[0]
    assert pruned.layer("fc").weight.shape[1] < graph.layer("fc").weight.shape[1]
    assert np.array_equal(simulate(graph, x).output, simulate(pruned, x).output)


def test_output_layer_and_add_readers_are_left_alone():
    graph = calibrate(digits_like(), digits_x()[:10] * 0)  # nothing fires at all
    assert removal_plan(graph, "lif2") is None  # the graph output keeps its shape
    add = Graph((*digits_like().layers, Add("res", ("lif1", "lif1"))), output="lif2",
                timesteps=8, encoding="rate")
    assert removal_plan(calibrate(add, digits_x()[:5]), "lif1") is None


def test_a_layer_that_never_fires_keeps_one_neuron():
    graph = calibrate(digits_like(), digits_x()[:10] * 0)
    pruned = eliminate_dead_neurons(graph)
    assert pruned.size("lif1") == 1
    assert np.array_equal(simulate(graph, digits_x()[:10] * 0).output,
                          simulate(pruned, digits_x()[:10] * 0).output)


def test_elimination_needs_calibration():
    with pytest.raises(InputError, match="calibrat"):
        eliminate_dead_neurons(digits_like())


def test_a_removal_the_check_rejects_is_undone_and_the_others_stay():
    x = digits_x()
    graph = calibrate(_with_dead_units(digits_like(), [3, 17, 64]), x)
    calls: list[int] = []

    def rejects_lif1(before: Graph, after: Graph) -> bool:
        calls.append(after.size("lif1"))
        return after.size("lif1") == before.size("lif1")

    kept = eliminate_dead_neurons(graph, keeps_outputs=rejects_lif1)
    assert kept.size("lif1") == graph.size("lif1")
    assert kept.layer("lif1").attrs["dead_kept"] >= 3
    assert "dead_removed" not in kept.layer("lif1").attrs
    assert calls and calls[0] < graph.size("lif1")  # everything was tried at once first


def test_silent_neurons_before_a_tiny_graded_threshold_never_break_the_pipeline():
    """A graded count floor(v / 2e-7) turns a last-bit float32 difference into another count:
    dropping silent inputs of the dot product (which reorders the BLAS sum) must not change the
    reference output, so such removals are undone and the pipeline's check holds."""
    case = build(Recipe(family="mlp", seed=0, width=1, hidden=(11, 1), neurons=("lif", "graded"),
                        variant=0, recurrent=False, residual=False, pool="none",
                        encoding="direct", steps=1, batch=1, drive_scale=0.1,
                        tiny_threshold=True, extreme=False, pipeline=True, twins=0))
    optimized = optimize(case.graph, load_target("cortex-m4"), calib=case.x)
    assert OutputsKept(case.x)(case.graph, optimized)
    first = optimized.layers[1:][1]
    assert first.is_neuron
    assert first.attrs.get("dead_kept", 0) + first.attrs.get("dead_removed", 0) > 0
