"""The optimisation pipeline: passes in a fixed, printed order, verified after each one.

``optimize`` builds the pipeline for a target and runs it::

    calibrate -> eliminate_dead_neurons -> prune -> calibrate (again, if the graph changed)
              -> choose_kernels -> assign_mapping -> guard_mapping

(calibration-dependent passes only run with calibration data, pruning only with a threshold).
After every pass the graph is re-validated (shapes re-inferred, input/output/timesteps kept,
parameters finite) and, when calibration data is present, the float reference is run on up to
:data:`CHECK_SAMPLES` calibration samples: a pass that claims to preserve outputs must
reproduce them exactly (``VerifyError`` otherwise); for pruning the agreement is recorded. The
history is stored on the input layer (``attrs["pipeline"]``) for ``inspect`` and the report.

Compiling one graph for several targets, a :class:`SharedPasses` lets their pipelines share
work: a pass whose result does not depend on the target (calibration, dead-neuron elimination,
pruning for equal weight widths) runs once for all pipelines that start with the same passes,
instead of once per target. Each pipeline still returns exactly the graph it returns alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from snnc.cost.analysis import fixed_mapping
from snnc.cost.mapping import check_mode
from snnc.errors import VerifyError
from snnc.ir.layers import Graph
from snnc.passes.calibrate import calibrate
from snnc.passes.dead_neurons import eliminate_dead_neurons
from snnc.passes.kernel_choice import choose_kernels
from snnc.passes.mapping import assign_mapping
from snnc.passes.mapping_guard import check_tolerance, guard_mapping
from snnc.passes.prune import agreement_on_drive
from snnc.passes.prune import prune as prune_weights
from snnc.reference.encode import encode
from snnc.reference.simulate import run_graph
from snnc.target import Target

CHECK_SAMPLES = 64


@dataclass(frozen=True)
class Step:
    """One pass: a pure ``Graph -> Graph`` function and what it promises.

    ``shared``: everything the result depends on besides the graph and the calibration data
    (the pass name and its options), or None when the pass reads the target: two pipelines
    whose steps so far have equal ``shared`` keys hold equal graphs, so they run them once."""

    name: str
    run: Callable[[Graph], Graph]
    guarantee: str
    preserves_outputs: bool = True
    shared: tuple[Hashable, ...] | None = None


@dataclass(frozen=True)
class PassRecord:
    """What happened in one pass: its name and how it was checked."""

    name: str
    guarantee: str
    check: str
    agreement: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"pass": self.name, "guarantee": self.guarantee,
                                  "check": self.check}
        if self.agreement:
            out["agreement"] = dict(self.agreement)
        return out


@dataclass(frozen=True)
class PipelineResult:
    graph: Graph
    history: tuple[PassRecord, ...]


@dataclass(frozen=True)
class _State:
    """A pipeline part-way: the graph so far, the passes run, the reference outputs the next
    output-preserving pass must reproduce (None without calibration data)."""

    graph: Graph
    history: tuple[PassRecord, ...]
    reference: np.ndarray | None


class SharedPasses:
    """The states after the target-independent leading passes of the pipelines optimising one
    graph with one set of calibration inputs (see the module docstring); thread-safe, so the
    pipelines may run in threads: one runs a shared pass, the others wait for its result."""

    def __init__(self, graph: Graph, calib: np.ndarray | None = None) -> None:
        self.graph = graph
        self.calib = calib
        self._lock = threading.Lock()
        self._states: dict[tuple[Hashable, ...], _State] = {}

    def get(self, key: tuple[Hashable, ...], compute: Callable[[], _State]) -> _State:
        """The state stored under ``key``, computed first if no pipeline did (a failure is
        not stored: the next pipeline runs the pass again and fails the same way)."""
        with self._lock:
            if key not in self._states:
                self._states[key] = compute()
            return self._states[key]


class Pipeline:
    """Runs its steps in the given order; never loops to a fixpoint."""

    def __init__(self, steps: list[Step], check_inputs: np.ndarray | None = None,
                 outputs: ReferenceOutputs | None = None) -> None:
        self.steps = list(steps)
        self.check_inputs = check_inputs
        # the float outputs every check compares, shared with the passes that check their own
        # candidates (a graph one of them ran is not run again)
        self._reference = (outputs if outputs is not None or check_inputs is None
                           else ReferenceOutputs(check_inputs))

    def describe(self) -> str:
        return "\n".join(f"{i + 1}. {s.name}: {s.guarantee}" for i, s in enumerate(self.steps))

    def run(self, graph: Graph, log: Callable[[str], None] | None = None,
            shared: SharedPasses | None = None) -> PipelineResult:
        """Run every step; with ``shared`` (made for this graph and calibration inputs), the
        leading target-independent steps come from it when another pipeline already ran them."""
        if shared is not None and (shared.graph is not graph
                                   or shared.calib is not self.check_inputs):
            raise ValueError("these SharedPasses belong to another graph or calibration set")
        keys = _shared_prefixes(self.steps)
        start = partial(self.start, graph)
        state = start() if shared is None else shared.get((), start)
        for i, step in enumerate(self.steps):
            run_step = partial(self._logged_advance, state, step, log)
            state = (shared.get(keys[i], run_step) if shared is not None and i < len(keys)
                     else run_step())
        return self.finish(state)

    def _logged_advance(self, state: _State, step: Step,
                        log: Callable[[str], None] | None) -> _State:
        if log is not None:
            log(f"pass {step.name}")
        return self.advance(state, step)

    def start(self, graph: Graph) -> _State:
        return _State(graph, (), self._outputs(graph))

    def advance(self, state: _State, step: Step) -> _State:
        """Run one step on ``state``'s graph, verify it and record what happened."""
        after = step.run(state.graph)
        _verify_structure(step.name, state.graph, after)
        record = self._check(step, state.graph, after, state.reference)
        reference = state.reference if step.preserves_outputs else self._outputs(after)
        return _State(after, (*state.history, record), reference)

    @staticmethod
    def finish(state: _State) -> PipelineResult:
        """Store the history on the input layer (for ``inspect`` and the report)."""
        graph = state.graph
        records = tuple(r.as_dict() for r in state.history)
        graph = graph.replace_layers([graph.layers[0].with_attrs(pipeline=records),
                                      *graph.layers[1:]])
        return PipelineResult(graph, state.history)

    def _drive(self, graph: Graph) -> np.ndarray | None:
        return None if self.check_inputs is None else check_drive(graph, self.check_inputs)

    def _outputs(self, graph: Graph) -> np.ndarray | None:
        return None if self._reference is None else self._reference(graph)

    def _check(self, step: Step, before: Graph, after: Graph,
               reference: np.ndarray | None) -> PassRecord:
        if reference is None or self.check_inputs is None:
            return PassRecord(step.name, step.guarantee, "structure only (no calibration data)")
        n = reference.shape[1]
        if step.preserves_outputs:
            got = self._outputs(after)
            if not same_outputs(got, reference):
                raise VerifyError(f"pass '{step.name}' changed the reference output on the "
                                  f"calibration data (layer '{after.output}')")
            return PassRecord(step.name, step.guarantee,
                              f"reference output identical on {n} calibration samples")
        drive = self._drive(before)
        assert drive is not None
        agree = agreement_on_drive(before, after, drive)
        return PassRecord(step.name, step.guarantee,
                          f"changes outputs: identical on {100 * agree.output_equal:.1f} % of "
                          f"{n} samples, same prediction on {100 * agree.prediction_equal:.1f} %",
                          agree.as_dict())


