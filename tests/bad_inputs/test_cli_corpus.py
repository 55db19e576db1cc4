"""Every broken model in the corpus, through ``inspect``, ``simulate`` and ``compile``.

A user handing snnc a hostile file must get exit status 2 and exactly one line starting with
``error:`` (no traceback, nothing else printed), and nothing may be written: the folder holding
the model, the input and the would-be outputs is byte-identical before and after. In-process runs
(typer's CliRunner) cover the whole corpus; a few cases also run the installed ``snnc`` script
in a child process, where the exit status, the two output streams, the wall time and the peak
memory of that process are measured.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from testkit.cli_corpus import CASES, INPUT_CASES, N_IN, good_onnx
from typer.testing import CliRunner

from snnc.cli import app

COMMANDS = ("inspect", "simulate", "compile")
TIME_LIMIT_S = 60.0
# Peak resident memory of a refused run: the interpreter with TVM, onnx and numpy loaded takes
# ~0.3 GB; one float32 tensor of 10^8 elements alone would add 0.4 GB.
MEMORY_LIMIT_BYTES = 600 * 2**20
SNNC = Path(sys.executable).with_name("snnc")


def snapshot(folder: Path) -> dict[str, str]:
    """Every path below ``folder`` with a digest of its content (directories as "dir")."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        found[rel] = ("dir" if path.is_dir()
                      else hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def arguments(command: str, model: Path, folder: Path) -> list[str]:
    """The command line for one command; outputs go into ``folder`` (which must stay as is)."""
    if command == "inspect":
        return ["inspect", str(model)]
    if command == "simulate":
        return ["simulate", str(model), "--input", str(folder / "x.npy"),
                "--output", str(folder / "trace.npz")]
    return ["compile", str(model), "--target", "all", "--out", str(folder / "out")]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    np.save(tmp_path / "x.npy", np.linspace(0, 1, 2 * N_IN, dtype=np.float32).reshape(2, N_IN))
    return tmp_path


def assert_one_error_line(text: str) -> None:
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("error: "), text
    assert "Traceback" not in text


# Known gaps, each reported with its fix; strict, so the marker goes once the gap is closed.
GAPS: dict[str, str] = {}
CORPUS = [pytest.param(case, marks=pytest.mark.xfail(strict=True, reason=GAPS[case]))
          if case in GAPS else case for case in sorted(CASES)]


# numpy's RuntimeWarnings (overflow, invalid value) would print next to the error line
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CORPUS)
def test_broken_model_gives_one_error_line_and_writes_nothing(case: str, command: str,
                                                              folder: Path) -> None:
    model = CASES[case](folder)
    before = snapshot(folder)
    start = time.perf_counter()
    result = CliRunner().invoke(app, arguments(command, model, folder))
    elapsed = time.perf_counter() - start
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert_one_error_line(result.stderr)
    assert snapshot(folder) == before
    assert elapsed < TIME_LIMIT_S


# Started in a small interpreter of its own: Python starts children with vfork, and Linux then
# counts the parent's peak resident memory as the child's (the exec inherits the shared address
# space's high-water mark), so a child of a large pytest worker would inherit its peak.
_LAUNCHER = """
import json, os, subprocess, sys, threading, time
out_path, err_path, limit, *argv = sys.argv[1:]
with open(out_path, "wb") as out, open(err_path, "wb") as err:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=os.getcwd(), stdout=out, stderr=err)
    timer = threading.Timer(float(limit), proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
print(json.dumps([os.waitstatus_to_exitcode(status), time.perf_counter() - start,
                  usage.ru_maxrss * 1024]))
"""


def run_measured(argv: list[str], cwd: Path) -> tuple[int, str, str, float, int]:
    """Run the installed script; returns (status, stdout, stderr, seconds, peak RSS bytes).

    ``os.wait4`` reaps exactly this child and reports its own resource usage
    (``RUSAGE_CHILDREN`` would mix in every child the test process ever waited for); a small
    launcher process starts it (see :data:`_LAUNCHER`).
    """
    env = {**os.environ, "COLUMNS": "120"}
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(out_path), str(err_path),
             str(TIME_LIMIT_S * 3), str(SNNC), *argv],
            cwd=cwd, env=env, capture_output=True, text=True, check=True)
        status, seconds, peak = json.loads(done.stdout)
        return (status, out_path.read_bytes().decode(), err_path.read_bytes().decode(),
                seconds, peak)


SUBPROCESS_CASES = ("declared_1e8_weight", "declared_1e8_input", "random_bytes",
                    "nir_missing_weight", "huge_weight", "external_data_outside_folder",
                    "nir_wide_conv", "nir_huge_string_length", "nir_threshold_overflows")


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_installed_script_refuses_within_time_and_memory(case: str, folder: Path) -> None:
    model = CASES[case](folder)
    command = COMMANDS[SUBPROCESS_CASES.index(case) % len(COMMANDS)]
    before = snapshot(folder)
    status, out, err, seconds, peak = run_measured(arguments(command, model, folder), folder)
    assert status == 2, err
    assert out == ""
    assert_one_error_line(err)
    assert snapshot(folder) == before
    assert seconds < TIME_LIMIT_S * 2
    assert peak < MEMORY_LIMIT_BYTES, f"peak RSS {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("case", sorted(INPUT_CASES))
def test_broken_input_array_gives_one_error_line_and_writes_nothing(case: str,
                                                                   folder: Path) -> None:
    model = folder / "model.onnx"
    model.write_bytes(good_onnx().SerializeToString())
    write, extra = INPUT_CASES[case]
    x = write(folder)
    before = snapshot(folder)
    result = CliRunner().invoke(app, ["simulate", str(model), "--input", str(x), *extra,
                                      "--output", str(folder / "trace.npz")])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code == 2, result.output
    assert_one_error_line(result.stderr)
    assert snapshot(folder) == before
