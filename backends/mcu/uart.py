"""The host side of the board-in-the-loop harness (``runtime_c/snnc_uart.h``): frames, checksums,
and a whole run of raw inputs through a compiled MCU project flashed on a board (or QEMU).

Inputs are encoded and quantised exactly as ``snnc simulate`` does it (``snnc.reference.encode``
then ``round_clip`` with the scale in the project's ``model.json``), so the probes that come
back compare with the integer reference by ``numpy.array_equal``. The board runs one time step
per request; a reply corrupted on the line makes the host replay the whole sample from a reset
(the model is deterministic), never continue from an unknown state.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import serial

from snnc.backends.mcu.board import MANIFEST, MANIFEST_VERSION
from snnc.errors import BoardError, InputError
from snnc.ir.quantized import round_clip
from snnc.reference.simulate import Trace
from snnc.reference.timing import model_drive

VERSION = 1
SYNC = b"\xa5\x5a"
INFO, RESET, STEP = b"I", b"R", b"S"
INFO_REPLY, RESET_REPLY, STEP_REPLY, ERROR_REPLY = b"i", b"r", b"o", b"e"
MODE_OUTPUT, MODE_PROBES = 0, 1
FLAG_CYCLES = 1
BOARD_ERRORS = {1: "a request arrived with a wrong checksum",
                2: "a request had a wrong payload length",
                3: "a request had an unknown type",
                4: "the model reported an error in snnc_step"}
PROBE_KINDS = {0: "output", 1: "spikes", 2: "v"}
DTYPES = {"int8_t": "<i1", "uint8_t": "<u1", "int16_t": "<i2", "uint16_t": "<u2",
          "int32_t": "<i4", "uint32_t": "<u4"}
DEFAULT_BAUD = 115200
DEFAULT_TIMEOUT_S = 10.0
RETRIES = 3
_MAX_REPLY_BYTES = 1 << 28


class Link(Protocol):
    """What the host needs of a serial port (a ``serial.Serial`` is one)."""

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...


class LineError(Exception):
    """A reply was corrupted on the line (or the board saw a corrupted request): retryable."""


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final xor)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame: sync pair, type, little-endian length, payload, CRC of type..payload."""
    body = kind + struct.pack("<I", len(payload)) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


@dataclass(frozen=True)
class BoardInfo:
    """What the board's info reply says about the model it runs."""

    version: int
    model_id: int
    input_size: int
    input_bytes: int
    timesteps: int
    probes: tuple[tuple[int, int, str], ...]  # (count, element bytes, kind)
    counts_cycles: bool


class Board:
    """Requests and replies over one serial link; every wait is bounded by ``timeout`` s."""

    def __init__(self, link: Link, timeout: float = DEFAULT_TIMEOUT_S, where: str = "board"):
        self.link = link
        self.timeout = timeout
        self.where = where

    def _read(self, size: int, deadline: float) -> bytes:
        data = bytearray()
        while len(data) < size:
            try:
                chunk = self.link.read(size - len(data))
            except (serial.SerialException, OSError) as exc:
                raise BoardError(f"{self.where}: {' '.join(str(exc).split())}") from None
            if chunk:
                data += chunk
            elif time.monotonic() > deadline:
                raise BoardError(
                    f"{self.where} did not answer within {self.timeout:g} s (is the UART image "
                    "flashed and running, and the baud rate the board's?)")
        return bytes(data)

    def _reply(self) -> tuple[bytes, bytes]:
        deadline = time.monotonic() + self.timeout
        previous = b""
        while True:  # hunt for the sync pair: bytes before it are line noise or boot output
            byte = self._read(1, deadline)
            if previous + byte == SYNC:
                break
            previous = byte
        head = self._read(5, deadline)
        kind, length = head[:1], struct.unpack("<I", head[1:])[0]
        if length > _MAX_REPLY_BYTES:
            raise LineError(f"a reply announced {length} bytes")
        payload = self._read(length, deadline)
        (crc,) = struct.unpack("<H", self._read(2, deadline))
        if crc != crc16(head + payload):
            raise LineError("a reply arrived with a wrong checksum")
        if kind == ERROR_REPLY:
            code = payload[0] if payload else 0
            message = BOARD_ERRORS.get(code, f"error code {code}")
            if code in (1, 2, 3):
                raise LineError(message)
            raise BoardError(f"{self.where}: {message}")
        return kind, payload

    def drain(self, quiet_s: float = 0.3) -> None:
        """Discard what is still on the line (the rest of a corrupted exchange) until it has
        been quiet for ``quiet_s``."""
        end = time.monotonic() + quiet_s
        while time.monotonic() < end:
            if self.link.read(4096):
                end = time.monotonic() + quiet_s

    def request(self, kind: bytes, payload: bytes, want: bytes) -> bytes:
        try:
            self.link.write(frame(kind, payload))
        except (serial.SerialException, OSError) as exc:
            raise BoardError(f"{self.where}: {' '.join(str(exc).split())}") from None
        got, reply = self._reply()
        if got != want:
            raise LineError(f"expected a '{want.decode()}' reply, got '{got!r}'")
        return reply

    def info(self) -> BoardInfo:
        reply = self.request(INFO, b"", INFO_REPLY)
        if len(reply) < 28:
            raise LineError("a short info reply")
        version, ident, size, nbytes, steps, count, flags = struct.unpack_from("<7I", reply)
        if len(reply) != 28 + 12 * count:
            raise LineError("an info reply of the wrong length")
        words = struct.unpack_from(f"<{3 * count}I", reply, 28)
        probes = tuple((words[3 * i], words[3 * i + 1], PROBE_KINDS.get(words[3 * i + 2], "?"))
                       for i in range(count))
        return BoardInfo(version, ident, size, nbytes, steps, probes,
                         bool(flags & FLAG_CYCLES))

    def reset(self) -> None:
        status = self.request(RESET, b"", RESET_REPLY)
        if status != b"\x00":
            raise BoardError(f"{self.where}: snnc_init failed (status {status.hex()})")

    def step(self, x: bytes, probes: bool) -> tuple[int, bytes]:
        """One time step: (cycles the board counted, the probe bytes it sent)."""
        mode = MODE_PROBES if probes else MODE_OUTPUT
        reply = self.request(STEP, bytes([mode]) + x, STEP_REPLY)
        if len(reply) < 5:
            raise LineError("a short step reply")
        if reply[0] != 0:
            raise BoardError(f"{self.where}: snnc_step failed (status {reply[0]})")
        (cycles,) = struct.unpack_from("<I", reply, 1)
        return cycles, reply[5:]


