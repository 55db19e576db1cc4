"""How many bytes of PE SRAM a slice needs: the one size model partitioning and images share.

``image`` bytes are what ``pe_XXX.bin`` holds; ``bss`` bytes are the zero-initialised working
memory the runtime reserves beside it. ``emit`` checks that every image it writes has exactly the
size this model predicts for its content, so partitioning never plans with a wrong figure.
"""

from __future__ import annotations

import math

from snnc.backends.spinnaker2.image import (
    MPOP_ENTRY,
    NPRM_ORDER,
    ROW_INDEX_BYTES,
    SYNAPSE_BYTES,
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


def program_of(stage: MacStage) -> bytes:
    """The serialised MAC program (identical on every slice of the stage's population)."""
    from snnc.backends.spinnaker2.image import Program, ProgramOp

    return encode_program(Program(
        tuple(zip(stage.sources, stage.source_shapes, strict=True)),
        tuple(ProgramOp(op.opcode, op.inputs, op.shape, op.params, op.tensors)
              for op in stage.ops)))


def bss_bytes(pop: Population, n: int, stage: Stage | None, delay: int) -> int:
    """Neuron state, ring buffer or MAC buffers, and the one-step output/recording buffer."""
    state = {Model.LIF: 1, Model.CUBA: 2}.get(pop.model, 0) * WORD * n
    output = WORD * n * (2 if pop.records_v else 1)
    slots = delay + 1
    if isinstance(stage, MacStage):
        buffers = slots * WORD * sum(math.prod(s) for s in stage.source_shapes)
        scratch = ACCUMULATOR * sum(math.prod(op.shape) for op in stage.ops)
        return state + output + buffers + scratch
    ring = slots * WORD * n if pop.model != Model.SOURCE else 0
    return state + output + ring


def section_count(pop: Population, stage: Stage | None, entries: int, has_bias: bool) -> int:
    count = 1  # PARM
    count += pop.model in NPRM_ORDER
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
    size += WORD * n if has_bias else 0
    size += MPOP_ENTRY.size * entries
    size += ROW_INDEX_BYTES * rows + SYNAPSE_BYTES * synapses
    size += program_bytes
    return size

