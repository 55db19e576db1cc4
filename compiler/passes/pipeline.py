"""The optimisation pipeline: passes in a fixed, printed order, verified after each one.

``optimize`` builds the pipeline for a target and runs it::

    calibrate -> eliminate_dead_neurons -> prune -> calibrate (again, if the graph changed)
              -> choose_kernels -> assign_mapping

(calibration-dependent passes only run with calibration data, pruning only with a threshold).
After every pass the graph is re-validated (shapes re-inferred, input/output/timesteps kept,
parameters finite) and, when calibration data is present, the float reference is run on up to
:data:`CHECK_SAMPLES` calibration samples: a pass that claims to preserve outputs must
reproduce them exactly (``VerifyError`` otherwise); for pruning the agreement is recorded. The
history is stored on the input layer (``attrs["pipeline"]``) for ``inspect`` and the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from snnc.cost.mapping import check_mode
from snnc.errors import VerifyError
from snnc.ir.layers import Graph
from snnc.passes.calibrate import calibrate
from snnc.passes.dead_neurons import eliminate_dead_neurons
from snnc.passes.kernel_choice import choose_kernels
from snnc.passes.mapping import assign_mapping
from snnc.passes.prune import agreement_on_drive
from snnc.passes.prune import prune as prune_weights
from snnc.reference.encode import encode
from snnc.reference.simulate import run_graph
from snnc.target import Target

CHECK_SAMPLES = 64


@dataclass(frozen=True)
class Step:
    """One pass: a pure ``Graph -> Graph`` function and what it promises."""

    name: str
    run: Callable[[Graph], Graph]
    guarantee: str
    preserves_outputs: bool = True


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


class Pipeline:
    """Runs its steps in the given order; never loops to a fixpoint."""

    def __init__(self, steps: list[Step], check_inputs: np.ndarray | None = None) -> None:
        self.steps = list(steps)
        self.check_inputs = check_inputs

    def describe(self) -> str:
        return "\n".join(f"{i + 1}. {s.name}: {s.guarantee}" for i, s in enumerate(self.steps))

    def run(self, graph: Graph, log: Callable[[str], None] | None = None) -> PipelineResult:
        history = []
        reference = self._outputs(graph)
        for step in self.steps:
            if log is not None:
                log(f"pass {step.name}")
            after = step.run(graph)
            _verify_structure(step.name, graph, after)
            record = self._check(step, graph, after, reference)
            if not step.preserves_outputs:
                reference = self._outputs(after)
            history.append(record)
            graph = after
        records = tuple(r.as_dict() for r in history)
        graph = graph.replace_layers([graph.layers[0].with_attrs(pipeline=records),
                                      *graph.layers[1:]])
        return PipelineResult(graph, tuple(history))

    def _drive(self, graph: Graph) -> np.ndarray | None:
        """The first :data:`CHECK_SAMPLES` calibration samples, encoded."""
        if self.check_inputs is None:
            return None
        drive = encode(self.check_inputs, graph.timesteps, graph.encoding, graph.input.shape)
        return drive[:, :CHECK_SAMPLES]

    def _outputs(self, graph: Graph) -> np.ndarray | None:
        drive = self._drive(graph)
        return None if drive is None else run_graph(graph, drive, record=False).output

    def _check(self, step: Step, before: Graph, after: Graph,
               reference: np.ndarray | None) -> PassRecord:
        if reference is None or self.check_inputs is None:
            return PassRecord(step.name, step.guarantee, "structure only (no calibration data)")
        n = reference.shape[1]
        if step.preserves_outputs:
            got = self._outputs(after)
            if not np.array_equal(got, reference):
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
    for lay in after.layers:
        for pname in ("weight", "bias", "threshold", "beta"):
            value = getattr(lay, pname, None)
            if value is not None and not np.all(np.isfinite(np.asarray(value, np.float64))):
                raise VerifyError(f"pass '{name}' left a non-finite {pname} in layer "
                                  f"'{lay.name}'")


def build_pipeline(target: Target, calib: np.ndarray | None = None, mapping: str = "auto",
                   prune: float | None = None) -> Pipeline:
    """The fixed pass order for these options (see module docstring)."""
    check_mode(mapping)
    steps: list[Step] = []
    if calib is not None:
        steps.append(Step("calibrate", partial(calibrate, x=calib),
                          "annotations only: spike rates, gamma, twin conditions"))
        steps.append(Step("eliminate_dead_neurons", eliminate_dead_neurons,
                          "removes never-firing neurons; outputs identical on calibration data"))
    if prune is not None:
        steps.append(Step("prune", partial(prune_weights, threshold=prune,
                                           weight_bits=target.numeric.weight_bits),
                          f"zeroes |w| < {prune:g} * max|W| per layer; changes outputs",
                          preserves_outputs=False))
    if calib is not None:
        steps.append(Step("calibrate", partial(calibrate, x=calib),
                          "annotations only: rates of the final graph"))
    steps.append(Step("choose_kernels", partial(choose_kernels, target=target),
                      "annotations only: event-driven or dense kernel per stage"))
    steps.append(Step("assign_mapping", partial(assign_mapping, target=target, mode=mapping),
                      f"annotations only: SNN or QNN per stage ({mapping})"))
    return Pipeline(steps, check_inputs=calib)


def optimize(graph: Graph, target: Target, calib: np.ndarray | None = None,
             mapping: str = "auto", prune: float | None = None,
             log: Callable[[str], None] | None = None) -> Graph:
    """Run the pipeline for ``target``; ``log`` receives one line per pass, in order."""
    return build_pipeline(target, calib, mapping, prune).run(graph, log=log).graph
