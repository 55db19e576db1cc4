"""Memory planning of the MCU program.

Values that live only within a step share a typed static arena (one per element type, so no
pointer ever aliases another type) packed by live ranges; neuron states and rings are separate
static arrays that ``snnc_init`` clears.
"""

from __future__ import annotations

from snnc.backends.mcu.program import Buffer, Program, View
from snnc.backends.mcu.ranges import U16, VALUE_TYPES


def _live_ranges(prog: Program) -> None:
    """First and last call index touching each arena buffer (probes keep theirs to the end)."""
    end = len(prog.calls) + len(prog.tail)
    for i, call in enumerate([*prog.calls, *prog.tail]):
        for arg in call.args:
            if isinstance(arg, View) and arg.buffer.kind == "arena":
                buf = arg.buffer
                buf.first = i if buf.first < 0 else min(buf.first, i)
                buf.last = max(buf.last, i)
    for probe in prog.probes:
        probe.view.buffer.last = end
    for buf in prog.buffers:
        if buf.keep:
            buf.last = end


def pack(buffers: list[Buffer]) -> int:
    """Place buffers in one array so that no two with overlapping live ranges overlap in memory
    (largest first, lowest free offset); returns the array length in elements."""
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.key)):
        clashes = sorted((p for p in placed if p.first <= buf.last and buf.first <= p.last),
                         key=lambda p: p.offset)
        offset = 0
        for other in clashes:
            if offset + buf.size <= other.offset:
                break
            offset = max(offset, other.offset + other.size)
        buf.offset = offset
        placed.append(buf)
    return max((b.offset + b.size for b in placed), default=0)


def plan_memory(prog: Program) -> None:
    _live_ranges(prog)
    used = [b for b in prog.buffers if b.kind == "arena" and b.first >= 0]
    prog.buffers = [b for b in prog.buffers if b.kind != "arena" or b.first >= 0]
    for ct in (*VALUE_TYPES, U16):
        size = pack([b for b in used if b.ctype is ct])
        if size:
            prog.arena_sizes[ct.suffix] = size

