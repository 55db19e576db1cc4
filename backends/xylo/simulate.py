"""Run an emitted Xylo specification in XyloSim (its ``run.py``) and return the trace.

The trace has the reference's layout: every neuron layer's spike counts and membranes, cut out
of XyloSim's hidden recordings by the layer's hidden ids, and the read-out layer's from the
readout recordings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from snnc.backends.xylo.emit import emit
from snnc.backends.xylo.spec import build_spec
from snnc.errors import UnsupportedError
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.simulate import Trace
from snnc.target import Target


def _load_runner(folder: Path) -> object:
    spec = importlib.util.spec_from_file_location("snnc_xylo_run", folder / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def simulate(qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
             work_dir: Path) -> Trace:
    """Emit into ``work_dir/xylo`` and run ``run.py`` on the drive's event counts."""
    if runner != "xylosim":
        raise UnsupportedError(f"runner '{runner}' cannot run a Xylo specification; use "
                               "xylosim", target=target.name)
    folder = Path(work_dir) / "xylo"
    emit(qg, target, folder)
    layout = build_spec(qg, target)
    events = qg.quantize_input(drive)
    steps, batch = events.shape[:2]
    got = _load_runner(folder).run(events)
    spikes, volts = {}, {}
    for name, (lo, n) in layout.hidden.items():
        spikes[name] = got["Spikes"][:, :, lo:lo + n]
        volts[name] = got["Vmem"][:, :, lo:lo + n]
    if layout.readout is not None:
        spikes[layout.readout] = got["output"]
        volts[layout.readout] = got["Vmem_out"]
    out = qg.graph.output
    return Trace(output=spikes[out].reshape(steps, batch, *qg.graph.shape(out)),
                 spikes=spikes, v=volts)
