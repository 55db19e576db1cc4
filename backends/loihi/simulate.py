"""Run the emitted Lava network (``run.py``) and return its trace.

The artifact is emitted into ``work_dir`` and run by the same Python interpreter in a child
process: that exercises exactly the files a user gets, and keeps Lava's runtime (which forks one
OS process per Lava process and fixes the multiprocessing start method) out of the caller.
The whole batch runs in one Lava simulation.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

from snnc.errors import ToolchainError, UnsupportedError
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.simulate import Trace
from snnc.target import Target

from .emit import emit

RUNNERS = ("lava",)
TIMEOUT_S = 3600


def lava_available() -> bool:
    return importlib.util.find_spec("lava") is not None


def read_trace(path: Path) -> Trace:
    """A trace npz (``output``, ``<layer>/spikes``, ``<layer>/v``) back into a :class:`Trace`
    of the steps as run (the caller labels their timing)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    spikes = {k[: -len("/spikes")]: v for k, v in arrays.items() if k.endswith("/spikes")}
    volts = {k[: -len("/v")]: v for k, v in arrays.items() if k.endswith("/v")}
    return Trace(output=arrays["output"], spikes=spikes, v=volts)


def _failure(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"


def run_artifact(folder: Path, units: np.ndarray, work_dir: Path, voltages: bool = True,
                 dense_limit: int | None = None, activity: Path | None = None) -> Trace:
    """Run ``folder/run.py`` on integer input units (steps, batch, *shape).

    ``dense_limit`` overrides the size up to which a synapse is a Lava Dense (else Sparse);
    ``activity`` is where run.py saves every population's messages of every Lava step.
    """
    drive = work_dir / "drive.npy"
    trace = work_dir / "trace.npz"
    np.save(drive, units)
    # the drive is run step for step: model time is the caller's (snnc.api.simulate) business
    command = [sys.executable, str(folder / "run.py"), "--input", str(drive),
               "--output", str(trace), "--hardware-timing"]
    if not voltages:
        command.append("--no-voltages")
    if dense_limit is not None:
        command += ["--dense-limit", str(dense_limit)]
    if activity is not None:
        command += ["--activity", str(activity)]
    try:
        done = subprocess.run(command, cwd=work_dir, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"Lava run did not finish within {TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise ToolchainError(f"Lava run failed: {_failure(done.stderr)}")
    return read_trace(trace)


def simulate(qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str = "lava",
             work_dir: Path | None = None, voltages: bool = True) -> Trace:
    """Emit, run in Lava's fixed-point simulator and return the trace (reference layout)."""
    if runner not in RUNNERS:
        raise UnsupportedError(f"runner '{runner}' is not available; choose lava",
                               target=target.name)
    if not lava_available():
        raise ToolchainError("Lava is not installed (make install adds lava-nc 0.10.0)")
    if work_dir is None:
        raise ToolchainError("simulate needs a work directory")
    work_dir = Path(work_dir)
    folder = work_dir / "loihi"
    emit(qg, target, folder)
    return run_artifact(folder, qg.quantize_input(drive), work_dir, voltages)
