"""Cost every stage of a graph for a target: both mappings, the crossover and the choice.

Activity comes from the calibration annotations (``snnc.passes.calibrate``); a graph without
them is costed at the assumed rate :data:`ASSUMED_RATE`, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from snnc.cost.mapping import Mapping, decide
from snnc.cost.model import (
    Activity,
    Dataflow,
    Energy,
    EnergyParams,
    StageShape,
    best_snn,
    crossover_rate,
    literature_energy,
    params_from_table,
    qnn_energy,
    snn_energy,
)
from snnc.cost.shapes import stage_shape
from snnc.cost.twins import structural_exactness, twin_blocker
from snnc.ir.layers import Graph
from snnc.ir.quantized import NumericProfile
from snnc.ir.stages import Stage, stages
from snnc.target import Target

# Input spike rate assumed for an uncalibrated graph: a round figure in the range trained
# rate-coded SNNs report (a few to ~20 %); only used when no data was given.
ASSUMED_RATE = 0.1


@dataclass(frozen=True)
class StageCost:
    """Everything the report shows for one stage (named after its head layer)."""

    head: str
    kind: str
    members: tuple[str, ...]
    sources: tuple[str, ...]
    shape: StageShape
    activity: Activity
    measured: bool
    snn: Energy
    snn_dataflow: Dataflow
    snn_by_dataflow: dict[str, Energy]
    qnn: Energy
    crossover: float
    twin_blocker: str | None
    twin_note: str
    mapping: Mapping
    reason: str
    literature: dict[str, float] = field(default_factory=dict)
    cost_choice: Mapping | None = None  # the cost model's choice, before the accuracy guard
    agreement: float | None = None  # answers unchanged on the calibration data (mapping_guard)

    @property
    def chosen(self) -> Energy:
        return self.qnn if self.mapping == "qnn" else self.snn


def target_params(target: Target) -> EnergyParams:
    return params_from_table(target.energy, target.path or target.name)


def stage_activity(graph: Graph, stage: Stage) -> tuple[Activity, bool]:
    """(activity, measured?) of a stage from its head's calibration annotations."""
    head = graph.layer(stage.head)
    measured = "spike_rate_in" in head.attrs
    rate_in = float(head.attrs.get("spike_rate_in", ASSUMED_RATE))
    rate_out = float(head.attrs.get("spike_rate_out", rate_in if not measured else 0.0))
    return Activity(timesteps=graph.timesteps, rate_in=rate_in, rate_out=rate_out,
                    gamma=float(head.attrs.get("gamma", 0.0))), measured


def twin_note(graph: Graph, head: str) -> str:
    """What the calibration found about the twin's exactness, or its structural status."""
    layer = graph.layer(head)
    if "twin_note" in layer.attrs:
        return str(layer.attrs["twin_note"])
    structural = structural_exactness(layer)
    if structural is not None:
        return f"approximate twin: {structural}"
    return "exact twin if every step's input current lies in [0, theta)"


def cost_stage(graph: Graph, stage: Stage, params: EnergyParams, profile: NumericProfile,
               mode: str | None, activity: Activity | None = None) -> StageCost:
    """Cost one stage; ``mode`` None keeps a mapping already annotated on the head."""
    shape = stage_shape(graph, stage, profile)
    measured_act, measured = stage_activity(graph, stage)
    act = activity or measured_act
    by_df = {df: snn_energy(shape, act, params, df) for df in params.dataflows}
    dataflow, snn = best_snn(shape, act, params)
    qnn = qnn_energy(shape, act, params)
    cross = crossover_rate(shape, act, params)
    blocker = twin_blocker(graph, stage.head)
    note = "" if blocker is not None else twin_note(graph, stage.head)
    head = graph.layer(stage.head)
    if mode is None and "mapping" in head.attrs:
        mapping, reason = head.attrs["mapping"], str(head.attrs.get("mapping_reason", ""))
    else:
        mapping, reason = decide(mode or "auto", snn, qnn, act.rate_in, cross, blocker, note,
                                 max_rate=float(shape.max_level))
    return StageCost(
        head=stage.head, kind=head.kind, members=stage.members, sources=stage.sources,
        shape=shape, activity=act, measured=measured and activity is None, snn=snn,
        snn_dataflow=dataflow, snn_by_dataflow=by_df, qnn=qnn, crossover=cross,
        twin_blocker=blocker, twin_note=note, mapping=mapping, reason=reason,
        literature=literature_energy(shape, act),
        cost_choice=head.attrs.get("cost_choice", mapping) if mode is None else mapping,
        agreement=head.attrs.get("mapping_agreement"))


def fixed_mapping(target: Target) -> tuple[Mapping, str] | None:
    """The one mapping a target runs every stage in, with the reason, or None if it has both:
    bit-shift neurons (Xylo) only spike, stateless targets (Akida) only run QNN twins."""
    if target.numeric.neuron_model == "bitshift":
        return "snn", f"{target.name} runs spiking neurons only"
    if target.numeric.execution == "qnn":
        return "qnn", f"{target.name} has stateless layers only: every stage runs as its QNN twin"
    return None


def analyze(graph: Graph, target: Target, mode: str | None = None) -> list[StageCost]:
    """Cost every stage of ``graph`` on ``target`` (see :func:`cost_stage` for ``mode``); on a
    target with one mapping (:func:`fixed_mapping`) every stage gets that one."""
    params = target_params(target)
    costs = [cost_stage(graph, st, params, target.numeric, mode) for st in stages(graph)]
    fixed = fixed_mapping(target)
    if fixed is None:
        return costs
    mapping, reason = fixed
    # a stage without a QNN twin keeps its decision (SNN): the target refuses the model later
    return [c if mapping == "qnn" and c.twin_blocker is not None
            else replace(c, mapping=mapping, reason=reason) for c in costs]


def as_json(cost: StageCost) -> dict[str, Any]:
    """A JSON-ready view of one stage (finite floats only; infinities become strings)."""
    return {
        "layer": cost.head, "kind": cost.kind, "members": list(cost.members),
        "sources": list(cost.sources),
        "synapses": cost.shape.synapses, "dynamic_macs": cost.shape.dynamic_macs,
        "outputs": cost.shape.outputs,
        "inputs": cost.shape.inputs, "weights": cost.shape.weights,
        "weight_bits": cost.shape.weight_bits, "input_kind": cost.shape.in_kind,
        "qnn_bits": cost.shape.qnn_bits(cost.activity.timesteps),
        "timesteps": cost.activity.timesteps, "rate_in": cost.activity.rate_in,
        "rate_out": cost.activity.rate_out, "gamma": cost.activity.gamma,
        "measured": cost.measured,
        "snn_pj": cost.snn.as_dict(), "snn_dataflow": cost.snn_dataflow,
        "snn_pj_by_dataflow": {k: v.as_dict() for k, v in sorted(cost.snn_by_dataflow.items())},
        "qnn_pj": cost.qnn.as_dict(), "crossover_rate": _finite(cost.crossover),
        "twin": cost.twin_blocker is None, "twin_note": cost.twin_note or cost.twin_blocker,
        "mapping": cost.mapping, "reason": cost.reason, "literature": cost.literature,
        "cost_choice": cost.cost_choice, "mapping_agreement": cost.agreement,
    }


def _finite(x: float) -> float | str:
    if x != x or x in (float("inf"), float("-inf")):
        return "always snn" if x == float("inf") else ("always qnn" if x < 0 else "nan")
    return x
