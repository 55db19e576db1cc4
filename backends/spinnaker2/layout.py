"""From a quantized graph to a complete SpiNNaker 2 layout: the pipeline of this backend.

``build_layout`` runs, in order: populations and stages (:mod:`.network`), partitioning
(:mod:`.partition`), placement (:mod:`.place`), connectivity between slices, key allocation,
multicast trees and router tables with compression (:mod:`.route`), and the per-PE images
(:mod:`.image`). It is pure: ``check_resources`` and ``emit`` both call it, and identical input
gives an identical layout. ``emit`` passes its output folder: each PE image is written there as
soon as it is encoded, and each event stage's matrices are dropped once the PEs of its
population are encoded, so a board-size layout never holds every image, nor every matrix
beside them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from snnc.backends.common.sparse import Coo
from snnc.backends.spinnaker2 import image as img
from snnc.backends.spinnaker2.machine import Chip, Machine, machine_from_limits
from snnc.backends.spinnaker2.memory import bss_bytes, image_bytes, program_for
from snnc.backends.spinnaker2.network import (
    EventStage,
    MacStage,
    Model,
    Network,
    Population,
    build_network,
)
from snnc.backends.spinnaker2.partition import Partition, Slice, partition
from snnc.backends.spinnaker2.place import Site, place
from snnc.backends.spinnaker2.route import (
    FULL,
    Entry,
    KeySpace,
    TreeNode,
    compress,
    index_bits,
    key_spaces,
    multicast_tree,
    tree_hops,
    verify_equivalent,
)
from snnc.errors import ResourceError, VerifyError
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target


def pe_file(pe_id: int) -> str:
    """The file holding PE ``pe_id``'s image."""
    return f"pe_{pe_id:03d}.bin"


class WrittenImages(Mapping[Slice, bytes]):
    """PE images already written to ``directory``, each read back when asked for (a layout
    built into its output folder holds no image in memory)."""

    def __init__(self, directory: Path, files: dict[Slice, str]) -> None:
        self.directory = directory
        self.files = files

    def __getitem__(self, sl: Slice) -> bytes:
        return (self.directory / self.files[sl]).read_bytes()

    def __iter__(self) -> Iterator[Slice]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


@dataclass(frozen=True, eq=False)
class Layout:
    """Everything ``emit`` writes, computed. Tables are per chip, sorted as the router holds
    them; ``tables_before`` are the uncompressed tables. The event stages of ``net`` keep
    their matrices' shapes but not their entries: the synapses are in the images, which
    ``images`` holds or, for a layout built into a folder, reads back (:class:`WrittenImages`);
    ``image_sizes`` are their lengths in bytes."""

    target: str
    machine: Machine
    net: Network
    parts: Partition
    sites: dict[Slice, Site]
    keys: dict[Slice, KeySpace]
    index_bits: int
    targets: dict[Slice, tuple[Slice, ...]]
    trees: dict[Slice, dict[Chip, TreeNode]]
    tables_before: dict[Chip, list[Entry]]
    tables: dict[Chip, list[Entry]]
    images: Mapping[Slice, bytes]
    image_sizes: dict[Slice, int]
    sram_bytes: dict[Slice, int]
    synapse_counts: dict[Slice, int]
    total_hops: int

    def slices(self) -> list[Slice]:
        return [s for pop in sorted(self.parts) for s in self.parts[pop]]


