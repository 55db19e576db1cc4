"""The Python API; the CLI is a thin shell over these functions.

``load`` -> ``optimize`` -> ``quantize`` -> ``compile`` / ``simulate``; ``report`` for energy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends import RUNNERS, Artifact, backend_module
from snnc.errors import InputError, UnsupportedError
from snnc.ir.layers import Graph
from snnc.ir.quantized import QuantizedGraph
from snnc.outputs import atomic_dir
from snnc.passes.quantize import quantize as quantize_graph
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.reference.simulate import Trace, run_graph
from snnc.target import Target, list_targets, load_target

# Folder names under the output directory, per backend (DESIGN.md section 3).
OUT_FOLDERS = {"loihi": "loihi", "mcu": "mcu", "spinnaker2": "spinnaker2"}


def load(path: str | Path, nir_semantics: str | None = None, dt: float | None = None) -> Graph:
    """Read an ONNX or NIR model into the layer view (NIR options: see ``snnc.frontend.load``)."""
    from snnc.frontend import load as frontend_load

    return frontend_load(Path(path), nir_semantics=nir_semantics, dt=dt)


def as_target(target: str | Target) -> Target:
    return target if isinstance(target, Target) else load_target(target)


def targets_for(spec: str) -> list[Target]:
    """``all`` means one target per backend (the first listed); otherwise one name or alias."""
    if spec != "all":
        return [load_target(spec)]
    chosen: dict[str, Target] = {}
    preferred = {"loihi": "loihi2", "mcu": "cortex-m4", "spinnaker2": "spinnaker2"}
    for target in list_targets():
        if target.name == preferred.get(target.backend):
            chosen[target.backend] = target
    return [chosen[b] for b in sorted(chosen)]


def load_array(path: str | Path, what: str) -> np.ndarray:
    """Read a ``.npy`` array given on the command line, with a one-line error if unusable."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file '{p}' does not exist")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{what} file '{p}' is not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{what} file '{p}' must hold a single array")
    return arr


Log = Callable[[str], None] | None


def _say(log: Log, message: str) -> None:
    if log is not None:
        log(message)


def optimize(graph: Graph, target: str | Target, calib: np.ndarray | None = None,
             mapping: str = "auto", prune: float | None = None, log: Log = None) -> Graph:
    """Run the optimisation pipeline (calibration, sparsity, mapping) for ``target``;
    ``log`` receives one line per pass, in order."""
    from snnc.passes.pipeline import optimize as run_pipeline

    return run_pipeline(graph, as_target(target), calib=calib, mapping=mapping, prune=prune,
                        log=log)


def quantize(graph: Graph, target: str | Target,
             calib: np.ndarray | None = None) -> QuantizedGraph:
    t = as_target(target)
    return quantize_graph(graph, t.numeric, calib=calib, target=t.name)


@dataclass(frozen=True)
class CompileResult:
    target: Target
    artifact: Artifact
    quantized: QuantizedGraph


def compile(graph: Graph, target: str | Target, out_dir: str | Path,
            calib: np.ndarray | None = None, mapping: str = "auto",
            prune: float | None = None, log: Log = None) -> CompileResult:
    """Optimise, quantise, check resources and emit ``target``'s artifact into
    ``out_dir/<backend>/``, atomically (nothing is written if any step fails)."""
    t = as_target(target)
    optimized = optimize(graph, t, calib=calib, mapping=mapping, prune=prune, log=log)
    _say(log, f"quantize to the {t.name} numeric profile")
    qg = quantize(optimized, t, calib=calib)
    backend = backend_module(t.backend)
    _say(log, f"check {t.name} resources")
    backend.check_resources(qg, t)
    final = Path(out_dir) / OUT_FOLDERS[t.backend]
    with atomic_dir(final) as tmp:
        _say(log, f"emit the {t.backend} artifact")
        artifact = backend.emit(qg, t, tmp)
        _say(log, "write the energy report")
        _write_reports(optimized, t, tmp, calib)
    artifact = Artifact(artifact.backend, final, artifact.files, artifact.resources)
    return CompileResult(t, artifact, qg)


def _write_reports(graph: Graph, target: Target, folder: Path,
                   calib: np.ndarray | None) -> None:
    from snnc.cost import report as cost_report
    from snnc.cost.report import write_report

    write_report(cost_report(graph, target, calib=calib), folder, plots=False)


def report(graph: Graph, target: str | Target, calib: np.ndarray | None = None,
           mapping: str = "auto", prune: float | None = None, log: Log = None) -> Any:
    """Per-layer SNN vs QNN energy for ``target`` (see ``snnc.cost``)."""
    from snnc.cost import report as cost_report

    t = as_target(target)
    optimized = optimize(graph, t, calib=calib, mapping=mapping, prune=prune, log=log)
    return cost_report(optimized, t, calib=calib)


def simulate(graph: Graph, inputs: np.ndarray, steps: int | None = None,
             target: str | Target | None = None, backend: str = "reference",
             calib: np.ndarray | None = None, mapping: str = "auto") -> Trace:
    """Run the model: the float reference (no target), the integer reference of ``target``
    (``backend="reference"``), or the artifact the target's backend produces (``host``,
    ``qemu``, ``lava``, ``spinnaker2``). All return the same :class:`Trace` layout."""
    steps = steps or graph.timesteps
    drive = encode(inputs, steps, graph.encoding, graph.input.shape)
    if target is None:
        if backend != "reference":
            raise InputError(f"--backend {backend} needs a --target")
        return run_graph(graph, drive)
    t = as_target(target)
    qg = quantize(optimize(graph, t, calib=calib, mapping=mapping), t, calib=calib)
    if backend == "reference":
        return run_quantized(qg, drive)
    runners = RUNNERS[t.backend]
    if backend not in runners:
        raise UnsupportedError(
            f"backend '{backend}' cannot run this target; choose reference or "
            f"{' or '.join(runners)}", target=t.name)
    module = backend_module(t.backend)
    module.check_resources(qg, t)
    with tempfile.TemporaryDirectory(prefix="snnc-sim-") as work:
        return module.simulate(qg, t, drive, runner=backend, work_dir=Path(work))


def predict(trace: Trace) -> np.ndarray:
    """Class per sample: the most output spikes (ties: the higher final membrane), or the
    largest final value when the output layer is a value read-out rather than spikes."""
    counts = trace.spike_counts().reshape(trace.output.shape[1], -1).astype(np.float64)
    for name, v in sorted(trace.v.items()):
        if trace.spikes[name].shape == trace.output.shape and np.array_equal(
                trace.spikes[name], trace.output):
            last_v = v[-1].reshape(counts.shape[0], -1).astype(np.float64)
            best = counts.max(axis=1, keepdims=True)
            return np.where(counts == best, last_v, -np.inf).argmax(axis=1)
    # A value read-out (not spikes): the last step holds the settled value; earlier steps may
    # still be filling the pipeline on targets with synaptic delay.
    return trace.output[-1].reshape(counts.shape[0], -1).argmax(axis=1)