@dataclass
class BoardRun:
    """A run on the board: the trace (``simulate`` layout, in model time unless asked for the
    hardware timing) and, when the board counts cycles, the cycles of each inference (sum over
    the steps it ran) and of each step."""

    trace: Trace
    cycles: np.ndarray | None = None  # (batch,) int64
    step_cycles: np.ndarray | None = None  # (steps run, batch) int64
    retries: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.trace.output.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        out = dict(self.trace.arrays())
        if self.cycles is not None and self.step_cycles is not None:
            out["cycles"] = self.cycles
            out["step_cycles"] = self.step_cycles
        return out


def read_manifest(project: Path) -> dict[str, Any]:
    """The project's ``model.json``, with a one-line error if ``project`` is not an MCU
    project snnc wrote."""
    path = Path(project) / MANIFEST
    if not path.is_file():
        raise InputError(f"'{project}' is not a compiled MCU project: it has no {MANIFEST} "
                         "(snnc compile MODEL --target cortex-m4 -o OUT writes OUT/mcu/)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"'{path}' is not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_VERSION:
        raise InputError(f"'{path}' was written by another snnc version; compile again")
    return data


def quantized_drive(manifest: dict[str, Any], x: np.ndarray, steps: int,
                    lag: int = 0) -> np.ndarray:
    """Raw inputs -> the integer drive (steps + lag, batch, input size), as ``snnc simulate``
    encodes and quantises them for this model (:func:`snnc.reference.timing.model_drive`)."""
    spec = manifest["input"]
    shape = tuple(int(d) for d in spec["shape"])
    drive = model_drive(x, steps, lag, str(spec["encoding"]), shape)
    q = round_clip(drive, float(spec["scale"]), int(spec["max"]))
    return q.reshape(q.shape[0], q.shape[1], -1)


def check_board(info: BoardInfo, manifest: dict[str, Any], where: str) -> None:
    """Refuse a board that runs another model or protocol than the project describes."""
    want_id = int(str(manifest["model_id"]), 16)
    if info.version != VERSION:
        raise BoardError(f"{where} speaks harness protocol {info.version}, this snnc {VERSION}")
    if info.model_id != want_id:
        raise BoardError(f"{where} runs another model (id 0x{info.model_id:08x}; this project "
                         f"is 0x{want_id:08x}): flash this project's snnc_uart.elf")
    layout = tuple((int(p["count"]), int(p["elem_bytes"]), str(p["kind"]))
                   for p in manifest["probes"])
    spec = manifest["input"]
    size = int(np.prod(spec["shape"]))
    if (info.input_size, info.input_bytes, info.probes) != (size, int(spec["elem_bytes"]),
                                                              layout):
        raise BoardError(f"{where} reports an input or probe layout this project does not have")


def _trace(manifest: dict[str, Any], rows: list[list[bytes]], probes: bool,
           batch: int, steps: int, hardware_timing: bool, model_steps: int) -> Trace:
    """Step replies (per sample, per step) -> a Trace of int64 (steps, batch, *shape); in
    model time each probe is cut from its latency on (``model.json``)."""
    specs = manifest["probes"] if probes else manifest["probes"][:1]
    record = np.dtype([(f"p{i}", DTYPES[p["ctype"]], (int(p["count"]),))
                       for i, p in enumerate(specs)])
    data = b"".join(b"".join(sample) for sample in rows)
    if len(data) != record.itemsize * batch * steps:
        raise BoardError("the board sent probe data of the wrong size")
    table = np.frombuffer(data, dtype=record).reshape(batch, steps)
    values = []
    for i, p in enumerate(specs):
        arr = np.swapaxes(table[f"p{i}"], 0, 1).astype(np.int64).reshape(steps, batch,
                                                                          *p["shape"])
        lag = 0 if hardware_timing else int(p.get("latency", 0))
        values.append(arr[lag:lag + model_steps])
    spikes = {p["layer"]: values[i] for i, p in enumerate(specs) if p["kind"] == "spikes"}
    membranes = {p["layer"]: values[i] for i, p in enumerate(specs) if p["kind"] == "v"}
    return Trace(output=values[0], spikes=spikes, v=membranes,
                 latency=int(manifest.get("latency", 0)), hardware_timing=hardware_timing)


Progress = Callable[[int, int], None] | None


def _info(board: Board) -> BoardInfo:
    """The board's info reply, asked again after a line error (nothing has run yet)."""
    for _ in range(RETRIES):
        try:
            return board.info()
        except LineError:
            board.drain()
    try:
        return board.info()
    except LineError as exc:
        raise BoardError(f"{board.where}: {exc} (check the cable and the baud rate)") from None


def run_on_board(board: Board, manifest: dict[str, Any], x: np.ndarray,
                 steps: int | None = None, probes: bool = True,
                 progress: Progress = None, hardware_timing: bool = False) -> BoardRun:
    """Stream every sample of raw inputs ``x`` through the board, ``steps`` model steps each
    (default: the model's; plus the target's latency unless ``hardware_timing``), and collect
    the trace; ``progress(done, batch)`` after every sample."""
    model_steps = steps or int(manifest["timesteps"])
    lag = 0 if hardware_timing else int(manifest.get("latency", 0))
    drive = quantized_drive(manifest, x, model_steps, lag)
    steps = drive.shape[0]
    dtype = np.dtype(DTYPES[manifest["input"]["ctype"]])
    batch = drive.shape[1]
    info = _info(board)
    check_board(info, manifest, board.where)
    rows: list[list[bytes]] = []
    cycles = np.zeros((steps, batch), dtype=np.int64)
    retries = 0
    for b in range(batch):
        for attempt in range(RETRIES + 1):
            try:
                sample = []
                board.reset()
                for t in range(steps):
                    spent, data = board.step(drive[t, b].astype(dtype).tobytes(), probes)
                    cycles[t, b] = spent
                    sample.append(data)
                break
            except LineError as exc:
                if attempt == RETRIES:
                    raise BoardError(f"{board.where}: {exc}, {RETRIES} retries of sample {b} "
                                     "failed too (check the cable and the baud rate)") from None
                retries += 1
                board.drain()
        rows.append(sample)
        if progress is not None:
            progress(b + 1, batch)
    trace = _trace(manifest, rows, probes, batch, steps, hardware_timing, model_steps)
    counted = info.counts_cycles
    return BoardRun(trace, cycles.sum(axis=0) if counted else None,
                    cycles if counted else None, retries,
                    {"model_id": f"0x{info.model_id:08x}", "timesteps": info.timesteps})


def open_port(url: str, baud: int = DEFAULT_BAUD) -> Any:
    """A pyserial port for a device path (``/dev/ttyACM0``, ``COM3``) or URL
    (``socket://127.0.0.1:4444``, ``rfc2217://...``)."""
    try:
        return serial.serial_for_url(url, baudrate=baud, timeout=0.2)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise BoardError(f"cannot open '{url}': {' '.join(str(exc).split())}") from None


def run_project(project: Path, x: np.ndarray, url: str, steps: int | None = None,
                probes: bool = True, baud: int = DEFAULT_BAUD,
                timeout: float = DEFAULT_TIMEOUT_S, progress: Progress = None,
                hardware_timing: bool = False) -> BoardRun:
    """``snnc run``: drive the board at ``url`` flashed with ``project``'s UART image."""
    manifest = read_manifest(project)
    quantized_drive(manifest, x, steps or int(manifest["timesteps"]))  # bad input: before I/O
    port = open_port(url, baud)
    try:
        return run_on_board(Board(port, timeout, f"the board at {url}"), manifest, x,
                            steps, probes, progress, hardware_timing)
    finally:
        port.close()