def _event_pairs(stage: EventStage, parts: Partition,
                 first: Mapping[int, int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The (source, target) slice ids (see :func:`_connectivity`) of an event stage's pairs
    with at least one synapse, read one target slice at a time (its synapses are one run of
    each matrix's entries)."""
    dst_parts = parts[stage.sink]
    for src, mat in stage.synapses.items():
        if mat.nnz == 0:
            continue
        owner = _owners(parts[src])
        cuts = mat.row_starts([t.lo for t in dst_parts] + [dst_parts[-1].hi])
        for j, (a, z) in enumerate(pairwise(cuts.tolist())):
            if a < z:
                heard = np.flatnonzero(np.bincount(owner[mat.cols[a:z]],
                                                   minlength=len(parts[src])))
                yield heard + first[src], np.full(heard.size, first[stage.sink] + j, np.int64)


def _owners(slices: tuple[Slice, ...]) -> np.ndarray:
    """Each neuron's slice number in a population cut into ``slices``: one gather per synapse
    instead of a binary search."""
    return np.repeat(np.arange(len(slices), dtype=np.int64), [s.n for s in slices])


@dataclass(frozen=True, eq=False)
class _Owners:
    """Per neuron of a source population: its slice number and its slice's first neuron."""

    slice_no: np.ndarray
    first: np.ndarray

    @staticmethod
    def of(slices: tuple[Slice, ...]) -> _Owners:
        slice_no = _owners(slices)
        return _Owners(slice_no, np.array([s.lo for s in slices], np.int64)[slice_no])


def _incoming_blocks(synapses: Mapping[int, Coo], parts: Partition, owners: Mapping[int, _Owners],
                     t: Slice) -> dict[Slice, img.SynapticBlock]:
    """Synaptic blocks into target slice ``t`` by source slice: rows of the source slice's
    neurons, synapse word = int16 weight << 16 | target neuron index in ``t``.

    Built from ``t``'s own run of each matrix while its PE's image is encoded, so a layout
    never holds more synaptic rows than one PE's."""
    blocks: dict[Slice, img.SynapticBlock] = {}
    for src, mat in synapses.items():
        a, z = mat.row_starts([t.lo, t.hi])
        if a == z:
            continue
        src_parts = parts[src]
        rows, cols, vals = mat.rows[a:z], mat.cols[a:z], mat.vals[a:z]
        order = np.lexsort((rows, cols))  # by source neuron, then target neuron
        rows, cols, vals = rows[order], cols[order], vals[order]
        ss = owners[src].slice_no[cols]
        starts = np.flatnonzero(np.concatenate(([True], ss[1:] != ss[:-1])))
        ends = np.append(starts[1:], ss.size)
        words = (((np.asarray(vals, np.int64) & 0xFFFF) << 16)
                 | (rows.astype(np.int64) - t.lo)).astype(np.uint32)
        # row lengths of every source neuron at once; a block's rows are a slice of them and
        # its offsets those of the run (sorted by source neuron) less the block's first entry
        lengths = np.bincount(cols.astype(np.int64),
                              minlength=src_parts[-1].hi).astype(np.int64)
        before = np.cumsum(lengths) - lengths
        offsets = before - before[owners[src].first]
        for i, b, e in zip(ss[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
            sl = src_parts[i]
            blocks[sl] = img.SynapticBlock(offsets[sl.lo:sl.hi], lengths[sl.lo:sl.hi],
                                           words[b:e])
    return blocks


def _connectivity(net: Network, parts: Partition,
                  first: Mapping[int, int]) -> np.ndarray:
    """Every (source slice, target slice) pair that talks, as sorted unique codes
    ``source * count + target`` of slice ids (slices numbered in population, then slice order;
    ``first`` is each population's first id, ``count`` the number of slices)."""
    count = sum(len(p) for p in parts.values())
    srcs: list[np.ndarray] = []
    tgts: list[np.ndarray] = []
    for stage in net.stages.values():
        if isinstance(stage, EventStage):
            for s, t in _event_pairs(stage, parts, first):
                srcs.append(s)
                tgts.append(t)
        else:
            sink = first[stage.sink] + np.arange(len(parts[stage.sink]), dtype=np.int64)
            for src in stage.sources:
                ids = first[src] + np.arange(len(parts[src]), dtype=np.int64)
                srcs.append(np.repeat(ids, sink.size))
                tgts.append(np.tile(sink, ids.size))
    if not srcs:
        return np.zeros(0, np.int64)
    return np.unique(np.concatenate(srcs) * count + np.concatenate(tgts))


def _grouped(keys: np.ndarray, values: np.ndarray, slices: list[Slice]
             ) -> dict[Slice, tuple[Slice, ...]]:
    """``values`` (slice ids) grouped by ``keys`` (slice ids, sorted), as slices."""
    if keys.size == 0:
        return {}
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], keys.size).tolist()
    vals = [slices[i] for i in values.tolist()]
    return {slices[k]: tuple(vals[a:z])
            for k, a, z in zip(keys[starts].tolist(), starts.tolist(), ends, strict=True)}


def _parm(net: Network, pop: Population, sl: Slice) -> dict[str, int]:
    p = net.profile
    parm = {"model": int(pop.model), "decay_bits": p.decay_bits,
            "rounding": 1 if p.rounding == "trunc" else 0,
            "v_overflow": 1 if p.voltage_overflow == "wrap" else 0,
            "u_overflow": 1 if p.current_overflow == "wrap" else 0,
            "state_bits": p.state_bits, "current_bits": p.current_bits,
            "input_shift": p.input_shift, "threshold_shift": p.threshold_shift,
            "alpha_frac_bits": p.alpha_frac_bits, "synapse_delay": p.synapse_delay,
            "current_decay_offset": p.current_decay_offset, "inject_population": -1,
            "lif_current_register": int(p.lif_current_register),
            "phase": pop.phase, "once": int(pop.once), "steps": net.steps}
    parm.update({k: int(v) for k, v in pop.settings.items()})
    if pop.index in net.injections:
        parm["inject_population"] = net.injections[pop.index]
        parm["inject_offset"] = sl.lo
    return parm


def _flags(net: Network, pop: Population, keyed: bool) -> int:
    flags = img.HAS_KEY if keyed else 0
    flags |= img.PAYLOAD if pop.payload else 0
    flags |= img.RECORD_SPIKES if pop.is_neuron else 0
    flags |= img.RECORD_V if pop.records_v else 0
    flags |= img.RECORD_VALUE if pop.model == Model.READOUT else 0
    flags |= img.MAC_STAGE if isinstance(net.stages.get(pop.index), MacStage) else 0
    flags |= img.INJECT if pop.index in net.injections else 0
    return flags


def _pe_image(net: Network, sl: Slice, site: Site, key: KeySpace | None,
              incoming: list[tuple[Slice, img.SynapticBlock | None]],
              keys: dict[Slice, KeySpace], stage_slots: dict[int, int]) -> img.PeImage:
    pop = net.populations[sl.pop]
    stage = net.stages.get(pop.index)
    nprm = {name: arr[sl.lo:sl.hi] for name, arr in pop.params.items()}
    state = {name: np.zeros(sl.n, np.int64) for name in img.STAT_ORDER.get(int(pop.model), ())}
    bias = None
    if isinstance(stage, EventStage) and np.any(stage.bias):
        bias = stage.bias[sl.lo:sl.hi]
    mpop: list[img.MpopEntry] = []
    blocks: list[img.SynapticBlock] = []
    address = 0
    spaces = [keys[src_sl] for src_sl, _ in incoming]
    by_key = [space.key for space in spaces]
    for i in sorted(range(len(incoming)), key=by_key.__getitem__):  # the table is key-ordered
        (src_sl, block), space = incoming[i], spaces[i]
        if block is None:
            mpop.append(img.MpopEntry(space.key, space.mask, img.KIND_BUFFER,
                                      stage_slots[src_sl.pop], src_sl.lo))
        else:
            mpop.append(img.MpopEntry(space.key, space.mask, img.KIND_ROWS, src_sl.n, address))
            blocks.append(block)
            address += block.nbytes
    program = program_for(stage, sl.lo, sl.hi) if isinstance(stage, MacStage) else None
    return img.PeImage(
        pe_id=site.pe_id, chip=site.chip, core=site.core, population=pop.index, lo=sl.lo,
        n=sl.n, key=key.key if key else 0, mask=key.mask if key else 0,
        flags=_flags(net, pop, key is not None),
        bss_bytes=bss_bytes(pop, sl.n, stage, net.profile.synapse_delay),
        parm=_parm(net, pop, sl), nprm=nprm, state=state, bias=bias, mpop=tuple(mpop),
        blocks=tuple(blocks), program=program)


def _tables(machine: Machine, trees: dict[Slice, dict[Chip, TreeNode]],
            keys: dict[Slice, KeySpace]) -> tuple[dict[Chip, list[Entry]],
                                                  dict[Chip, list[Entry]]]:
    before: dict[Chip, list[Entry]] = {}
    for sl, tree in trees.items():
        space = keys[sl]
        for chip, node in tree.items():
            if node.needs_entry:
                before.setdefault(chip, []).append(Entry(space.key, space.mask, node.route))
    points = np.array(sorted(s.key for s in keys.values()), np.int64)
    index = ~next(iter(keys.values())).mask & FULL if keys else 0  # a key's neuron-index bits
    all_keys: np.ndarray | None = None
    after: dict[Chip, list[Entry]] = {}
    for chip in sorted(before):
        table = sorted(before[chip])
        before[chip] = table
        small = compress(table, points)
        # when no entry of either table tests a neuron-index bit, every key of a slice takes
        # its first key's route, so one key per slice checks them all
        if all(e.mask & index == 0 for e in (*table, *small)):
            verify_equivalent(table, small, points, str(chip))
        else:
            if all_keys is None:
                all_keys = np.concatenate([s.keys() for s in keys.values()])
            verify_equivalent(table, small, all_keys, str(chip))
        if len(small) > machine.router_entries:
            raise ResourceError(machine.target, "routing table entries", len(small),
                                machine.router_entries, f"chip {chip} after compression")
        after[chip] = small
    return before, after


def _trees(sites: dict[Slice, Site], slices: list[Slice], src: np.ndarray,
           tgt: np.ndarray) -> dict[Slice, dict[Chip, TreeNode]]:
    """Each source slice's multicast tree; ``src`` / ``tgt`` are the talking pairs' slice ids
    (indices into ``slices``), sorted by source. Target PEs are grouped by chip with array
    runs, so only the chips of a tree, not its target slices, cost Python work."""
    chip_list = sorted({site.chip for site in sites.values()})
    chip_no = {chip: i for i, chip in enumerate(chip_list)}
    chip_of = np.array([chip_no[sites[sl].chip] for sl in slices], np.int64)
    core_of = np.array([sites[sl].core for sl in slices], np.int64)
    trees: dict[Slice, dict[Chip, TreeNode]] = {}
    if src.size == 0:
        return trees
    starts = np.flatnonzero(np.concatenate(([True], src[1:] != src[:-1])))
    ends = np.append(starts[1:], src.size)
    for s, a, z in zip(src[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
        chips, cores = chip_of[tgt[a:z]], core_of[tgt[a:z]]
        order = np.lexsort((cores, chips))
        chips, cores = chips[order], cores[order]
        cuts = np.flatnonzero(np.concatenate(([True], chips[1:] != chips[:-1]))).tolist()
        core_runs = np.split(cores, cuts[1:])
        dests = {chip_list[c]: run.tolist()
                 for c, run in zip(chips[cuts].tolist(), core_runs, strict=True)}
        trees[slices[s]] = multicast_tree(sites[slices[s]].chip, dests)
    return trees


def _detach_synapses(net: Network) -> tuple[dict[int, dict[int, Coo]], Network]:
    """The event stages' matrices by sink, and ``net`` whose event stages keep only their
    matrices' shapes (see :class:`Layout`): once the matrices are handed to :func:`_images`,
    dropping a stage's frees them."""
    matrices: dict[int, dict[int, Coo]] = {}
    stages: dict[int, EventStage | MacStage] = {}
    for sink, stage in net.stages.items():
        if isinstance(stage, EventStage):
            matrices[sink] = dict(stage.synapses)
            stage = replace(stage, synapses={src: _no_entries(mat)
                                             for src, mat in stage.synapses.items()})
        stages[sink] = stage
    return matrices, replace(net, stages=stages)


def _no_entries(mat: Coo) -> Coo:
    return Coo(mat.rows[:0].copy(), mat.cols[:0].copy(), mat.vals[:0].copy(), mat.shape)


@dataclass(eq=False)
class _Encoded:
    """The images encoded so far, in memory or written to ``out_dir``, and their figures."""

    out_dir: Path | None
    images: dict[Slice, bytes] = field(default_factory=dict)
    files: dict[Slice, str] = field(default_factory=dict)
    sizes: dict[Slice, int] = field(default_factory=dict)
    sram: dict[Slice, int] = field(default_factory=dict)
    synapses: dict[Slice, int] = field(default_factory=dict)

    def keep(self, sl: Slice, pe_id: int, data: bytes, used: int, n_syn: int) -> None:
        if self.out_dir is None:
            self.images[sl] = data
        else:
            self.files[sl] = pe_file(pe_id)
            (self.out_dir / self.files[sl]).write_bytes(data)
        self.sizes[sl], self.sram[sl], self.synapses[sl] = len(data), used, n_syn

    def discard(self) -> None:
        """Remove the files written (an error leaves no partial output)."""
        if self.out_dir is not None:
            for name in self.files.values():
                (self.out_dir / name).unlink(missing_ok=True)

    def stored(self) -> Mapping[Slice, bytes]:
        return self.images if self.out_dir is None else WrittenImages(self.out_dir, self.files)


def _images(net: Network, machine: Machine, parts: Partition, sites: dict[Slice, Site],
            keys: dict[Slice, KeySpace], incoming: dict[Slice, list[Slice]],
            matrices: dict[int, dict[int, Coo]], out_dir: Path | None) -> _Encoded:
    """Every slice's image, encoded and checked (:func:`_image`), in memory or, with
    ``out_dir``, written there once encoded. ``matrices`` (see :func:`_detach_synapses`) loses
    each stage's entry once its population's PEs are done."""
    done = _Encoded(out_dir)
    left = {pop: len(slices) for pop, slices in parts.items()}
    owners = {pop: _Owners.of(slices) for pop, slices in parts.items()}
    try:
        for sl, site in sites.items():
            data, used, n_syn = _image(net, machine, parts, owners, sl, site, keys, incoming,
                                       matrices.get(sl.pop, {}))
            done.keep(sl, site.pe_id, data, used, n_syn)
            left[sl.pop] -= 1
            if left[sl.pop] == 0:
                matrices.pop(sl.pop, None)  # every PE of the population is encoded
    except BaseException:
        done.discard()
        raise
    return done


def _image(net: Network, machine: Machine, parts: Partition, owners: Mapping[int, _Owners],
           sl: Slice, site: Site, keys: dict[Slice, KeySpace],
           incoming: dict[Slice, list[Slice]],
           synapses: Mapping[int, Coo]) -> tuple[bytes, int, int]:
    """Slice ``sl``'s encoded image, SRAM used and synapse words. The image's size is checked
    against the memory model the partitioner planned with, and its SRAM against the PE's."""
    pop = net.populations[sl.pop]
    stage = net.stages.get(sl.pop)
    slots = {src: i for i, src in enumerate(stage.sources)} if stage else {}
    # this PE's blocks exist only while its image is encoded
    blocks = (_incoming_blocks(synapses, parts, owners, sl) if isinstance(stage, EventStage)
              else {})
    heard = [(src, blocks.get(src)) for src in incoming.get(sl, [])]
    pe = _pe_image(net, sl, site, keys.get(sl), heard, keys, slots)
    del blocks, heard
    data = img.encode_image(pe)
    n_syn = sum(int(b.words.size) for b in pe.blocks)
    expect = image_bytes(pop, sl.n, stage, len(pe.mpop),
                         sum(int(b.offsets.size) for b in pe.blocks), n_syn,
                         pe.bias is not None,
                         len(img.encode_program(pe.program)) if pe.program else 0)
    if len(data) != expect:
        raise VerifyError(f"PE {site.pe_id}: image is {len(data)} bytes but the memory "
                          f"model predicts {expect}")
    used = len(data) + pe.bss_bytes + machine.reserve_bytes
    if used > machine.sram_per_pe_bytes:
        raise ResourceError(machine.target, "SRAM per PE (bytes)", used,
                            machine.sram_per_pe_bytes,
                            f"PE {site.pe_id}, population '{pop.name}'")
    return data, used, n_syn


def build_layout(qg: QuantizedGraph, target: Target, out_dir: Path | None = None) -> Layout:
    """The full layout, or ResourceError / UnsupportedError. With ``out_dir`` (an existing
    folder) each image is written there once encoded; every limit but a PE image's SRAM (a
    check of what the partitioner planned) is checked before the first one."""
    machine = machine_from_limits(target.name, target.limits)
    net = build_network(qg, target.name)
    parts = partition(net, machine)
    sites = place(parts, machine)
    slices = [s for pop in sorted(parts) for s in parts[pop]]
    first: dict[int, int] = {}
    for i, sl in enumerate(slices):
        first.setdefault(sl.pop, i)
    codes = _connectivity(net, parts, first)
    matrices, net = _detach_synapses(net)
    src, tgt = np.divmod(codes, max(len(slices), 1))
    del codes
    # targets by source in (pop, index) order, sources by target in the same order
    targets = _grouped(src, tgt, slices)
    by_target = np.lexsort((src, tgt))
    incoming = {t: list(ss) for t, ss in _grouped(tgt[by_target], src[by_target],
                                                  slices).items()}
    del by_target
    ordered = list(targets)
    bits = index_bits(s.n for s in ordered)
    if len(ordered) << bits > 1 << 32:
        raise ResourceError(machine.target, "routing keys (32-bit)", len(ordered) << bits,
                            1 << 32, f"{len(ordered)} slices x 2^{bits} neuron indices")
    keys = dict(zip(ordered, key_spaces([s.n for s in ordered], bits), strict=True))
    trees = _trees(sites, slices, src, tgt)
    del src, tgt
    before, after = _tables(machine, trees, keys)
    done = _images(net, machine, parts, sites, keys, incoming, matrices, out_dir)
    hops = sum(tree_hops(tree) for tree in trees.values())
    return Layout(target.name, machine, net, parts, sites, keys, bits, targets, trees, before,
                  after, done.stored(), done.sizes, done.sram, done.synapses, hops)
