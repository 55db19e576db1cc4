"""The ``pe_XXX.bin`` memory image of one processing element: writer, reader and size model.

All integers are little-endian; every section starts on a 4-byte boundary. The layout is
documented in ``docs/targets/spinnaker2.md``; in short::

    header   48 bytes  magic "S2PE", version, section count, PE id, chip x/y, core, population,
                       first neuron, neuron count, routing key and mask, flags, bss bytes
    table    12 bytes per section: tag, offset, size
    PARM     64 bytes  neuron model and numeric profile constants
    NPRM     int32 per-neuron parameter arrays (LIF: dv vth bias; CUBA: du dv vth bias)
    STAT     int32 initial neuron state (LIF: v; CUBA: u v), updated in place at run time
    BIAS     int32 constant synaptic input per neuron (event stages with a bias)
    MPOP     master population table: 16 bytes per entry (key, mask, kind, arg, address)
    SYNS     synaptic blocks: per block, a row index (word offset, length) per source neuron
             followed by 32-bit synapse words (int16 weight << 16 | uint16 target neuron)
    MACP     MAC program (source buffers and layer ops with their int tensors)

``bss`` is the zero-initialised working memory the runtime reserves next to the image (ring
buffers, MAC input buffers and scratch, the output/recording buffer); the PE's SRAM
use is ``image bytes + bss bytes`` plus the code/stack reserve of the target file.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from snnc.errors import EmitError

MAGIC = b"S2PE"
VERSION = 1
HEADER = struct.Struct("<4sHHIBBHIIIIIIII")
SECTION = struct.Struct("<4sII")
PARM = struct.Struct("<16BiIIiIIiIBBHI8x")
MPOP_ENTRY = struct.Struct("<IIHHI")
ROW_INDEX_BYTES = 8
SYNAPSE_BYTES = 4

# Header flags.
HAS_KEY = 1 << 0
PAYLOAD = 1 << 1
RECORD_SPIKES = 1 << 2
RECORD_V = 1 << 3
RECORD_VALUE = 1 << 4
MAC_STAGE = 1 << 5
INJECT = 1 << 6

# Master population table entry kinds.
KIND_ROWS = 0     # address = byte offset of a synaptic block in SYNS, arg = rows in the block
KIND_BUFFER = 1   # address = element offset in MAC input buffer ``arg``

NPRM_ORDER = {1: ("dv", "vth", "bias"), 2: ("du", "dv", "vth", "bias")}
STAT_ORDER = {1: ("v",), 2: ("u", "v")}
OPCODES = ("dense", "conv", "maxpool", "sumpool", "reshape", "add", "attention")
PARAM_NAMES = ("stride", "padding", "dilation", "groups", "kernel", "heads", "mask_frac_bits")
TENSOR_NAMES = ("weight", "bias", "mask")


class MpopEntry(NamedTuple):
    """One master-population entry (a tuple: a PE has one per source slice it hears)."""

    key: int
    mask: int
    kind: int
    arg: int
    address: int


@dataclass(frozen=True, eq=False)
class SynapticBlock:
    """Rows of one source slice: row ``i`` holds ``words[offsets[i]:offsets[i]+lengths[i]]``."""

    offsets: np.ndarray
    lengths: np.ndarray
    words: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.offsets.size * ROW_INDEX_BYTES + self.words.size * SYNAPSE_BYTES


@dataclass(frozen=True, eq=False)
class ProgramOp:
    """One op; ``widths`` fixes a tensor's element bytes (default: the smallest that fits), so
    every PE's row slice of one layer uses the same storage width."""

    opcode: str
    inputs: tuple[int, ...]
    shape: tuple[int, ...]
    params: Mapping[str, tuple[int, ...]]
    tensors: Mapping[str, np.ndarray]
    widths: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, eq=False)
class Program:
    """Source buffers (population, shape), the ops that compute the stage output, and where
    this PE's neurons start in the final op's flattened output (0 when the final op was cut to
    the PE's rows)."""

    sources: tuple[tuple[int, tuple[int, ...]], ...]
    ops: tuple[ProgramOp, ...]
    out_lo: int = 0


@dataclass(frozen=True, eq=False)
class PeImage:
    """Everything a ``pe_XXX.bin`` holds (what the runtime on the PE reads)."""

    pe_id: int
    chip: tuple[int, int]
    core: int
    population: int
    lo: int
    n: int
    key: int
    mask: int
    flags: int
    bss_bytes: int
    parm: Mapping[str, int]
    nprm: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    state: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    bias: np.ndarray | None = None
    mpop: tuple[MpopEntry, ...] = ()
    blocks: tuple[SynapticBlock, ...] = ()
    program: Program | None = None


