"""Calibration: run the float reference on sample inputs and annotate measured activity.

Annotations (``layer.attrs``), rates per value per step over all samples and steps:

- input and neuron layers: ``spike_rate_out`` (mean output level: spikes, or levels of a
  multi-level layer), ``event_rate_out`` (fraction of non-zero outputs), ``gamma_out`` (fraction
  of values whose count over the run is zero: the QNN twin's activation sparsity) and
  ``active`` (bool array of the layer's shape: fired at least once);
- every stage head (neuron layer, or a non-neuron graph output) and the weight layers of its
  stage: ``spike_rate_in`` and ``gamma``, the same measures of the stage's input population
  (for a real-valued input: its fraction of non-zero values);
- neuron layers with a QNN twin: ``twin_exact`` and ``twin_note`` (the equivalence conditions
  checked on this data, see :func:`snnc.passes.snn_to_qnn.check_twin`);
- the input layer: ``calib_samples`` and ``calib_steps``.

Preserves: everything the graph computes (annotations only).
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

import numpy as np

from snnc.cost.shapes import weighted_mean
from snnc.cost.twins import twin_blocker
from snnc.errors import InputError
from snnc.ir.layers import Graph, Input, Layer
from snnc.ir.stages import stages
from snnc.passes.snn_to_qnn import check_twin
from snnc.reference.encode import encode
from snnc.reference.simulate import run_graph

CALIBRATION_KEYS = ("spike_rate_out", "event_rate_out", "gamma_out", "active", "spike_rate_in",
                    "gamma", "twin_exact", "twin_note", "calib_samples", "calib_steps")


def population_stats(values: np.ndarray) -> dict[str, Any]:
    """Activity of a (steps, batch, *shape) array of outputs."""
    counts = values.sum(axis=0)
    return {
        "spike_rate_out": float(np.mean(values, dtype=np.float64)),
        "event_rate_out": float(np.mean(values != 0)),
        "gamma_out": float(np.mean(counts == 0)),
        "active": np.asarray((values != 0).any(axis=(0, 1))),
    }


def calibrate(graph: Graph, x: np.ndarray, steps: int | None = None) -> Graph:
    """Annotate ``graph`` with the activity measured on inputs ``x`` (see module docstring)."""
    steps = steps or graph.timesteps
    drive = encode(x, steps, graph.encoding, graph.input.shape)
    if drive.shape[1] == 0:
        raise InputError("calibration data holds no samples")
    trace = run_graph(graph, drive, record=True)
    outputs = {graph.input.name: drive, **trace.spikes}
    stats = {name: population_stats(arr) for name, arr in outputs.items()}
    real_input = graph.encoding != "rate"
    attrs: dict[str, dict[str, Any]] = {lay.name: dict(stats.get(lay.name, {}))
                                        for lay in graph.layers}
    attrs[graph.input.name].update(calib_samples=int(drive.shape[1]), calib_steps=int(steps))
    for stage in stages(graph):
        rate = weighted_mean([(_input_rate(graph.layer(s), stats[s], real_input),
                               graph.size(s)) for s in stage.sources])
        gamma = weighted_mean([(stats[s]["gamma_out"], graph.size(s)) for s in stage.sources])
        for name in (stage.head, *(w.name for w in stage.weight_layers(graph))):
            attrs[name].update(spike_rate_in=rate, gamma=gamma)
    for lay in graph.neurons():
        if twin_blocker(graph, lay.name) is None:
            check = check_twin(graph, lay.name, drive)
            attrs[lay.name].update(twin_exact=check.exact, twin_note=check.note)
    return graph.replace_layers([_clear(lay).with_attrs(**attrs[lay.name])
                                 for lay in graph.layers])


def _input_rate(layer: Layer, stat: dict[str, Any], real_input: bool) -> float:
    """A real-valued input is charged per non-zero value, spikes per level."""
    if isinstance(layer, Input) and real_input:
        return float(stat["event_rate_out"])
    return float(stat["spike_rate_out"])


def _clear(layer: Layer) -> Layer:
    """Drop stale calibration annotations (a graph may be calibrated again after pruning)."""
    if not any(k in layer.attrs for k in CALIBRATION_KEYS):
        return layer
    kept = {k: v for k, v in layer.attrs.items() if k not in CALIBRATION_KEYS}
    return replace(layer, attrs=MappingProxyType(kept))