def check_drive(graph: Graph, inputs: np.ndarray) -> np.ndarray:
    """The first :data:`CHECK_SAMPLES` calibration samples, encoded: what every check runs."""
    drive = encode(inputs, graph.timesteps, graph.encoding, graph.input.shape)
    return drive[:, :CHECK_SAMPLES]


def same_outputs(got: np.ndarray, want: np.ndarray) -> bool:
    """Whether two float reference outputs are identical, NaN where the other has NaN: a model
    whose float run overflows (a recurrent graded layer whose counts grow without bound) gives
    inf and then NaN, and a pass that keeps its outputs keeps those too (NaN never equals
    itself, so plain equality would call every such pass wrong)."""
    return bool(np.array_equal(got, want, equal_nan=True))


class ReferenceOutputs:
    """``graph -> outputs``: the float reference outputs on the checked calibration samples
    (:func:`check_drive`). The pipeline's checks and a pass that checks its own candidates
    (dead-neuron elimination) ask for the same graphs, so the last few graphs asked for keep
    their outputs (by identity: graphs are immutable) and run once."""

    KEEP = 3

    def __init__(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        self._kept: list[tuple[Graph, np.ndarray]] = []  # least recently asked first

    def __call__(self, graph: Graph) -> np.ndarray:
        for i, (kept, outputs) in enumerate(self._kept):
            if kept is graph:
                self._kept.append(self._kept.pop(i))
                return outputs
        outputs = run_graph(graph, check_drive(graph, self.inputs), record=False).output
        self._kept = [*self._kept[1 - self.KEEP:], (graph, outputs)]
        return outputs


class OutputsKept:
    """``(before, after) -> bool``: the float reference outputs of ``after`` on the checked
    calibration samples equal those of ``before`` (:class:`ReferenceOutputs`, which a pipeline
    shares with it)."""

    def __init__(self, inputs: np.ndarray, outputs: ReferenceOutputs | None = None) -> None:
        self.outputs = outputs if outputs is not None else ReferenceOutputs(inputs)

    def __call__(self, before: Graph, after: Graph) -> bool:
        return same_outputs(self.outputs(after), self.outputs(before))


def _verify_structure(name: str, before: Graph, after: Graph) -> None:
    """The invariants every pass keeps (a failure is a bug in the pass)."""
    if not isinstance(after, Graph):
        raise VerifyError(f"pass '{name}' returned {type(after).__name__}, not a Graph")
    same = (after.input.shape == before.input.shape and after.output == before.output
            and after.shape(after.output) == before.shape(before.output)
            and after.timesteps == before.timesteps and after.encoding == before.encoding)
    if not same:
        raise VerifyError(f"pass '{name}' changed the model's interface (input, output, "
                          "timesteps or encoding)")
    unchanged = {id(lay) for lay in before.layers}
    for lay in after.layers:
        if id(lay) in unchanged:  # the same object was verified when ``before`` was built
            continue
        for pname in ("weight", "bias", "threshold", "beta"):
            value = getattr(lay, pname, None)
            if value is not None and not _all_finite(value):
                raise VerifyError(f"pass '{name}' left a non-finite {pname} in layer "
                                  f"'{lay.name}'")


def _all_finite(value: object) -> bool:
    """Finite in the value's own float type (a float32 is finite exactly when its float64
    widening is), so a million-weight layer is not copied to float64 for the check."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fc":
        arr = np.asarray(value, np.float64)
    return bool(np.isfinite(arr).all())


def build_pipeline(target: Target, calib: np.ndarray | None = None, mapping: str = "auto",
                   prune: float | None = None, tolerance: float = 1.0,
                   runs_qnn: bool = True) -> Pipeline:
    """The fixed pass order for these options (see module docstring)."""
    check_mode(mapping)
    check_tolerance(tolerance)
    steps: list[Step] = []
    outputs = None if calib is None else ReferenceOutputs(calib)
    if calib is not None:
        steps.append(Step("calibrate", partial(calibrate, x=calib),
                          "annotations only: spike rates, gamma, twin conditions",
                          shared=("calibrate",)))
        steps.append(Step("eliminate_dead_neurons",
                          partial(eliminate_dead_neurons,
                                  keeps_outputs=OutputsKept(calib, outputs)),
                          "removes never-firing neurons; outputs identical on calibration data",
                          shared=("eliminate_dead_neurons",)))
    if prune is not None:
        bits = target.numeric.weight_bits
        steps.append(Step("prune", partial(prune_weights, threshold=prune, weight_bits=bits),
                          f"zeroes |w| < {prune:g} * max|W| per layer; changes outputs",
                          preserves_outputs=False, shared=("prune", prune, bits)))
    if calib is not None:
        steps.append(Step("calibrate", partial(calibrate, x=calib),
                          "annotations only: rates of the final graph", shared=("calibrate",)))
    steps.append(Step("choose_kernels", partial(choose_kernels, target=target),
                      "annotations only: event-driven or dense kernel per stage"))
    steps.append(Step("assign_mapping", partial(assign_mapping, target=target, mode=mapping),
                      f"annotations only: SNN or QNN per stage ({mapping})"))
    if fixed_mapping(target) is None:  # a one-mapping target runs what its chip runs
        steps.append(Step("guard_mapping", partial(guard_mapping, calib=calib,
                                                   tolerance=tolerance, mode=mapping,
                                                   runs_qnn=runs_qnn),
                          "annotations only: QNN twins kept where the answers stay within "
                          f"{100 * tolerance:g} % agreement"))
    return Pipeline(steps, check_inputs=calib, outputs=outputs)


def optimize(graph: Graph, target: Target, calib: np.ndarray | None = None,
             mapping: str = "auto", prune: float | None = None,
             log: Callable[[str], None] | None = None,
             shared: SharedPasses | None = None, tolerance: float = 1.0,
             runs_qnn: bool = True) -> Graph:
    """Run the pipeline for ``target``; ``log`` receives one line per pass, in order (a pass
    taken from ``shared`` is not run, so not logged)."""
    return build_pipeline(target, calib, mapping, prune, tolerance, runs_qnn).run(
        graph, log=log, shared=shared).graph


def _shared_prefixes(steps: Sequence[Step]) -> list[tuple[Hashable, ...]]:
    """The keys of the leading steps that do not read the target: step i's key is the tuple
    of the ``shared`` keys of steps 0..i (a later step depends on all the earlier ones)."""
    keys: list[tuple[Hashable, ...]] = []
    for step in steps:
        if step.shared is None:
            break
        keys.append((*(keys[-1] if keys else ()), step.shared))
    return keys
