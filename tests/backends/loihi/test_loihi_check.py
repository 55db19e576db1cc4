"""Loihi 2 resource allocation: cores, neurons and synapses per core, clear ResourceErrors."""

from __future__ import annotations

import itertools
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest

from snnc.backends.loihi.check import check_resources, split_blocks
from snnc.errors import ResourceError
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.passes.quantize import quantize
from snnc.target import Target, load_target

LOIHI = load_target("loihi2")
F32 = np.float32


def with_limits(**limits: int) -> Target:
    return replace(LOIHI, limits=MappingProxyType({**LOIHI.limits, **limits}))


def mlp(sizes: tuple[int, ...], density: float = 1.0, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    layers = [Input("x", (), shape=(sizes[0],))]
    src = "x"
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        w = rng.normal(0, 1, (n_out, n_in)) * (rng.random((n_out, n_in)) < density)
        layers += [Dense(f"fc{i}", (src,), weight=w.astype(F32)),
                   LIF(f"h{i}", (f"fc{i}",), beta=F32(0.9))]
        src = f"h{i}"
    return Graph(tuple(layers), output=src, encoding="rate")


def resources(graph: Graph, target: Target = LOIHI) -> dict:
    return check_resources(quantize(graph, target.numeric, target=target.name), target)


def test_blocks_close_at_either_limit_and_cover_every_neuron():
    synapses = np.array([5, 5, 5, 9, 1, 1, 1, 1])
    blocks = split_blocks(synapses, neurons_per_core=3, synapses_per_core=10)
    assert blocks == [(0, 2, 10), (2, 1, 5), (3, 2, 10), (5, 3, 3)]
    assert sum(n for _, n, _ in blocks) == synapses.size


def test_loihi2_limits_come_from_the_target_file():
    figures = resources(mlp((8, 4)))
    assert figures["limits"]["neurons_per_core"] == LOIHI.limits["neurons_per_core"] == 8192
    assert figures["cores_available"] == 128


def test_a_layer_larger_than_a_core_is_split_across_cores():
    figures = resources(mlp((4, 20000)))
    (layer,) = figures["layers"]
    assert [c["neurons"] for c in layer["cores"]] == [8192, 8192, 3616]
    assert figures["cores_used"] == 3
    assert layer["synapses"] == sum(c["synapses"] for c in layer["cores"])


def test_synapse_memory_splits_a_layer_before_the_neuron_limit():
    target = with_limits(synapses_per_core=100)
    figures = resources(mlp((50, 10)), target)
    cores = figures["layers"][0]["cores"]
    assert [c["neurons"] for c in cores] == [2, 2, 2, 2, 2]
    assert all(c["synapses"] <= 100 for c in cores)


def test_counted_synapses_are_the_nonzero_weights():
    graph = mlp((30, 20), density=0.3, seed=4)
    qg = quantize(graph, LOIHI.numeric, target=LOIHI.name)
    figures = check_resources(qg, LOIHI)
    assert figures["synapses"] == int(np.count_nonzero(qg.q("fc0").weight))


def test_exactly_full_chip_fits_and_one_more_core_is_a_resource_error():
    target = with_limits(cores_per_chip=2, neurons_per_core=10)
    assert resources(mlp((4, 20)), target)["cores_used"] == 2
    with pytest.raises(ResourceError, match="target 'loihi2': neuro cores needs 3 but the limit "
                                            "is 2"):
        resources(mlp((4, 21)), target)


def test_one_neurons_fan_in_beyond_a_core_is_a_resource_error_naming_the_layer():
    with pytest.raises(ResourceError, match=r"layer 'h0'.*needs 40 but the limit is 39"):
        resources(mlp((40, 3)), with_limits(synapses_per_core=39))


def test_input_and_readout_are_off_chip():
    graph = Graph((Input("x", (), shape=(4,)), Dense("fc", ("x",), weight=np.ones((3, 4), F32)),
                   LIF("h", ("fc",)), Dense("head", ("h",), weight=np.ones((2, 3), F32))),
                  output="head", encoding="rate")
    figures = resources(graph)
    assert [o["layer"] for o in figures["off_chip"]] == ["x", "head"]
    assert [layer["layer"] for layer in figures["layers"]] == ["h"]


def test_possible_current_wrap_is_reported_as_a_warning():
    graph = Graph((Input("x", (), shape=(12,)), Dense("fc", ("x",), weight=np.ones((1, 12), F32)),
                   LIF("h", ("fc",), beta=F32(1))), output="h", encoding="direct")
    figures = resources(graph)
    assert figures["layers"][0]["max_input_per_step"] == 12 * 127 * 127
    assert any("layer 'h'" in w and "wraps" in w for w in figures["warnings"])
    assert resources(mlp((8, 4)))["warnings"] == []


def test_a_neuron_reading_a_neuron_directly_is_flagged_as_simulation_only():
    graph = Graph((Input("x", (), shape=(3,)), Dense("fc", ("x",), weight=np.eye(3, dtype=F32)),
                   LIF("a", ("fc",)), LIF("b", ("a",))), output="b", encoding="rate")
    (warning,) = resources(graph)["warnings"]
    assert "layer 'b' reads 'a' without a synapse" in warning


def graded_net() -> Graph:
    rng = np.random.default_rng(3)
    return Graph((Input("x", (), shape=(6,)),
                  Dense("fc", ("x",), weight=rng.normal(0, 1, (5, 6)).astype(np.float32)),
                  LIF("g", ("fc",), threshold=np.float32(0.1), reset="subtract",
                      compare="ge", graded=True)), output="g", timesteps=4, encoding="rate")


def test_graded_layer_sends_its_counts_as_graded_spikes_on_a_neurocore():
    layer = resources(graded_net())["layers"][0]
    assert layer["process"].startswith("VariantLIF")
    assert layer["spikes"] == "graded spikes: counts up to 127 per step (payload 7 bits)"


def test_graded_counts_wider_than_the_payload_are_a_resource_error_naming_the_layer():
    with pytest.raises(ResourceError, match="graded spike payload bits of layer 'g'"):
        resources(graded_net(), with_limits(payload_bits=6))
