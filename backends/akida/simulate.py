"""Run an emitted ``model.fbz`` on akida's software backend and return the reference trace.

The trace of a stateless target has one step: every twin layer's levels for the input's spike
counts over the run (what :func:`snnc.reference.integer.run_quantized` computes for it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnc.backends.akida.emit import emit
from snnc.backends.akida.plan import build_plan
from snnc.errors import UnsupportedError
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.simulate import Trace
from snnc.target import Target


def simulate(qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
             work_dir: Path) -> Trace:
    """Emit into ``work_dir/akida``, load ``model.fbz`` and run it on the drive's counts."""
    import akida

    if runner != "akida":
        raise UnsupportedError(f"runner '{runner}' cannot run an Akida model; use akida",
                               target=target.name)
    if drive.shape[0] != qg.graph.timesteps:
        raise UnsupportedError(
            f"the QNN twins were built for T = {qg.graph.timesteps} steps; a run of "
            f"{drive.shape[0]} steps would give them other counts", target=target.name)
    folder = Path(work_dir) / "akida"
    emit(qg, target, folder)
    plan = build_plan(qg)
    counts = qg.quantize_input(drive).sum(axis=0)
    x = counts.reshape(counts.shape[0], 1, 1, plan.inputs).astype(np.uint8)
    saved = akida.Model(str(folder / "model.fbz"))
    spikes = {}
    for i, fc in enumerate(plan.layers):
        prefix = akida.Model(layers=saved.layers[:i + 2])
        spikes[fc.neuron] = prefix.forward(x).reshape(x.shape[0], -1).astype(np.int64)[None]
    output = spikes[plan.layers[-1].neuron]
    shape = qg.graph.shape(qg.graph.output)
    return Trace(output=output.reshape(1, x.shape[0], *shape), spikes=spikes)
