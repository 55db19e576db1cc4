"""Partitioning under the neuron cap and PE SRAM, placement, and resource errors."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.backends.spinnaker2 import check_resources, emit, simulate
from snnc.backends.spinnaker2.image import decode_image
from snnc.backends.spinnaker2.layout import build_layout
from snnc.backends.spinnaker2.place import serpentine
from snnc.backends.spinnaker2.route import multicast_tree, tree_hops
from snnc.errors import InputError, ResourceError, UnsupportedError
from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input, MultiLevelSpike
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.target import Target, load_target

RESERVE = 24576 + 8192


def _target(**limits: Any) -> Target:
    base = load_target("spinnaker2")
    return replace(base, limits=MappingProxyType({**base.limits, **limits}))


def _chain(sizes: list[int], density: float, seed: int, timesteps: int = 4) -> Graph:
    rng = np.random.default_rng(seed)
    layers: list = [Input("x", (), shape=(sizes[0],))]
    prev = "x"
    for i in range(1, len(sizes)):
        w = rng.normal(0, 1, (sizes[i], sizes[i - 1])).astype(np.float32)
        w[rng.random(w.shape) > density] = 0
        layers += [Dense(f"w{i}", (prev,), weight=w),
                   LIF(f"n{i}", (f"w{i}",), beta=np.float32(0.9), threshold=np.float32(1.0))]
        prev = f"n{i}"
    return Graph(tuple(layers), output=prev, timesteps=timesteps, encoding="rate")


def _q(graph: Graph, target: Target) -> QuantizedGraph:
    return quantize(graph, target.numeric, target=target.name)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 200), min_size=2, max_size=4),
       density=st.floats(0.05, 1.0), cap=st.integers(1, 80),
       data=st.sampled_from([3000, 8000, 20000, 96000]), seed=st.integers(0, 99))
def test_slices_cover_populations_once_under_cap_and_sram(sizes: list[int], density: float,
                                                          cap: int, data: int,
                                                          seed: int) -> None:
    target = _target(max_neurons_per_pe=cap, sram_per_pe_bytes=RESERVE + data,
                     mesh_width=8, mesh_height=8)
    try:
        layout = build_layout(_q(_chain(sizes, density, seed), target), target)
    except ResourceError as err:  # a single neuron's rows may exceed a tiny PE: named limit
        assert "SRAM per PE" in str(err) or "PEs" in str(err)
        return
    for pop in layout.net.populations:
        slices = layout.parts[pop.index]
        assert slices[0].lo == 0 and slices[-1].hi == pop.size
        assert all(a.hi == b.lo for a, b in itertools.pairwise(slices))
        assert all(0 < s.n <= cap for s in slices)
    for sl, data_bytes in layout.images.items():
        pe = decode_image(data_bytes)
        used = len(data_bytes) + pe.bss_bytes + RESERVE
        assert used == layout.sram_bytes[sl] <= target.limits["sram_per_pe_bytes"]
    assert len({(s.chip, s.core) for s in layout.sites.values()}) == len(layout.sites)


def test_sram_not_the_neuron_cap_bounds_slices_of_a_dense_layer() -> None:
    target = _target(sram_per_pe_bytes=RESERVE + 16384)
    layout = build_layout(_q(_chain([100, 120, 5], 1.0, 0), target), target)
    hidden = layout.parts[1]
    assert len(hidden) > 1 and max(s.n for s in hidden) < 256
    # a slice one neuron larger would not fit: the partition is tight, not just safe
    assert max(layout.sram_bytes.values()) > target.limits["sram_per_pe_bytes"] - 100 * 4 - 64


def test_input_aware_groups_stay_on_one_pe() -> None:
    """Averaging over axis 1 of (4, 6, 5): groups interleave inside blocks of 30 neurons."""
    rng = np.random.default_rng(2)
    layers = (Input("x", (), shape=(4, 6, 10)),
              Dense("w", ("x",), weight=rng.normal(0, 1, (5, 10)).astype(np.float32)),
              MultiLevelSpike("m", ("w",), levels=3, axis=1),
              Flatten("f", ("m",)),
              Dense("w2", ("f",), weight=rng.normal(0, 1, (4, 120)).astype(np.float32)),
              LIF("o", ("w2",)))
    graph = Graph(layers, output="o", timesteps=3)
    target = _target(max_neurons_per_pe=64)
    layout = build_layout(_q(graph, target), target)
    assert [(s.lo, s.hi) for s in layout.parts[1]] == [(0, 60), (60, 120)]
    small = _target(max_neurons_per_pe=12)
    with pytest.raises(ResourceError, match="neurons per PE needs 30 but the limit is 12"):
        build_layout(_q(graph, small), small)


def test_serpentine_order_steps_between_neighbouring_chips() -> None:
    chips = serpentine(build_machine())
    assert len(chips) == 48 and len(set(chips)) == 48
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in itertools.pairwise(chips))


def build_machine():
    from snnc.backends.spinnaker2.machine import machine_from_limits

    return machine_from_limits("spinnaker2", load_target("spinnaker2").limits)


def test_board_too_small_is_a_resource_error_naming_pes(tmp_path: Path) -> None:
    target = _target(mesh_width=1, mesh_height=2, pes_per_chip=3, max_neurons_per_pe=10)
    qg = _q(_chain([30, 40, 10], 0.5, 1), target)
    with pytest.raises(ResourceError, match=r"PEs needs 8 but the limit is 4"):
        check_resources(qg, target)
    with pytest.raises(ResourceError):
        emit(qg, target, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_one_neuron_whose_rows_exceed_a_pe_is_a_resource_error_naming_sram() -> None:
    target = _target()
    qg = _q(_chain([30000, 1], 1.0, 3), target)
    with pytest.raises(ResourceError, match=r"SRAM per PE \(bytes\) needs \d+ but the limit is "
                                            r"131072 \(population 'n1'"):
        check_resources(qg, target)


def test_router_table_overflow_is_a_resource_error() -> None:
    target = _target(router_entries=1, pes_per_chip=4, max_neurons_per_pe=4)
    qg = _q(_chain([8, 12, 4], 1.0, 4), target)
    with pytest.raises(ResourceError, match="routing table entries"):
        check_resources(qg, target)


def test_full_size_board_figures_are_reported() -> None:
    target = _target()
    res = check_resources(_q(_chain([64, 128, 10], 1.0, 5), target), target)
    assert res["limits"] == {"chips": 48, "pes_per_chip": 151, "sram_per_pe_bytes": 131072,
                             "reserve_bytes": RESERVE, "max_neurons_per_pe": 256,
                             "router_entries": 1024}
    assert [p["neurons"] for p in res["pes"]] == [64, 128, 10]
    assert all(p["sram_bytes"] <= p["sram_limit"] for p in res["pes"])


def test_neuron_reading_a_neuron_directly_is_unsupported() -> None:
    layers = (Input("x", (), shape=(4,)),
              Dense("w", ("x",), weight=np.ones((4, 4), np.float32)),
              LIF("a", ("w",)), LIF("b", ("a",)))
    graph = Graph(layers, output="b", timesteps=2)
    with pytest.raises(UnsupportedError, match=r"layer 'b', target 'spinnaker2'.*weight layer"):
        check_resources(_q(graph, _target()), _target())


def test_a_twin_annotation_on_an_unconverted_neuron_is_refused() -> None:
    graph = _chain([4, 3], 1.0, 0)
    twin = graph.layers[2].with_attrs(mapping="qnn", twin_of="lif")
    graph = graph.with_layer(twin)
    with pytest.raises(UnsupportedError, match="not converted"):
        check_resources(_q(graph, _target()), _target())


def test_zero_delay_profile_is_unsupported() -> None:
    target = _target()
    target = replace(target, numeric=replace(target.numeric, synapse_delay=0))
    with pytest.raises(UnsupportedError, match="synapse_delay=0"):
        check_resources(_q(_chain([4, 3], 1.0, 0), target), target)


def test_other_runners_are_refused(tmp_path: Path) -> None:
    target = _target()
    qg = _q(_chain([4, 3], 1.0, 0), target)
    with pytest.raises(UnsupportedError, match="runner 'qemu'"):
        simulate(qg, target, np.zeros((2, 1, 4), np.float32), "qemu", tmp_path)


def test_missing_limits_are_an_input_error() -> None:
    target = replace(load_target("spinnaker2"), limits=MappingProxyType({}))
    with pytest.raises(InputError, match="lacks pes_per_chip"):
        check_resources(_q(_chain([4, 3], 1.0, 0), target), target)


def test_local_connectivity_costs_only_the_rows_a_slice_hears() -> None:
    """A 4 x 64 x 64 convolution: a full row index per source neuron (16384 x 8 bytes) would
    not fit any PE, but each slice only hears from a few source slices."""
    rng = np.random.default_rng(9)
    layers = (Input("x", (), shape=(4, 64, 64)),
              Conv2d("c", ("x",), weight=rng.normal(0, 1, (4, 4, 3, 3)).astype(np.float32),
                     padding=(1, 1, 1, 1)),
              LIF("s", ("c",), beta=np.float32(0.9), threshold=np.float32(1.0)))
    graph = Graph(layers, output="s", timesteps=2, encoding="rate")
    target = _target()
    layout = build_layout(_q(graph, target), target)
    assert len(layout.parts[1]) == 4 * 64 * 64 // 256  # the neuron cap binds, not SRAM
    assert max(layout.sram_bytes.values()) <= 131072
    heard = [sum(1 for e in decode_image(layout.images[sl]).mpop) for sl in layout.parts[1]]
    assert max(heard) <= 12


def test_placement_keeps_talking_slices_closer_than_a_shuffled_placement() -> None:
    target = _target(pes_per_chip=5, max_neurons_per_pe=16, mesh_width=6, mesh_height=6)
    layout = build_layout(_q(_chain([60, 150, 120, 40], 0.4, 7), target), target)
    assert len({s.chip for s in layout.sites.values()}) >= 6

    def hops(sites: dict) -> int:
        total = 0
        for src, targets in layout.targets.items():
            chips: dict = {}
            for t in targets:
                chips.setdefault(sites[t].chip, set()).add(sites[t].core)
            total += tree_hops(multicast_tree(sites[src].chip, chips))
        return total

    assert hops(layout.sites) == layout.total_hops
    order = list(layout.sites)
    shuffled = [order[i] for i in np.random.default_rng(0).permutation(len(order))]
    scattered = dict(zip(order, (layout.sites[s] for s in shuffled), strict=True))
    assert layout.total_hops <= 0.75 * hops(scattered)
