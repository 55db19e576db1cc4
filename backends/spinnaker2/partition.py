"""Split every population into PE-sized slices.

A slice is a contiguous range of a population's (row-major) neurons; one slice runs on one PE.
Its size is bounded by the target's ``max_neurons_per_pe`` and by the PE's SRAM left after the
code/stack reserve: neuron parameters and state, the synaptic rows of every synapse that ends in
the slice, one master-population entry and row index per source slice it hears from, MAC program
and buffers (see :mod:`~snnc.backends.spinnaker2.memory`). Slices are multiples of the
population's ``block`` so an input-aware multi-level threshold never needs another PE's neurons.

Slices grow greedily, a block at a time, while the exact size of the PE's image and working
memory fits; for event stages this counts the source slices the new neurons hear from, so local
connectivity (convolutions) costs only the rows it uses. That count depends on how the *source*
populations are sliced: populations are sliced in graph order (sources first), and rounds repeat
until no slicing changes, which settles recurrent connections too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.backends.spinnaker2.image import MPOP_ENTRY, SYNAPSE_BYTES
from snnc.backends.spinnaker2.machine import Machine
from snnc.backends.spinnaker2.memory import bss_bytes, image_bytes, program_bytes_bound
from snnc.backends.spinnaker2.network import EventStage, MacStage, Network, Population
from snnc.errors import ResourceError

_MAX_ROUNDS = 32
FANIN_BLOCK = 1 << 20  # synapses per block of the fan-in scan


@dataclass(frozen=True)
class Slice:
    """Neurons ``lo..hi-1`` of population ``pop``; ``index`` counts slices of that population."""

    pop: int
    index: int
    lo: int
    hi: int

    @property
    def n(self) -> int:
        return self.hi - self.lo


Partition = dict[int, tuple[Slice, ...]]


def _has_bias(net: Network, pop: Population) -> bool:
    stage = net.stages.get(pop.index)
    return isinstance(stage, EventStage) and bool(np.any(stage.bias))


@dataclass(frozen=True, eq=False)
class _Fanin:
    """Per target neuron: synapses ending in it and the source slices (global ids into
    ``slice_rows``, CSR by neuron) that send to it."""

    synapses: np.ndarray
    ptr: np.ndarray
    slice_ids: np.ndarray
    slice_rows: np.ndarray


def _fanin(stage: EventStage, size: int, parts: Partition) -> _Fanin:
    synapses = np.zeros(size, np.int64)
    pairs: list[np.ndarray] = []
    rows: list[int] = []
    for src, mat in stage.synapses.items():
        for start in range(0, mat.nnz, FANIN_BLOCK):  # bincount widens its input to int64
            synapses += np.bincount(mat.rows[start:start + FANIN_BLOCK], minlength=size)
        # each source neuron's slice number: one gather per synapse, not a binary search
        owner = np.repeat(np.arange(len(parts[src]), dtype=np.int64),
                          [s.n for s in parts[src]]) + len(rows)
        # row-major: (target, source slice) keys never decrease, so a key differing from its
        # predecessor is a new pair (in blocks of entries: no whole-matrix temporaries)
        last = -1
        for start in range(0, mat.nnz, FANIN_BLOCK):
            part = slice(start, start + FANIN_BLOCK)
            sigma = owner[mat.cols[part]]
            keys = mat.rows[part].astype(np.int64) * (1 << 32) + sigma
            new = np.concatenate(([keys[0] != last], keys[1:] != keys[:-1]))
            pairs.append(keys[new])
            last = int(keys[-1])
        rows.extend(s.n for s in parts[src])
    flat = np.unique(np.concatenate(pairs)) if pairs else np.zeros(0, np.int64)
    targets = flat >> 32
    ptr = np.concatenate(([0], np.cumsum(np.bincount(targets, minlength=size))))
    return _Fanin(synapses, ptr, flat & 0xFFFFFFFF, np.array(rows, np.int64))


def _split(net: Network, pop: Population, machine: Machine, parts: Partition) -> tuple[Slice, ...]:
    stage = net.stages.get(pop.index)
    delay = net.profile.synapse_delay
    has_bias = _has_bias(net, pop)
    mac_entries = sum(len(parts[s]) for s in stage.sources) if isinstance(stage, MacStage) else 0

    def exact(n: int, entries: int, rows: int, synapses: int) -> int:
        program = program_bytes_bound(stage, n) if isinstance(stage, MacStage) else 0
        return (image_bytes(pop, n, stage, entries + mac_entries, rows, synapses, has_bias,
                            program) + bss_bytes(pop, n, stage, delay))

    # The size is affine in each count once the table sections exist (entries > 0).
    base = exact(0, 0, 0, 0)
    per_neuron = exact(1, 0, 0, 0) - base
    with_tables = exact(0, 1, 0, 0) - MPOP_ENTRY.size
    per_row = exact(0, 1, 1, 0) - with_tables - MPOP_ENTRY.size

    def need(n: int, synapses: int, entries: int, rows: int) -> int:
        fixed = with_tables if entries else base
        return (fixed + per_neuron * n + SYNAPSE_BYTES * synapses + MPOP_ENTRY.size * entries
                + per_row * rows)

    block = pop.block
    cap = (machine.max_neurons_per_pe // block) * block
    if cap == 0:
        raise ResourceError(machine.target, "neurons per PE", block, machine.max_neurons_per_pe,
                            f"population '{pop.name}' needs {block} neurons on one PE for its "
                            "input-aware threshold")
    budget = machine.data_bytes
    if not isinstance(stage, EventStage):
        fit = (budget - need(0, 0, 0, 0)) // max(1, need(block, 0, 0, 0) - need(0, 0, 0, 0))
        step = min(cap, fit * block)
        if step < block:
            raise ResourceError(machine.target, "SRAM per PE (bytes)",
                                need(block, 0, 0, 0) + machine.reserve_bytes,
                                machine.sram_per_pe_bytes,
                                f"population '{pop.name}': {block} neuron(s) do not fit one PE")
        return tuple(Slice(pop.index, i, lo, min(lo + step, pop.size))
                     for i, lo in enumerate(range(0, pop.size, step)))
    fanin = _fanin(stage, pop.size, parts)
    syn_prefix = np.concatenate(([0], np.cumsum(fanin.synapses))).tolist()
    ptr = fanin.ptr.tolist()
    heard = _Heard(fanin, block)
    slices: list[Slice] = []
    lo = 0
    while lo < pop.size:
        hi, rows = lo, 0
        heard.clear()
        while hi < pop.size and hi + block - lo <= cap:
            new, more_rows = heard.fresh(ptr[hi], ptr[hi + block])
            synapses = syn_prefix[hi + block] - syn_prefix[lo]
            if need(hi + block - lo, synapses, heard.count + new, rows + more_rows) > budget:
                if hi == lo:
                    want = need(block, synapses, new, more_rows) + machine.reserve_bytes
                    raise ResourceError(machine.target, "SRAM per PE (bytes)", want,
                                        machine.sram_per_pe_bytes,
                                        f"population '{pop.name}': {block} neuron(s) with "
                                        "their synapses do not fit one PE")
                break
            hi, rows = hi + block, rows + more_rows
            heard.take()
        slices.append(Slice(pop.index, len(slices), lo, hi))
        lo = hi
    return tuple(slices)


class _Heard:
    """The source slices a growing slice hears: how many and how many rows a block of target
    neurons would add (:meth:`fresh`), and adding them (:meth:`take`). Dense fan-in (hundreds
    of source slices per neuron) is tracked with a stamp per source slice and array gathers;
    sparse fan-in with a Python set, cheaper for a handful of ids."""

    DENSE = 32  # mean source slices per block from which arrays beat sets

    def __init__(self, fanin: _Fanin, block: int) -> None:
        blocks = max(1, fanin.synapses.size // block)
        self.dense = fanin.slice_ids.size >= self.DENSE * blocks
        self.block = block
        self.count = 0
        if self.dense:
            self.ids = fanin.slice_ids
            self.rows = fanin.slice_rows
            self.stamp = np.full(fanin.slice_rows.size, -1, np.int64)
            self.tag = 0
            self.new_ids = self.ids[:0]
        else:
            self.id_list = fanin.slice_ids.tolist()
            self.row_list = fanin.slice_rows.tolist()
            self.seen: set[int] = set()
            self.new_set: set[int] = set()

    def clear(self) -> None:
        self.count = 0
        if self.dense:
            self.tag += 1
        else:
            self.seen = set()

    def fresh(self, a: int, z: int) -> tuple[int, int]:
        """Source slices (and their rows) among ids ``a..z-1`` not heard yet."""
        if self.dense:
            ids = self.ids[a:z]
            ids = ids[self.stamp[ids] != self.tag]
            if self.block > 1:
                ids = np.unique(ids)
            self.new_ids = ids
            return int(ids.size), int(self.rows[ids].sum())
        self.new_set = set(self.id_list[a:z]) - self.seen
        return len(self.new_set), sum(self.row_list[i] for i in self.new_set)

    def take(self) -> None:
        """Hear the slices of the last :meth:`fresh`."""
        if self.dense:
            self.stamp[self.new_ids] = self.tag
            self.count += int(self.new_ids.size)
        else:
            self.seen |= self.new_set
            self.count += len(self.new_set)


def _even(pop: Population, machine: Machine) -> tuple[Slice, ...]:
    """First guess for a source's slicing: as few slices as the neuron cap allows."""
    step = max(1, machine.max_neurons_per_pe // pop.block) * pop.block
    return tuple(Slice(pop.index, i, lo, min(lo + step, pop.size))
                 for i, lo in enumerate(range(0, pop.size, step)))


def partition(net: Network, machine: Machine) -> Partition:
    """Slices of every population, sized under the neuron cap and the SRAM budget."""
    parts: Partition = {p.index: _even(p, machine) for p in net.populations}
    for _ in range(_MAX_ROUNDS):
        changed = False
        for pop in net.populations:
            new = _split(net, pop, machine, parts)
            changed |= new != parts[pop.index]
            parts[pop.index] = new
        if not changed:
            break
    return parts