PARM_FIELDS = ("model", "reset", "timing", "compare", "decay_bits", "rounding", "v_overflow",
               "u_overflow", "state_bits", "current_bits", "input_shift", "threshold_shift",
               "alpha_frac_bits", "synapse_delay", "adaptive", "lif_current_register",
               "current_decay_offset", "levels", "vth", "alpha_mant", "group_len",
               "group_inner", "inject_population", "inject_offset", "phase", "once", "steps",
               "bias_on")


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def elem_bytes(a: np.ndarray) -> int:
    if a.size == 0:
        return 1
    lo, hi = int(a.min()), int(a.max())
    for width in (1, 2, 4):
        if -(1 << (8 * width - 1)) <= lo and hi < (1 << (8 * width - 1)):
            return width
    return 8


def _u32s(values: list[int] | tuple[int, ...]) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def encode_program(program: Program) -> bytes:
    out = [_u32s([len(program.sources), len(program.ops), program.out_lo])]
    for pop, shape in program.sources:
        out.append(_u32s([pop, len(shape), *shape]))
    for op in program.ops:
        out.append(_u32s([OPCODES.index(op.opcode), len(op.inputs), *op.inputs,
                          len(op.shape), *op.shape, len(op.params)]))
        for name in sorted(op.params, key=PARAM_NAMES.index):
            values = op.params[name]
            out.append(_u32s([PARAM_NAMES.index(name), len(values)]))
            out.append(struct.pack(f"<{len(values)}i", *values))
        out.append(_u32s([len(op.tensors)]))
        for name in sorted(op.tensors, key=TENSOR_NAMES.index):
            t = np.asarray(op.tensors[name], np.int64)
            width = op.widths.get(name, elem_bytes(t))
            if width < elem_bytes(t):
                raise EmitError(f"MAC tensor '{name}' does not fit {width}-byte elements")
            out.append(_u32s([TENSOR_NAMES.index(name), width, t.ndim, *t.shape]))
            out.append(_pad4(t.astype(f"<i{width}").tobytes()))
    return b"".join(out)


def _syns(blocks: Sequence[SynapticBlock]) -> bytes:
    """The SYNS section: per block its (offset, length) row index, then its words, as
    little-endian u32. Filled by one scatter over all blocks, as a PE hears hundreds."""
    rows = np.array([b.offsets.size for b in blocks], np.int64)
    words = np.array([b.words.size for b in blocks], np.int64)
    starts = np.cumsum(2 * rows + words) - (2 * rows + words)  # each block's first u32
    out = np.empty(int((2 * rows + words).sum()), "<u4")
    row_at = np.repeat(starts - 2 * (np.cumsum(rows) - rows), rows)
    row_at += 2 * np.arange(row_at.size)
    out[row_at] = np.concatenate([b.offsets for b in blocks])
    out[row_at + 1] = np.concatenate([b.lengths for b in blocks])
    word_at = np.repeat(starts + 2 * rows - (np.cumsum(words) - words), words)
    word_at += np.arange(word_at.size)
    out[word_at] = np.concatenate([np.asarray(b.words, "<u4") for b in blocks])
    return out.tobytes()


def encode_image(image: PeImage) -> bytes:
    """Serialise ``image``; byte-identical for identical content."""
    sections: list[tuple[bytes, bytes]] = []
    parm = [int(image.parm.get(name, 0)) for name in PARM_FIELDS]
    sections.append((b"PARM", PARM.pack(*parm)))
    model = int(image.parm["model"])
    if model in NPRM_ORDER:
        arrays = [np.asarray(image.nprm[name], "<i4") for name in NPRM_ORDER[model]]
        sections.append((b"NPRM", b"".join(a.tobytes() for a in arrays)))
    if model in STAT_ORDER:
        arrays = [np.asarray(image.state[name], "<i4") for name in STAT_ORDER[model]]
        sections.append((b"STAT", b"".join(a.tobytes() for a in arrays)))
    if image.bias is not None:
        sections.append((b"BIAS", np.asarray(image.bias, "<i4").tobytes()))
    if image.mpop:
        pack = MPOP_ENTRY.pack
        sections.append((b"MPOP", b"".join([pack(*e) for e in image.mpop])))
    if image.blocks:
        sections.append((b"SYNS", _syns(image.blocks)))
    if image.program is not None:
        sections.append((b"MACP", encode_program(image.program)))
    offset = HEADER.size + SECTION.size * len(sections)
    table = []
    for tag, data in sections:
        table.append(SECTION.pack(tag, offset, len(data)))
        offset += len(data)
    header = HEADER.pack(MAGIC, VERSION, len(sections), image.pe_id, image.chip[0],
                         image.chip[1], image.core, image.population, image.lo, image.n,
                         image.key, image.mask, image.flags, image.bss_bytes, 0)
    return header + b"".join(table) + b"".join(data for _, data in sections)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u32s(self, count: int) -> tuple[int, ...]:
        values = struct.unpack_from(f"<{count}I", self.data, self.pos)
        self.pos += 4 * count
        return values

    def u32(self) -> int:
        return self.u32s(1)[0]

    def i32s(self, count: int) -> tuple[int, ...]:
        values = struct.unpack_from(f"<{count}i", self.data, self.pos)
        self.pos += 4 * count
        return values

    def array(self, width: int, shape: tuple[int, ...]) -> np.ndarray:
        count = math.prod(shape)
        arr = np.frombuffer(self.data, f"<i{width}", count, self.pos).astype(np.int64)
        self.pos += count * width + (-(count * width) % 4)
        return arr.reshape(shape)


