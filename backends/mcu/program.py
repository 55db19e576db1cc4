"""The lowered C program of the MCU backend: buffers, views, calls, constants and probes.

:func:`snnc.backends.mcu.lower.lower` builds it, :mod:`snnc.backends.mcu.memory` places its
arena buffers, ``emit`` renders it and ``simulate`` reads its probe layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from snnc.backends.mcu.ranges import CTYPES, CType, Range
from snnc.ir.quantized import NumericProfile


@dataclass(eq=False)
class Buffer:
    """Storage of one tensor. ``kind``: ``input`` (the step's argument), ``arena`` (lives within a
    step, placed by the memory planner), ``state`` (membranes, currents) or ``ring`` (``depth``
    past values of a source read late). ``first``/``last`` are the indices of the calls that
    touch an arena buffer; ``keep`` pins it until the end of the step (probes, the output)."""

    key: str
    ctype: CType
    size: int
    kind: str
    depth: int = 1
    keep: bool = False
    first: int = -1
    last: int = -1
    offset: int = 0


@dataclass(frozen=True)
class View:
    """A pointer a kernel receives: a buffer, or for rings the slot ``lag`` steps back."""

    buffer: Buffer
    lag: int = 0


@dataclass(frozen=True)
class Tensor:
    """A value of the program: where it is, its per-sample shape, its range, and whether it is
    made of spikes/levels (so event-driven kernels pay off)."""

    view: View
    shape: tuple[int, ...]
    rng: Range
    spiking: bool

    @property
    def ctype(self) -> CType:
        return self.view.buffer.ctype

    @property
    def size(self) -> int:
        return math.prod(self.shape)


Arg = str | View


@dataclass(frozen=True)
class Call:
    """One runtime call; ``result`` names a local that receives its value. ``segment`` says
    when it runs (:func:`segment`): 0 is ``snnc_step``, the others ``snnc_finish``."""

    layer: str
    fn: str
    args: tuple[Arg, ...]
    result: str | None = None
    segment: int = 0


def segment(phase: int, once: bool) -> int:
    """Calls of phase ``phase`` run every step (even segment) or once after its steps (odd):
    the schedule of ``snnc.reference.mapped.phases``."""
    return 2 * phase + int(once)


@dataclass(frozen=True)
class ConstArray:
    """Constant data placed in flash (``weights.c``)."""

    name: str
    ctype: CType
    values: np.ndarray
    word_aligned: bool = False  # read with word loads (LDRD) that need a 4-byte address

    @property
    def nbytes(self) -> int:
        return int(self.values.size) * self.ctype.bytes


@dataclass(frozen=True)
class ConstStruct:
    """A constant parameter struct of one layer (``model.c``); fields are C expressions."""

    name: str
    ctype: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Probe:
    """A value the test harness streams out after every step."""

    name: str
    kind: str  # output | spikes | v
    layer: str
    view: View
    shape: tuple[int, ...]
    phase: int = 0
    once: bool = False  # written once after the phase's steps (a QNN level), not every step

    @property
    def ctype(self) -> CType:
        return self.view.buffer.ctype


@dataclass(frozen=True)
class LayerInfo:
    """What the lowering decided for one layer (for comments, memory.json and the docs)."""

    name: str
    ident: str
    kind: str
    kernel: str
    out_type: str
    detail: str = ""
    weight_bytes: int = 0


@dataclass
class Program:
    """The lowered model; ``emit`` renders it, ``simulate`` reads its probe layout."""

    name: str
    profile: NumericProfile
    input: Tensor
    output: Tensor
    input_scale: float
    input_max: int
    timesteps: int
    calls: list[Call] = field(default_factory=list)
    tail: list[Call] = field(default_factory=list)
    arrays: list[ConstArray] = field(default_factory=list)
    structs: list[ConstStruct] = field(default_factory=list)
    buffers: list[Buffer] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    layers: list[LayerInfo] = field(default_factory=list)
    ring_period: int = 1
    arena_sizes: dict[str, int] = field(default_factory=dict)
    segments: int = 1  # 1: every call runs in snnc_step (no QNN stage)
    output_once: bool = False  # the output is a QNN level, produced by snnc_finish
    bias_wait: int = 0  # latest bias onset (step) of a biased layer; model.c counts up to it

    @property
    def phases(self) -> int:
        return (self.segments + 1) // 2

    def segment_calls(self, index: int) -> list[Call]:
        return [c for c in self.calls if c.segment == index]

    @property
    def functions(self) -> list[str]:
        return sorted({c.fn for c in [*self.calls, *self.tail]})

    @property
    def flash_data_bytes(self) -> int:
        return sum(a.nbytes for a in self.arrays)

    @property
    def arena_bytes(self) -> int:
        return sum(n * CTYPES[s].bytes for s, n in self.arena_sizes.items())

    @property
    def control_bytes(self) -> int:
        """model.c's scalar statics on a 32-bit core: the observer and its context, the step
        counter of a mixed schedule, the delay-line step counter, the bias-onset counter."""
        return (8 + 4 * int(self.segments > 1) + 4 * int(self.ring_period > 1)
                + 4 * int(self.bias_wait > 0))

    @property
    def state_bytes(self) -> int:
        return sum(b.size * b.depth * b.ctype.bytes for b in self.buffers
                   if b.kind in ("state", "ring"))
