"""Kernel choice: event-driven or dense synapse kernel per stage, from the measured rate.

For each stage the SNN energy of the target's dataflows is compared at the stage's input rate
(:func:`snnc.cost.model.best_snn`): the sparse (event-driven) dataflow pays per input event,
the dense one per synapse and step regardless of activity. The weight layers of the stage get
``kernel = "event" | "dense"``, ``kernel_reason`` and ``kernel_crossover_rate`` (the rate
above which the dense kernel is cheaper).

Preserves: everything the graph computes (annotations only; both kernels compute the same sums).
"""

from __future__ import annotations

import math

from snnc.cost.analysis import stage_activity, target_params
from snnc.cost.model import Activity, EnergyParams, StageShape, snn_affine
from snnc.cost.shapes import stage_shape
from snnc.ir.layers import Graph
from snnc.ir.stages import stages
from snnc.target import Target

KERNELS = {"sparse": "event", "dense": "dense"}


def dense_crossover(shape: StageShape, timesteps: int, params: EnergyParams) -> float:
    """Input rate where the event-driven and the dense SNN dataflows cost the same
    (``inf``: event-driven always cheaper, ``-inf``: dense always cheaper)."""
    act = Activity(timesteps=timesteps, rate_in=0.0)
    sparse, dense = snn_affine(shape, act, params, "sparse"), snn_affine(shape, act, params,
                                                                          "dense")
    slope = sparse.per_rate.total - dense.per_rate.total
    gap = dense.fixed.total - sparse.fixed.total
    if slope <= 0:
        return math.inf if gap >= 0 else -math.inf
    return gap / slope


def choose_kernels(graph: Graph, target: Target) -> Graph:
    """Annotate every weight layer with the cheaper SNN kernel for ``target``."""
    params = target_params(target)
    annotated = {lay.name: lay for lay in graph.layers}
    for stage in stages(graph):
        shape = stage_shape(graph, stage, target.numeric)
        act, measured = stage_activity(graph, stage)
        kernel, reason, cross = _choice(shape, act.rate_in, graph.timesteps, params, measured)
        for lay in stage.weight_layers(graph):
            annotated[lay.name] = lay.with_attrs(kernel=kernel, kernel_reason=reason,
                                                 kernel_crossover_rate=cross)
    return graph.replace_layers([annotated[lay.name] for lay in graph.layers])


def _choice(shape: StageShape, rate: float, timesteps: int, params: EnergyParams,
            measured: bool) -> tuple[str, str, float]:
    if len(params.dataflows) == 1:
        only = params.dataflows[0]
        return KERNELS[only], f"the target only has the {KERNELS[only]} dataflow", math.nan
    cross = dense_crossover(shape, timesteps, params)
    what = "input rate" if measured else "assumed input rate"
    if math.isinf(cross):
        kernel = "event" if cross > 0 else "dense"
        return kernel, f"the {kernel} kernel is cheaper at every rate", cross
    if rate < cross:
        return "event", f"{what} {100 * rate:.2f} % is below the dense break-even " \
                        f"{100 * cross:.2f} %", cross
    return "dense", f"{what} {100 * rate:.2f} % is at or above the dense break-even " \
                    f"{100 * cross:.2f} %", cross
