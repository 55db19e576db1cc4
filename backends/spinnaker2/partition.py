"""Split every population into PE-sized slices.

A slice is a contiguous range of a population's (row-major) neurons; one slice runs on one PE.
Its size is bounded by the target's ``max_neurons_per_pe`` and by the PE's SRAM left after the
code/stack reserve: neuron parameters and state, the synaptic rows of every synapse that ends in
the slice, the master population table and row index, MAC program and buffers (see
:mod:`~snnc.backends.spinnaker2.memory`). Slices are multiples of the population's ``block`` so
an input-aware multi-level threshold never needs neurons of another PE.

The table and row-index sizes of a slice depend on how its *source* populations are sliced, so
slicing repeats until the number of slices per population stops changing (the estimate uses the
current source slicing as an upper bound: every source slice may send to every target slice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.backends.spinnaker2.machine import Machine
from snnc.backends.spinnaker2.memory import bss_bytes, image_bytes, program_bytes_bound
from snnc.backends.spinnaker2.network import EventStage, MacStage, Network, Population
from snnc.errors import ResourceError

_MAX_ROUNDS = 32


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


def _synapse_prefix(net: Network, pop: Population) -> np.ndarray:
    """``prefix[j]`` = synapses ending in neurons ``0..j-1`` of ``pop`` (all sources)."""
    counts = np.zeros(pop.size, np.int64)
    stage = net.stages.get(pop.index)
    if isinstance(stage, EventStage):
        for mat in stage.synapses.values():
            counts += np.bincount(mat.cols, minlength=pop.size)
    return np.concatenate(([0], np.cumsum(counts)))


def _has_bias(net: Network, pop: Population) -> bool:
    stage = net.stages.get(pop.index)
    return isinstance(stage, EventStage) and bool(np.any(stage.bias))


def _split(net: Network, pop: Population, machine: Machine,
           slice_counts: dict[int, int]) -> tuple[Slice, ...]:
    stage = net.stages.get(pop.index)
    delay = net.profile.synapse_delay
    entries = rows = 0
    if stage is not None:
        entries = sum(slice_counts[s] for s in stage.sources)
        if isinstance(stage, EventStage):
            rows = sum(net.populations[s].size for s in stage.sources)
    has_bias = _has_bias(net, pop)

    def need(n: int, synapses: int) -> int:
        program = program_bytes_bound(stage, n) if isinstance(stage, MacStage) else 0
        return (image_bytes(pop, n, stage, entries, rows, synapses, has_bias, program)
                + bss_bytes(pop, n, stage, delay))

    block = pop.block
    cap = (machine.max_neurons_per_pe // block) * block
    if cap == 0:
        raise ResourceError(machine.target, "neurons per PE", block, machine.max_neurons_per_pe,
                            f"population '{pop.name}' needs {block} neurons on one PE for its "
                            "input-aware threshold")
    prefix = _synapse_prefix(net, pop)
    ends = np.arange(0, pop.size + 1, block)
    # need(hi - lo, P[hi] - P[lo]) is affine in (hi, P[hi]) and grows with hi: binary search.
    per_neuron = need(1, 0) - need(0, 0)
    base = need(0, 0)
    cost = per_neuron * ends + 4 * prefix[ends]
    slices = []
    lo_i = 0
    while ends[lo_i] < pop.size:
        lo = int(ends[lo_i])
        budget = machine.data_bytes - base + int(cost[lo_i])
        hi_i = int(np.searchsorted(cost, budget, side="right")) - 1
        hi_i = min(hi_i, lo_i + cap // block, ends.size - 1)
        if hi_i <= lo_i:
            first = int(ends[lo_i + 1])
            want = need(first - lo, int(prefix[first] - prefix[lo])) + machine.reserve_bytes
            raise ResourceError(machine.target, "SRAM per PE (bytes)", want,
                                machine.sram_per_pe_bytes,
                                f"population '{pop.name}': {first - lo} neuron(s) with their "
                                "synapses do not fit one PE")
        slices.append(Slice(pop.index, len(slices), lo, int(ends[hi_i])))
        lo_i = hi_i
    return tuple(slices)


def partition(net: Network, machine: Machine) -> Partition:
    """Slices of every population, sized under the neuron cap and the SRAM budget."""
    counts = {p.index: -(-p.size // machine.max_neurons_per_pe) for p in net.populations}
    result: Partition = {}
    for _ in range(_MAX_ROUNDS):
        result = {p.index: _split(net, p, machine, counts) for p in net.populations}
        new = {k: max(counts[k], len(v)) for k, v in result.items()}
        if new == counts:
            return result
        counts = new
    return result

