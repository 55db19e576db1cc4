"""Keys, multicast trees, router tables and their compression."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from testkit.s2_netgen import RECIPES, group_block, machine_limits, spinnaker2

from snnc.backends.spinnaker2 import image as img
from snnc.backends.spinnaker2.emit import write_layout
from snnc.backends.spinnaker2.layout import build_layout
from snnc.backends.spinnaker2.route import (
    Entry,
    Route,
    compress,
    index_bits,
    key_spaces,
    multicast_tree,
    routes_of,
    tree_hops,
)
from snnc.backends.spinnaker2.simulate import Mesh, RouterEntry, Stats, load_layout
from snnc.passes.quantize import quantize

ROUTES = [Route(0b0001, ()), Route(0b0010, (3,)), Route(0, (1, 2)), Route(0b0101, (4,))]


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Entry], list[int], list[int], int]:
    """A router table over consecutive slices: some slices absent (default-routed keys)."""
    sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=48))
    bits = index_bits(sizes)
    spaces = key_spaces(sizes, bits)
    n_routes = draw(st.integers(1, len(ROUTES)))
    entries = []
    for space in spaces:
        choice = draw(st.integers(-1, n_routes - 1))
        if choice >= 0:
            entries.append(Entry(space.key, space.mask, ROUTES[choice]))
    return entries, [s.key for s in spaces], sizes, bits


@settings(max_examples=150, deadline=None)
@given(tables())
def test_compressed_table_routes_every_allocated_key_as_the_original(case) -> None:
    entries, points, sizes, bits = case
    small = compress(entries, np.array(points))
    keys = np.concatenate([key_spaces(sizes, bits)[i].keys() for i in range(len(sizes))])
    assert routes_of(small, keys) == routes_of(entries, keys)
    assert len(small) <= max(len(entries), 0)


def test_compression_merges_runs_of_one_route_into_one_entry() -> None:
    spaces = key_spaces([16] * 8, 4)
    entries = [Entry(s.key, s.mask, ROUTES[0]) for s in spaces]
    small = compress(entries, np.array([s.key for s in spaces]))
    assert len(small) == 1 and small[0].mask == 0xFFFFFF80


def test_compression_exploits_order_for_an_exception_inside_a_run() -> None:
    """Slice 5 goes elsewhere: a specific entry placed first lets one entry cover 0..7."""
    spaces = key_spaces([16] * 8, 4)
    entries = [Entry(s.key, s.mask, ROUTES[1] if i == 5 else ROUTES[0])
               for i, s in enumerate(spaces)]
    small = compress(entries, np.array([s.key for s in spaces]))
    assert [e.route for e in small] == [ROUTES[1], ROUTES[0]]


def test_compression_never_captures_a_default_routed_key() -> None:
    spaces = key_spaces([4] * 4, 2)
    entries = [Entry(s.key, s.mask, ROUTES[0]) for i, s in enumerate(spaces) if i != 2]
    small = compress(entries, np.array([s.key for s in spaces]))
    assert routes_of(small, spaces[2].keys()) == [None] * 4
    assert len(small) == 2


def test_key_spaces_are_disjoint_and_masks_cover_every_neuron_index() -> None:
    sizes = [5, 16, 1, 9]
    bits = index_bits(sizes)
    spaces = key_spaces(sizes, bits)
    assert bits == 4
    all_keys = np.concatenate([s.keys() for s in spaces])
    assert np.unique(all_keys).size == all_keys.size
    for s in spaces:
        assert np.all(s.keys() & s.mask == s.key)


def test_tree_skips_entries_where_the_default_route_suffices() -> None:
    tree = multicast_tree((0, 0), {(3, 0): {2}, (1, 2): {5}})
    assert tree_hops(tree) == 5
    assert tree[(0, 0)].needs_entry          # source chip: local packets need an entry
    assert tree[(2, 0)].arrival == 0 and not tree[(2, 0)].needs_entry  # straight through
    assert tree[(1, 0)].needs_entry          # branches north and east
    assert tree[(3, 0)].route.cores == (2,)


def test_mesh_default_route_carries_packets_through_chips_without_entries() -> None:
    tree = multicast_tree((0, 0), {(3, 0): {2}})
    tables = {chip: [RouterEntry(0x100, 0xFFFFFF00, node.route.links, node.route.cores)]
              for chip, node in tree.items() if node.needs_entry}
    assert sorted(tables) == [(0, 0), (3, 0)]
    stats = Stats()
    got = Mesh(4, 1, tables).deliver((0, 0), np.array([0x100, 0x1FF, 0x200]), stats)
    assert {k: v.tolist() for k, v in got.items()} == {((3, 0), 2): [0, 1]}
    assert stats.dropped_no_route == 1 and stats.link_hops == 6


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000))
def test_every_source_reaches_exactly_the_pes_that_hold_its_synapses(seed: int) -> None:
    """Walk every key of every PE through the emitted router tables: the PEs it reaches are
    exactly those whose master population table knows the key, and those the layout planned."""
    rng = np.random.default_rng(seed)
    names = sorted(RECIPES)
    graph = RECIPES[names[seed % len(names)]](rng)
    target = machine_limits(rng, spinnaker2(), min_cap=group_block(graph))
    layout = build_layout(quantize(graph, target.numeric, target=target.name), target)
    with tempfile.TemporaryDirectory() as work:
        write_layout(layout, Path(work))
        loaded = load_layout(Path(work))
    planned = {s["pe"]: set(s["targets"]) for p in loaded.doc["populations"] for s in p["slices"]}
    for im in loaded.images:
        if not im.flags & img.HAS_KEY:
            continue
        keys = im.key + np.arange(im.n)
        stats = Stats()
        reached = loaded.mesh.deliver(im.chip, keys, stats)
        assert stats.dropped_no_route == stats.dropped_off_mesh == 0
        for i, key in enumerate(keys):
            got = {pe.pe_id for pe in loaded.images
                   if i in set(reached.get((pe.chip, pe.core), np.array([])).tolist())}
            knows = {pe.pe_id for pe in loaded.images
                     if any(int(key) & e.mask == e.key for e in pe.mpop)}
            assert got == knows == planned[im.pe_id]
