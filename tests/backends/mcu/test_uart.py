"""The board-in-the-loop harness: frames and checksums on the host side, and whole runs over a
UART under QEMU (`make uart-elf`, `make qemu-uart PORT=N`, then `snnc run`), bit for bit equal
to the integer reference, with cycles counted and corrupted replies recovered from.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from testkit.mcu_helpers import assert_same_trace, prepare, variant_target
from testkit.mcu_netgen import make_case
from typer.testing import CliRunner

from snnc import api
from snnc.backends.mcu.emit import emit
from snnc.backends.mcu.uart import (
    BOARD_ERRORS,
    SYNC,
    Board,
    BoardInfo,
    LineError,
    check_board,
    crc16,
    frame,
    open_port,
    read_manifest,
    run_on_board,
)
from snnc.cli import app
from snnc.errors import BoardError, InputError
from snnc.reference.integer import latency, run_quantized
from snnc.reference.timing import model_drive, to_model_time
from snnc.target import load_target

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1


def test_a_frame_carries_length_and_checksum():
    data = frame(b"S", b"\x01\x02")
    assert data[:2] == SYNC
    assert data[2:3] == b"S"
    assert struct.unpack("<I", data[3:7]) == (2,)
    assert struct.unpack("<H", data[-2:]) == (crc16(data[2:-2]),)


class _Replies:
    """A link that answers each request with prepared bytes (for host-side checks)."""

    def __init__(self, *replies: bytes) -> None:
        self.pending = list(replies)
        self.buffer = b""

    def write(self, data: bytes) -> int:
        self.buffer += self.pending.pop(0) if self.pending else b""
        return len(data)

    def read(self, size: int = 1) -> bytes:
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def test_a_silent_board_is_one_clear_error():
    board = Board(_Replies(), timeout=0.3, where="the board at socket://x")
    with pytest.raises(BoardError, match=r"did not answer within 0\.3 s"):
        board.info()


def test_noise_before_a_reply_is_skipped():
    board = Board(_Replies(b"boot banner\r\n" + frame(b"r", b"\x00")), timeout=1.0)
    board.reset()


def _manifest() -> dict:
    return {"model_id": "0x0000abcd", "input": {"shape": [4], "elem_bytes": 1},
            "probes": [{"count": 2, "elem_bytes": 1, "kind": "output"}]}


def test_a_board_with_another_model_is_refused():
    info = BoardInfo(1, 0x1234, 4, 1, 8, ((2, 1, "output"),), True)
    with pytest.raises(BoardError, match="runs another model"):
        check_board(info, _manifest(), "the board")
    check_board(BoardInfo(1, 0xABCD, 4, 1, 8, ((2, 1, "output"),), True), _manifest(), "b")


def test_a_folder_without_model_json_is_not_a_project(tmp_path):
    with pytest.raises(InputError, match="not a compiled MCU project"):
        read_manifest(tmp_path)


def test_run_refuses_a_folder_that_is_not_a_project(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    result = CliRunner().invoke(app, ["run", str(tmp_path), "--port", "socket://127.0.0.1:1",
                                      "-i", str(tmp_path / "x.npy")])
    assert result.exit_code == 2
    assert "not a compiled MCU project" in result.output
    assert not list(tmp_path.glob("*.npz"))


def _project(tmp_path: Path) -> Path:
    """A project folder with only its manifest (4 direct-coded inputs): enough for ``snnc run``
    to check the input before it opens the port."""
    project = tmp_path / "mcu"
    project.mkdir()
    (project / "model.json").write_text(json.dumps({"format": 1, "timesteps": 4, **_manifest(),
                                                    "input": {"shape": [4], "elem_bytes": 1,
                                                              "encoding": "direct",
                                                              "scale": 0.1, "max": 127}}))
    return project


def test_run_checks_the_input_shape_before_touching_the_port(tmp_path):
    project = _project(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((1, 5), np.float32))
    result = CliRunner().invoke(app, ["run", str(project), "--port", "/dev/snnc-no-such-port",
                                      "-i", str(tmp_path / "x.npy")])
    assert result.exit_code == 2
    assert result.output.startswith("error: input shape (1, 5) fits neither")


def test_run_with_nobody_listening_is_one_error_line(tmp_path):
    project = _project(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    result = CliRunner().invoke(app, ["run", str(project), "--port",
                                      f"socket://127.0.0.1:{_free_port()}", "-i",
                                      str(tmp_path / "x.npy"), "-o", str(tmp_path / "o.npz")])
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot open 'socket://127.0.0.1:")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o.npz").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def qemu_uart(project: Path) -> Iterator[str]:
    """`make uart-elf`, then `make qemu-uart PORT=N` in the background; yields the pyserial URL
    and stops that QEMU (its own process group) afterwards."""
    subprocess.run(["make", "-s", "-j2", "uart-elf"], cwd=project, check=True,
                   capture_output=True, timeout=300)
    port = _free_port()
    proc = subprocess.Popen(["make", "-s", "qemu-uart", f"PORT={port}"], cwd=project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:  # QEMU listens once it has started
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    pass
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield f"socket://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


class _CorruptOneByte:
    """Wraps a port and flips one bit of the ``at``-th byte received: one line error."""

    def __init__(self, port, at: int) -> None:
        self.port = port
        self.at = at
        self.seen = 0

    def write(self, data: bytes) -> int | None:
        return self.port.write(data)

    def read(self, size: int = 1) -> bytes:
        data = bytearray(self.port.read(size))
        if self.seen < self.at <= self.seen + len(data):
            data[self.at - self.seen - 1] ^= 0x10
        self.seen += len(data)
        return bytes(data)


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_digits_over_the_uart_equal_the_integer_reference(tmp_path):
    """The digits example: snnc compile, the UART image under QEMU on Cortex-M4, `snnc run`;
    every probe equals the integer reference; latency per inference is in the .npz."""
    graph = api.load(EXAMPLES / "digits" / "digits.onnx")
    x = np.load(EXAMPLES / "digits" / "test_x.npy")[:3]
    api.compile(graph, "cortex-m4", tmp_path / "out")
    project = tmp_path / "out" / "mcu"
    np.save(tmp_path / "x.npy", x)
    want = api.simulate(graph, x, target="cortex-m4", backend="reference")
    with qemu_uart(project) as url:
        result = CliRunner().invoke(app, ["run", str(project), "--port", url, "-i",
                                          str(tmp_path / "x.npy"), "-o", str(tmp_path / "b.npz")])
    assert result.exit_code == 0, result.output
    assert "cycles" in result.output
    got = np.load(tmp_path / "b.npz")
    assert sorted(got.files) == sorted([*want.arrays(), "cycles", "step_cycles"])
    for key, value in want.arrays().items():
        assert np.array_equal(got[key], value), key
    assert got["cycles"].shape == (3,) and np.all(got["cycles"] > 0)
    assert np.array_equal(got["cycles"], got["step_cycles"].sum(axis=0))


def _board_refuses_malformed_requests(board: Board) -> None:
    """A wrong checksum, an unknown type and a wrong length each get an error reply with its
    code, and the board answers the next good request."""
    good = frame(b"R")
    bad_crc = good[:-1] + bytes([good[-1] ^ 0xFF])
    for sent, code in ((bad_crc, 1), (frame(b"R", b"\x00"), 2), (frame(b"Q"), 3)):
        board.link.write(b"noise" + sent)
        with pytest.raises(LineError, match=BOARD_ERRORS[code]):
            board._reply()
    board.reset()


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_cortex_m55_board_recovers_from_a_corrupted_reply(tmp_path):
    """A direct-coded recurrent net on the MPS3 AN547 (Cortex-M55): one reply corrupted on the
    line makes the host replay that sample; the result is still exact."""
    target = load_target("cortex-m55")
    case = make_case("recurrent", 7, batch=2)
    qg, drive = prepare(case.graph, case.inputs, case.steps, target)
    emit(qg, target, tmp_path / "mcu", measure=False)
    manifest = json.loads((tmp_path / "mcu" / "model.json").read_text())
    with qemu_uart(tmp_path / "mcu") as url:
        port = open_port(url)
        try:
            _board_refuses_malformed_requests(Board(port, timeout=20, where=url))
            # past the info reply and the first reset: inside a step reply of sample 0
            board = Board(_CorruptOneByte(port, 300), timeout=20, where=url)
            got = run_on_board(board, manifest, case.inputs, case.steps)
        finally:
            port.close()
    assert got.retries == 1
    assert_same_trace(got.trace, run_quantized(qg, drive))


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
def test_a_delayed_profile_comes_back_in_model_time(tmp_path):
    """A profile whose synapses deliver two steps late: snnc run adds the latency's steps and
    cuts every probe from its own latency, as snnc simulate does; --hardware-timing keeps
    the raw steps."""
    target = variant_target("m4-delay", synapse_delay=2)
    case = make_case("dense", 4, batch=2)
    qg, drive = prepare(case.graph, case.inputs, case.steps, target)
    lag = latency(qg.graph, qg.profile)
    assert lag > 0
    emit(qg, target, tmp_path / "mcu", measure=False)
    manifest = json.loads((tmp_path / "mcu" / "model.json").read_text())
    assert manifest["latency"] == lag
    run_drive = model_drive(case.inputs, case.steps, lag, case.graph.encoding,
                            case.graph.input.shape)
    want = to_model_time(run_quantized(qg, run_drive), qg.graph, qg.profile, case.steps)
    with qemu_uart(tmp_path / "mcu") as url:
        port = open_port(url)
        try:
            board = Board(port, timeout=20, where=url)
            model = run_on_board(board, manifest, case.inputs, case.steps)
            raw = run_on_board(board, manifest, case.inputs, case.steps, hardware_timing=True)
        finally:
            port.close()
    assert_same_trace(model.trace, want)
    assert model.trace.latency == lag and not model.trace.hardware_timing
    assert_same_trace(raw.trace, run_quantized(qg, drive))
    assert raw.trace.hardware_timing and raw.step_cycles.shape == (case.steps, 2)
    assert model.step_cycles.shape == (case.steps + lag, 2)