def decode_program(data: bytes) -> Program:
    r = _Reader(data)
    n_sources, n_ops, out_lo = r.u32s(3)
    sources = []
    for _ in range(n_sources):
        pop, ndim = r.u32s(2)
        sources.append((pop, r.u32s(ndim)))
    ops = []
    for _ in range(n_ops):
        opcode, n_in = r.u32s(2)
        inputs = r.u32s(n_in)
        shape = r.u32s(r.u32())
        params = {}
        for _ in range(r.u32()):
            name, count = r.u32s(2)
            params[PARAM_NAMES[name]] = r.i32s(count)
        tensors, widths = {}, {}
        for _ in range(r.u32()):
            name, width, ndim = r.u32s(3)
            tensors[TENSOR_NAMES[name]] = r.array(width, r.u32s(ndim))
            widths[TENSOR_NAMES[name]] = width
        ops.append(ProgramOp(OPCODES[opcode], inputs, shape, MappingProxyType(params),
                             MappingProxyType(tensors), MappingProxyType(widths)))
    return Program(tuple(sources), tuple(ops), out_lo)


def _blocks(data: bytes, mpop: tuple[MpopEntry, ...]) -> tuple[SynapticBlock, ...]:
    blocks = []
    for entry in mpop:
        if entry.kind != KIND_ROWS:
            continue
        index = np.frombuffer(data, "<u4", 2 * entry.arg, entry.address).reshape(-1, 2)
        offsets, lengths = index[:, 0].astype(np.int64), index[:, 1].astype(np.int64)
        n_words = int((offsets + lengths).max(initial=0))
        start = entry.address + ROW_INDEX_BYTES * entry.arg
        words = np.frombuffer(data, "<u4", n_words, start).astype(np.int64)
        blocks.append(SynapticBlock(offsets, lengths, words))
    return tuple(blocks)


def decode_image(data: bytes) -> PeImage:
    """Parse a ``pe_XXX.bin``; a malformed file raises :class:`EmitError`."""
    if len(data) < HEADER.size or data[:4] != MAGIC:
        raise EmitError("not a SpiNNaker 2 PE image (bad magic)")
    (_, version, n_sections, pe_id, cx, cy, core, pop, lo, n, key, mask, flags, bss,
     _) = HEADER.unpack_from(data)
    if version != VERSION:
        raise EmitError(f"PE image version {version} is not supported (expected {VERSION})")
    sections: dict[bytes, bytes] = {}
    for i in range(n_sections):
        tag, offset, size = SECTION.unpack_from(data, HEADER.size + i * SECTION.size)
        if offset + size > len(data):
            raise EmitError(f"PE image section {tag!r} runs past the end of the file")
        sections[tag] = data[offset:offset + size]
    parm = dict(zip(PARM_FIELDS, PARM.unpack(sections[b"PARM"]), strict=True))
    model = parm["model"]
    nprm = {}
    if model in NPRM_ORDER:
        raw = np.frombuffer(sections[b"NPRM"], "<i4").astype(np.int64).reshape(-1, n)
        nprm = dict(zip(NPRM_ORDER[model], raw, strict=True))
    state = {}
    if model in STAT_ORDER:
        raw = np.frombuffer(sections[b"STAT"], "<i4").astype(np.int64).reshape(-1, n)
        state = dict(zip(STAT_ORDER[model], raw, strict=True))
    bias = None
    if b"BIAS" in sections:
        bias = np.frombuffer(sections[b"BIAS"], "<i4").astype(np.int64)
    mpop = tuple(MpopEntry(*MPOP_ENTRY.unpack_from(sections[b"MPOP"], i * MPOP_ENTRY.size))
                 for i in range(len(sections.get(b"MPOP", b"")) // MPOP_ENTRY.size))
    blocks = _blocks(sections.get(b"SYNS", b""), mpop)
    program = decode_program(sections[b"MACP"]) if b"MACP" in sections else None
    return PeImage(pe_id, (cx, cy), core, pop, lo, n, key, mask, flags, bss,
                   MappingProxyType(parm), MappingProxyType(nprm), MappingProxyType(state), bias,
                   mpop, blocks, program)


def fixed_bytes(n_sections: int) -> int:
    return HEADER.size + SECTION.size * n_sections + PARM.size
