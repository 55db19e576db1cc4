"""How many bytes of PE SRAM a slice needs: the one size model partitioning and images share.

``image`` bytes are what ``pe_XXX.bin`` holds; ``bss`` bytes are the zero-initialised working
memory the runtime reserves beside it. ``emit`` checks that every image it writes has exactly the
size this model predicts for its content, so partitioning never plans with a wrong figure.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import MappingProxyType

from snnc.backends.spinnaker2.image import (
    MPOP_ENTRY,
    NPRM_ORDER,
    ROW_INDEX_BYTES,
    STAT_ORDER,
    SYNAPSE_BYTES,
    Program,
    ProgramOp,
    elem_bytes,
    encode_program,
    fixed_bytes,
)
from snnc.backends.spinnaker2.network import (
    EventStage,
    MacStage,
    Model,
    Population,
    Stage,
)

WORD = 4
ACCUMULATOR = 8  # MAC scratch tensors hold 64-bit accumulators


def rows_sliced(stage: MacStage) -> bool:
    """A final Dense on a vector is cut to each PE's output rows (its weight rows live only on
    the PE that computes them); any other final op is computed whole on every PE."""
    last = stage.ops[-1]
    return last.opcode == "dense" and len(last.shape) == 1


def program_for(stage: MacStage, lo: int, hi: int) -> Program:
    """The MAC program of the PE holding neurons ``lo..hi-1`` of the stage's population."""
    ops = [ProgramOp(op.opcode, op.inputs, op.shape, op.params, op.tensors,
                     MappingProxyType({k: elem_bytes(t) for k, t in op.tensors.items()}))
           for op in stage.ops]
    sources = tuple(zip(stage.sources, stage.source_shapes, strict=True))
    if not rows_sliced(stage):
        return Program(sources, tuple(ops), lo)
    last = ops[-1]
    cut = {k: t[lo:hi] for k, t in last.tensors.items()}
    ops[-1] = replace(last, shape=(hi - lo,), tensors=MappingProxyType(cut))
    return Program(sources, tuple(ops), 0)


def program_bytes_bound(stage: MacStage, n: int) -> int:
    """Upper bound of ``len(encode_program(program_for(stage, lo, lo + n)))``, affine in ``n``
    (the sliced tensors' padding adds at most 3 bytes each)."""
    whole = len(encode_program(program_for(stage, 0, 0)))
    if not rows_sliced(stage):
        return whole
    last = stage.ops[-1]
    per_row = sum(elem_bytes(t) * (t.size // max(1, t.shape[0])) for t in last.tensors.values())
    return whole + per_row * n + 3 * len(last.tensors)


def scratch_elements(stage: MacStage, n: int) -> int:
    """Elements of all op outputs on a PE holding ``n`` neurons of the stage's population."""
    total = sum(math.prod(op.shape) for op in stage.ops)
    return total - math.prod(stage.ops[-1].shape) + n if rows_sliced(stage) else total


def bss_bytes(pop: Population, n: int, stage: Stage | None, delay: int) -> int:
    """Ring buffer or MAC buffers and scratch, and the one-step output/recording buffer (the
    neuron state lives in the image's STAT section)."""
    output = WORD * n * (2 if pop.records_v else 1)
    slots = delay + 1
    if isinstance(stage, MacStage):
        buffers = slots * WORD * sum(math.prod(s) for s in stage.source_shapes)
        scratch = ACCUMULATOR * scratch_elements(stage, n)
        return output + buffers + scratch
    ring = slots * WORD * n if pop.model != Model.SOURCE else 0
    return output + ring


def section_count(pop: Population, stage: Stage | None, entries: int, has_bias: bool) -> int:
    count = 1  # PARM
    count += 2 * (pop.model in NPRM_ORDER)  # NPRM and STAT
    count += has_bias
    count += entries > 0
    count += isinstance(stage, EventStage) and entries > 0  # SYNS
    count += isinstance(stage, MacStage)
    return count


def image_bytes(pop: Population, n: int, stage: Stage | None, entries: int, rows: int,
                synapses: int, has_bias: bool, program_bytes: int) -> int:
    """Exact size of ``pe_XXX.bin`` for a slice of ``n`` neurons with the given table sizes."""
    size = fixed_bytes(section_count(pop, stage, entries, has_bias))
    size += WORD * len(NPRM_ORDER.get(int(pop.model), ())) * n
    size += WORD * len(STAT_ORDER.get(int(pop.model), ())) * n
    size += WORD * n if has_bias else 0
    size += MPOP_ENTRY.size * entries
    size += ROW_INDEX_BYTES * rows + SYNAPSE_BYTES * synapses
    size += program_bytes
    return size

