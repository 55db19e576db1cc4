"""The Python API; the CLI is a thin shell over these functions.

``load`` -> ``optimize`` -> ``quantize`` -> ``compile`` / ``simulate``; ``report`` for energy.
``compile_all`` compiles for several targets at once, all or nothing (or skipping the targets
that cannot hold the model, with ``skip_unfit``).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from snnc.backends import Artifact, Backend, get_backend
from snnc.errors import InputError, ResourceError, UnsupportedError
from snnc.ir.layers import Graph
from snnc.ir.quantized import QuantizedGraph
from snnc.outputs import atomic_dir
from snnc.passes.quantize import quantize as quantize_graph
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.mapped import has_twins
from snnc.reference.simulate import Trace, run_graph
from snnc.reference.timing import hardware_trace, model_drive, to_model_time
from snnc.target import Target, list_targets, load_target

if TYPE_CHECKING:
    from snnc.passes.pipeline import SharedPasses

# Calibration samples ``report --measure`` runs per mapping (counters are per inference).
MEASURE_SAMPLES = 16
# Folder names under the output directory, per backend (see docs/architecture.md).
OUT_FOLDERS = {"akida": "akida", "loihi": "loihi", "mcu": "mcu", "spinnaker2": "spinnaker2",
               "xylo": "xylo"}


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
    preferred = {"akida": "akida1", "loihi": "loihi2", "mcu": "cortex-m4",
                 "spinnaker2": "spinnaker2", "xylo": "xylo-audio2"}
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
             mapping: str = "auto", prune: float | None = None, log: Log = None,
             tolerance: float = 1.0) -> Graph:
    """Run the optimisation pipeline (calibration, sparsity, mapping) for ``target``;
    ``log`` receives one line per pass, in order. ``tolerance``: the least agreement of the
    answers on the calibration data ``--mapping auto`` accepts for a QNN twin
    (:mod:`snnc.passes.mapping_guard`)."""
    from snnc.passes.pipeline import optimize as run_pipeline

    t = as_target(target)
    return run_pipeline(graph, t, calib=calib, mapping=mapping, prune=prune, log=log,
                        tolerance=tolerance, runs_qnn=get_backend(t.backend).runs_qnn_stages)


def quantize(graph: Graph, target: str | Target, calib: np.ndarray | None = None,
             mapping: str = "auto", steps: int | None = None) -> QuantizedGraph:
    """Integer parameters for ``target``: with calibration inputs on a stepped, scaled profile,
    the scales that best reproduce the float model's spikes on them
    (:mod:`snnc.passes.fidelity`, the per-layer agreement in ``.agreement``); otherwise the
    range-based ones. On a stateless target (``execution = "qnn"``) every neuron stage is then
    its QNN twin (approximate twins only with ``mapping = "qnn"``); elsewhere the stages the
    mapping pass chose to run as QNN become their integer twins (run once per inference on
    counts of ``steps`` steps, default the model's T:
    :func:`snnc.passes.snn_to_qnn.apply_mapping`)."""
    t = as_target(target)
    if (calib is not None and t.numeric.neuron_model == "scaled"
            and t.numeric.execution == "steps"):
        from snnc.passes.fidelity import choose_scales

        drive = encode(calib, graph.timesteps, graph.encoding, graph.input.shape)
        qg = choose_scales(graph, t.numeric, drive, calib=calib, target=t.name)
    else:
        qg = quantize_graph(graph, t.numeric, calib=calib, target=t.name)
    if t.numeric.execution == "qnn":
        from snnc.passes.stateless import lower_stateless

        return lower_stateless(qg, mapping)
    from snnc.passes.snn_to_qnn import apply_mapping

    return apply_mapping(qg, steps)


def agreement(graph: Graph, target: str | Target, calib: np.ndarray, mapping: str = "auto",
              prune: float | None = None, log: Log = None,
              tolerance: float = 1.0) -> dict[str, float]:
    """Per neuron layer, the spike agreement of ``target``'s integer model with the float
    model on ``calib`` (see :mod:`snnc.passes.fidelity`), for the graph compile would emit."""
    return fidelity(graph, target, calib, mapping=mapping, prune=prune, log=log,
                    tolerance=tolerance).agreement


@dataclass(frozen=True)
class Fidelity:
    """What the fidelity search chose on the calibration data: ``agreement`` per neuron layer
    and ``widths`` (``{"widths": {...}}`` as ``resources.json`` records it when the graph
    input or weight layers were widened beyond the target's widths, else empty)."""

    agreement: dict[str, float]
    widths: dict[str, Any]


def fidelity(graph: Graph, target: str | Target, calib: np.ndarray, mapping: str = "auto",
             prune: float | None = None, log: Log = None, tolerance: float = 1.0) -> Fidelity:
    """:func:`agreement` and the widths chosen with it, for the graph compile would emit."""
    from snnc.backends import chosen_widths

    t = as_target(target)
    optimized = optimize(graph, t, calib=calib, mapping=mapping, prune=prune, log=log,
                         tolerance=tolerance)
    _say(log, "choose scales on the calibration data")
    qg = quantize(optimized, t, calib=calib, mapping=mapping)
    return Fidelity(dict(qg.agreement), chosen_widths(qg, t))


@dataclass(frozen=True)
class CompileResult:
    """One target's outcome; ``skipped`` holds why the target cannot hold the model (then
    ``artifact`` and ``quantized`` are None and nothing was written for it)."""

    target: Target
    artifact: Artifact | None
    quantized: QuantizedGraph | None
    skipped: str | None = None


def compile(graph: Graph, target: str | Target, out_dir: str | Path,
            calib: np.ndarray | None = None, mapping: str = "auto",
            prune: float | None = None, log: Log = None,
            tolerance: float = 1.0) -> CompileResult:
    """Optimise, quantise, check resources and emit ``target``'s artifact into
    ``out_dir/<backend>/``, atomically (nothing is written if any step fails)."""
    return compile_all(graph, [target], out_dir, calib=calib, mapping=mapping, prune=prune,
                       log=log, tolerance=tolerance)[0]


def compile_all(graph: Graph, targets: Sequence[str | Target], out_dir: str | Path,
                calib: np.ndarray | None = None, mapping: str = "auto",
                prune: float | None = None, log: Log = None,
                skip_unfit: bool = False, tolerance: float = 1.0) -> list[CompileResult]:
    """Compile ``graph`` for every target into ``out_dir/<backend>/``, all or nothing (see
    ``skip_unfit``).

    Each target is optimised, quantised and emitted in its own thread into a private staging
    folder, so a backend waiting for a compiler it runs (the MCU's memory build) overlaps the
    others' work; passes that do not depend on the target run once for all of them
    (:class:`snnc.passes.pipeline.SharedPasses`). Only when every target succeeded are the
    folders renamed into place; otherwise none is, no new folder is left behind, and the error
    of the first failing target in ``targets`` order is raised: the one compiling target by
    target would raise. Targets after a failed one stop at their next stage. The files are
    byte-identical to compiling each target alone. ``log`` lines start with the target name.

    ``skip_unfit`` (``--target all``): a target that cannot hold the model (an
    :class:`UnsupportedError` or :class:`ResourceError`) is skipped, its result says why and
    no folder is left for it; the others are compiled as usual.
    """
    # imported here, not first inside the threads
    import snnc.cost.report  # noqa: F401
    from snnc.passes.pipeline import SharedPasses

    chosen = [as_target(t) for t in targets]
    if not chosen:
        return []
    folders = [Path(out_dir) / OUT_FOLDERS[t.backend] for t in chosen]
    if len(set(folders)) != len(folders):
        raise InputError("two targets of one backend would write the same folder: "
                         f"{', '.join(t.name for t in chosen)}")
    backends = [get_backend(t.backend) for t in chosen]
    options = _Options(calib, mapping, prune, SharedPasses(graph, calib), _Stop(len(chosen)),
                       skip_unfit, tolerance)
    with ExitStack() as staging:
        staged = [staging.enter_context(atomic_dir(f)) for f in folders]
        with ThreadPoolExecutor(max_workers=len(chosen),
                                thread_name_prefix="snnc-compile") as pool:
            jobs = [pool.submit(_compile_one, graph, t, backend, folder, i, options, log)
                    for i, (t, backend, folder) in enumerate(zip(chosen, backends, staged,
                                                                 strict=True))]
        # the pool has joined: no thread writes into a staged folder any more
        results = [_outcome(job) for job in jobs]
    done = []
    for r, final in zip(results, folders, strict=True):
        if r.artifact is None:
            shutil.rmtree(final, ignore_errors=True)  # the skipped target's empty folder
            done.append(r)
            continue
        done.append(CompileResult(r.target, Artifact(r.artifact.backend, final,
                                                     r.artifact.files, r.artifact.resources),
                                  r.quantized))
    return done


class _Stop:
    """Which targets should give up: those after the first failed one in target order, so the
    error raised is that of the first failing target whatever the timing of the threads."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._first_failed = count

    def fail(self, index: int) -> None:
        with self._lock:
            self._first_failed = min(self._first_failed, index)

    def check(self, index: int) -> None:
        with self._lock:
            if index > self._first_failed:
                raise _Cancelled


class _Cancelled(Exception):
    """A target stopped because an earlier one failed (never reaches the caller)."""


@dataclass(frozen=True)
class _Options:
    """What every target of one ``compile_all`` shares."""

    calib: np.ndarray | None
    mapping: str
    prune: float | None
    passes: SharedPasses
    stop: _Stop
    skip_unfit: bool = False
    tolerance: float = 1.0


def _compile_one(graph: Graph, target: Target, backend: Backend, folder: Path, index: int,
                 opts: _Options, log: Log) -> CompileResult:
    """One target's optimise -> quantise -> emit -> report, into its staging ``folder``."""
    from snnc.passes.pipeline import optimize as run_pipeline

    def say(stage: str) -> None:
        _say(log, f"{target.name}: {stage}")

    try:
        opts.stop.check(index)
        optimized = run_pipeline(graph, target, calib=opts.calib, mapping=opts.mapping,
                                 prune=opts.prune, log=say, shared=opts.passes,
                                 tolerance=opts.tolerance, runs_qnn=backend.runs_qnn_stages)
        opts.stop.check(index)
        say("quantize to the numeric profile")
        qg = quantize(optimized, target, calib=opts.calib, mapping=opts.mapping)
        opts.stop.check(index)
        # every backend's emit runs its resource check before it writes anything
        say(f"check resources and emit the {target.backend} artifact")
        artifact = backend.emit(qg, target, folder)
        opts.stop.check(index)
        say("write the energy report")
        _write_reports(optimized, target, folder)
    except (UnsupportedError, ResourceError) as exc:
        if not opts.skip_unfit:
            opts.stop.fail(index)
            raise
        say(f"skipped: {exc}")
        return CompileResult(target, None, None, skipped=str(exc))
    except BaseException:
        opts.stop.fail(index)
        raise
    return CompileResult(target, artifact, qg)


def _outcome(job: Future[CompileResult]) -> CompileResult:
    """A finished job's result; its error re-raised (the first in target order wins, since
    every target after a failed one was cancelled, never failed on its own)."""
    error = job.exception()
    if error is not None:
        raise error
    return job.result()


def _write_reports(graph: Graph, target: Target, folder: Path) -> None:
    """The energy report of the optimised graph (calibrated by the pipeline when calibration
    inputs were given)."""
    from snnc.cost import report as cost_report
    from snnc.cost.report import write_report

    write_report(cost_report(graph, target), folder, plots=False)


def report(graph: Graph, target: str | Target, calib: np.ndarray | None = None,
           mapping: str = "auto", prune: float | None = None, log: Log = None,
           tolerance: float = 1.0, measure: bool = False) -> Any:
    """Per-layer SNN vs QNN energy for ``target`` (see ``snnc.cost``); ``measure`` also runs
    both mappings on the target's executor and adds the measured cost of every twin stage
    (:mod:`snnc.cost.measured`)."""
    from dataclasses import replace

    from snnc.cost import report as cost_report

    t = as_target(target)
    optimized = optimize(graph, t, calib=calib, mapping=mapping, prune=prune, log=log,
                         tolerance=tolerance)
    result = cost_report(optimized, t)
    if measure:
        _say(log, "compile both mappings and measure them on the target")
        result = replace(result, measured=measure_mappings(graph, t, calib), measure_ran=True)
    return result


def measure_mappings(graph: Graph, target: str | Target, calib: np.ndarray | None,
                     samples: int = MEASURE_SAMPLES) -> dict[str, Any]:
    """Measured counters of every stage with a QNN twin under both mappings, per inference
    (:class:`snnc.cost.measured.StageMeasure` by head layer): each mapping compiled and run on
    the first ``samples`` calibration inputs with the backend's counters."""
    from snnc.cost.measured import StageMeasure

    if calib is None:
        raise InputError("--measure runs the model on data: give --calib")
    t = as_target(target)
    x = np.asarray(calib)[:samples]
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    backend = get_backend(t.backend)
    runs: dict[str, dict[str, dict[str, float]]] = {}
    heads: list[str] = []
    for mapping in ("qnn", "snn"):
        qg = quantize(optimize(graph, t, calib=calib, mapping=mapping), t, calib=calib,
                      mapping=mapping)
        if mapping == "qnn":
            heads = [lay.name for lay in qg.graph.layers if "twin_of" in lay.attrs]
        with tempfile.TemporaryDirectory(prefix="snnc-measure-") as work:
            runs[mapping] = backend.measure_stages(qg, t, drive, heads, Path(work))
    return {h: StageMeasure(h, runs["snn"][h], runs["qnn"][h]) for h in heads
            if h in runs["snn"] and h in runs["qnn"]}


def simulate(graph: Graph, inputs: np.ndarray, steps: int | None = None,
             target: str | Target | None = None, backend: str = "reference",
             calib: np.ndarray | None = None, mapping: str = "auto", log: Log = None,
             hardware_timing: bool = False, tolerance: float = 1.0) -> Trace:
    """Run the model: the float reference (no target), the integer reference of ``target``
    (``backend="reference"``), or the artifact the target's backend produces (``host``,
    ``qemu``, ``lava``, ``spinnaker2``, ``xylosim``, ``akida``). All return the same
    :class:`Trace` layout.

    Results are in model time: a target whose synapses deliver late runs ``steps + latency``
    steps and every layer's arrays start at its own latency (:mod:`snnc.reference.timing`), so
    step ``t`` is the model's step ``t`` on every target. ``hardware_timing`` keeps the raw
    schedule of ``steps`` hardware steps instead. A graph with QNN stages runs the mixed
    schedule of :mod:`snnc.reference.mapped` over ``steps`` steps, which places its own delays
    (a QNN stage runs after the steps that feed it), so it is returned as run."""
    steps = steps or graph.timesteps
    if target is None:
        if backend != "reference":
            raise InputError(f"--backend {backend} needs a --target")
        _say(log, f"run the float reference ({steps} steps)")
        return run_graph(graph, encode(inputs, steps, graph.encoding, graph.input.shape))
    t = as_target(target)
    optimized = optimize(graph, t, calib=calib, mapping=mapping, log=log, tolerance=tolerance)
    qg = quantize(optimized, t, calib=calib, mapping=mapping, steps=steps)
    if has_twins(qg.graph):
        # the mixed schedule places its own delays (QNN stages run after the steps that feed
        # them): it runs ``steps`` steps and is reported as run
        hardware_timing = True
    lag = latency(qg.graph, qg.profile)
    run_drive = model_drive(inputs, steps, 0 if hardware_timing else lag, graph.encoding,
                            graph.input.shape)
    if backend == "reference":
        _say(log, f"run the {t.name} integer reference ({_schedule(steps, lag, hardware_timing)})")
        trace = run_quantized(qg, run_drive)
    else:
        runner = get_backend(t.backend)
        if backend not in runner.runners:
            raise UnsupportedError(
                f"backend '{backend}' cannot run this target; choose reference or "
                f"{' or '.join(runner.runners)}", target=t.name)
        runner.resources(qg, t)
        _say(log, f"emit the {t.backend} artifact and run it on {backend} "
                  f"({_schedule(steps, lag, hardware_timing)})")
        with tempfile.TemporaryDirectory(prefix="snnc-sim-") as work:
            trace = runner.simulate(qg, t, run_drive, backend, Path(work))
    if hardware_timing:
        return hardware_trace(trace, qg.graph, qg.profile)
    return to_model_time(trace, qg.graph, qg.profile, steps)


def _schedule(steps: int, lag: int, hardware_timing: bool) -> str:
    if hardware_timing or not lag:
        return f"{steps} steps"
    return f"{steps} + {lag} steps of latency"


def simulate_exported(path: str | Path, inputs: np.ndarray, steps: int | None = None,
                      log: Log = None) -> Trace:
    """Run an ONNX model exactly as it was exported, in the framework's own float arithmetic
    (:mod:`snnc.frontend.exported`): the run to compare the compiled model with. The trace has
    the output only (a spiking output layer's spikes too, so :func:`predict` counts them)."""
    from snnc.frontend.exported import run_exported
    from snnc.frontend.onnx import import_onnx

    if Path(path).suffix.lower() != ".onnx":
        raise InputError("--backend exported runs ONNX models only")
    imported = import_onnx(path)
    graph = imported.graph
    steps = steps or graph.timesteps
    drive = encode(inputs, steps, graph.encoding, graph.input.shape)
    _say(log, f"run the exported ONNX graph ({steps} steps, onnx reference evaluator)")
    output = run_exported(imported, drive)
    spiking = graph.layer(graph.output).is_neuron
    return Trace(output, spikes={graph.output: output} if spiking else {})


def predict(trace: Trace) -> np.ndarray:
    """Class per sample: the most output spikes (ties: the higher final membrane where one was
    recorded, else the lower index), or the largest final value when the output layer is a
    value read-out rather than spikes."""
    counts = trace.spike_counts().reshape(trace.output.shape[1], -1).astype(np.float64)
    for name, spikes in sorted(trace.spikes.items()):
        if spikes.shape == trace.output.shape and np.array_equal(spikes, trace.output):
            v = trace.v.get(name)
            if v is None:
                return counts.argmax(axis=1)
            last_v = v[-1].reshape(counts.shape[0], -1).astype(np.float64)
            best = counts.max(axis=1, keepdims=True)
            return np.where(counts == best, last_v, -np.inf).argmax(axis=1)
    # A value read-out (not spikes): the last step holds the settled value; earlier steps may
    # still be filling the pipeline on targets with synaptic delay.
    return trace.output[-1].reshape(counts.shape[0], -1).argmax(axis=1)


def run_board(project: str | Path, inputs: np.ndarray, port: str, steps: int | None = None,
              probes: bool = True, baud: int = 115200, timeout: float = 10.0,
              progress: Callable[[int, int], None] | None = None,
              hardware_timing: bool = False) -> Any:
    """Run raw ``inputs`` on a board (or QEMU) flashed with the UART image of the compiled MCU
    ``project``, over the pyserial ``port`` (``/dev/ttyACM0``, ``socket://127.0.0.1:4444``);
    returns a :class:`snnc.backends.mcu.uart.BoardRun` whose ``arrays()`` is the ``simulate``
    ``.npz`` layout plus the cycles the board counted. Model time as in :func:`simulate`."""
    from snnc.backends.mcu.uart import run_project

    return run_project(Path(project), inputs, port, steps=steps, probes=probes, baud=baud,
                       timeout=timeout, progress=progress, hardware_timing=hardware_timing)
