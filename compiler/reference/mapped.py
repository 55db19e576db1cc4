"""Reference execution of a graph with per-layer SNN / QNN mapping (float and integer).

Layers with ``attrs["mapping"] == "qnn"`` (produced by ``snnc.passes.snn_to_qnn.convert``)
run once per inference on counts; all other layers run step by step as in
``snnc.reference.simulate`` / ``snnc.reference.integer``, whose kernels this module reuses.

Execution is layer by layer over whole time series, so the graph must be feed-forward when any
layer is QNN-mapped. At the edges between the two worlds:

- step series -> count: the sum over the run's steps (what a QNN layer reads);
- count -> step series: the count ``c`` spread evenly, ``floor((t+1) c / T) - floor(t c / T)``
  at step ``t`` (the deterministic rate code), which an SNN layer downstream of a QNN layer reads.
  A synapse reading a count through this spread is reading the previous stage, so it reads it
  ``synapse_delay`` steps late, like any source.

Reshapes, average/sum pooling and adds are in count form when all their readers run once (they
commute with summing over time, so the counts a QNN layer reads through them are its sources'
undelayed sums); everything else works on step series, and a QNN layer read by one is spread
right at its output. The integer
profile's synaptic delay shifts step series exactly as in the integer executor; counts have no
delay (the QNN layer runs after its inputs are complete).

This is the one mixed-schedule semantics every backend reproduces: :func:`mapped_trace` turns a
run into the reference's :class:`Trace` layout (a QNN layer's levels and a count-form output
appear as their spread step series, so summing over steps gives the levels back), and
:func:`phases` says when each layer runs, which is how a backend schedules it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from snnc.errors import UnsupportedError
from snnc.ir import layers as ir
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.reference import integer, simulate
from snnc.reference.blas import one_blas_thread

# The step executors' private synapse dispatchers are reused on purpose: a mapped run must
# compute exactly what a step-by-step run computes for every SNN layer.
from snnc.reference.integer import synapse_value
from snnc.reference.simulate import Trace
from snnc.reference.simulate import _synapse as _float_synapse

SERIES, COUNT = "series", "count"


@dataclass(frozen=True)
class MappedRun:
    """``counts[name]``: per neuron layer, its output summed over the run (SNN) or its single
    QNN output (levels); ``output``: the same for the graph output, (batch, *shape).
    ``series``: per neuron layer and for the output, the step series (QNN levels spread);
    ``v``: the membrane after every step of each SNN-run LIF/CubaLIF layer."""

    counts: dict[str, np.ndarray]
    output: np.ndarray
    series: dict[str, np.ndarray]
    output_series: np.ndarray
    v: dict[str, np.ndarray]


def mapped_trace(run: MappedRun) -> Trace:
    """The run in the reference's trace layout (comparable with ``numpy.array_equal``)."""
    return Trace(output=run.output_series, spikes=dict(run.series), v=dict(run.v))


def is_qnn(layer: ir.Layer) -> bool:
    """A layer run once per inference: a neuron mapped to QNN (which must be converted), or the
    synapse a conversion made part of a twin (a synapse merely annotated ``mapping = "qnn"``,
    its neuron left SNN, still runs every step)."""
    if layer.attrs.get("mapping") != "qnn":
        return False
    return layer.is_neuron or "twin_for" in layer.attrs


def has_twins(graph: ir.Graph) -> bool:
    """Whether ``graph`` holds converted QNN twins, i.e. needs the mixed schedule."""
    return any(lay.is_neuron and is_qnn(lay) and "twin_of" in lay.attrs
               for lay in graph.layers)


@dataclass(frozen=True)
class _Ops:
    """The arithmetic of one executor mode."""

    synapse: Callable[[ir.Layer, list[np.ndarray]], np.ndarray]
    # (T, B, ...) current -> (outputs, membranes or None)
    neuron: Callable[[ir.Layer, np.ndarray], tuple[np.ndarray, np.ndarray | None]]
    twin: Callable[[ir.Layer, np.ndarray], np.ndarray]  # (B, ...) summed current -> levels
    dtype: type
    delay: int


def run_mapped(graph: ir.Graph, drive: np.ndarray) -> MappedRun:
    """Float run of ``graph`` on an encoded drive (steps, batch, *input_shape)."""

    def neuron(lay: ir.Layer, current: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        out, vs = [], []
        v = np.zeros(current.shape[1:], np.float32)
        u = np.zeros_like(v)
        for a in current:
            if isinstance(lay, ir.LIF):
                s, v = simulate.lif_step(lay, a, v)
            elif isinstance(lay, ir.CubaLIF):
                s, u, v = simulate.cuba_step(lay, a, u, v)
            else:
                assert isinstance(lay, ir.MultiLevelSpike)
                s = simulate.multilevel_step(lay, a)
            out.append(np.asarray(s, np.float32))
            vs.append(v)
        membranes = np.stack(vs) if isinstance(lay, ir.LIF | ir.CubaLIF) else None
        return np.stack(out), membranes

    def twin(lay: ir.Layer, current: np.ndarray) -> np.ndarray:
        assert isinstance(lay, ir.MultiLevelSpike)
        return simulate.multilevel_step(lay, current)

    ops = _Ops(synapse=lambda lay, args: _float_synapse(lay, args).astype(np.float32),
               neuron=neuron, twin=twin, dtype=np.float32, delay=0)
    return _run(graph, np.asarray(drive, np.float32), ops)


def run_mapped_quantized(qg: QuantizedGraph, drive: np.ndarray) -> MappedRun:
    """Integer run of ``qg`` (its profile, including the synaptic delay) on a float drive."""
    p = qg.profile

    def q(lay: ir.Layer) -> QuantLayer:
        return qg.layers.get(lay.name, QuantLayer())

    def neuron(lay: ir.Layer, current: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        out, vs = [], []
        u = np.zeros(current.shape[1:], np.int64)
        v = np.zeros_like(u)
        for a in current:
            if isinstance(lay, ir.LIF | ir.CubaLIF):
                s, u, v = integer.neuron_step(lay, q(lay), p, a, u, v)
            else:
                assert isinstance(lay, ir.MultiLevelSpike)
                s = integer.multilevel_step(lay, q(lay), p, a)
            out.append(np.asarray(s, np.int64))
            vs.append(v.copy())
        membranes = np.stack(vs) if isinstance(lay, ir.LIF | ir.CubaLIF) else None
        return np.stack(out), membranes

    def twin(lay: ir.Layer, current: np.ndarray) -> np.ndarray:
        assert isinstance(lay, ir.MultiLevelSpike)
        return integer.multilevel_step(lay, q(lay), p, current)

    ops = _Ops(synapse=lambda lay, args: synapse_value(lay, q(lay), p, args),
               neuron=neuron, twin=twin, dtype=np.int64, delay=p.synapse_delay)
    x_int = np.stack([qg.quantize_input(d) for d in np.asarray(drive)])
    return _run(qg.graph, x_int, ops)


def _check(graph: ir.Graph) -> None:
    mapped = [lay for lay in graph.layers if is_qnn(lay)]
    if not mapped:
        return
    for lay in graph.layers:
        if getattr(lay, "recurrent", False):
            raise UnsupportedError("QNN-mapped layers need a feed-forward graph; this synapse "
                                   "is recurrent", layer=lay.name)
    for lay in mapped:
        if lay.is_neuron and not (isinstance(lay, ir.MultiLevelSpike) and lay.axis is None):
            raise UnsupportedError(
                "mapped to QNN but not converted; run snnc.passes.snn_to_qnn.convert first",
                layer=lay.name)


def spread(count: np.ndarray, steps: int, dtype: type) -> np.ndarray:
    """(batch, ...) counts -> (steps, batch, ...) evenly spread step values."""
    c = np.asarray(count, np.float64)
    t = np.arange(steps + 1, dtype=np.float64).reshape((-1,) + (1,) * c.ndim)
    return np.diff(np.floor(t * c[None] / steps + 1e-9), axis=0).astype(dtype)


@one_blas_thread()
def _run(graph: ir.Graph, drive: np.ndarray, ops: _Ops) -> MappedRun:
    _check(graph)
    once = _once(graph)
    steps = drive.shape[0]
    values: dict[str, tuple[str, np.ndarray]] = {}
    membranes: dict[str, np.ndarray] = {}

    def as_count(name: str) -> np.ndarray:
        form, arr = values[name]
        return arr if form == COUNT else arr.sum(axis=0)

    def as_series(consumer: ir.Layer | None, name: str) -> np.ndarray:
        form, arr = values[name]
        series = arr if form == SERIES else spread(arr, steps, ops.dtype)
        if consumer is None:
            return series
        src = graph.layer(name)
        crosses = src.is_neuron or isinstance(src, ir.Input) or form == COUNT
        lag = ops.delay if crosses and not consumer.is_neuron else 0
        if lag == 0:
            return series
        shifted = np.zeros_like(series)
        shifted[lag:] = series[: steps - lag]
        return shifted

    for lay in graph.layers:
        if isinstance(lay, ir.Input):
            values[lay.name] = (SERIES, drive)
        elif is_qnn(lay) and lay.is_neuron:
            values[lay.name] = (COUNT, ops.twin(lay, as_count(lay.inputs[0])))
        elif lay.name in once:
            values[lay.name] = (COUNT, ops.synapse(lay, [as_count(s) for s in lay.inputs]))
        elif lay.is_neuron:
            out, v = ops.neuron(lay, as_series(lay, lay.inputs[0]))
            values[lay.name] = (SERIES, out)
            if v is not None:
                membranes[lay.name] = v
        else:
            args = [as_series(lay, s) for s in lay.inputs]
            folded = [a.reshape((-1, *a.shape[2:])) for a in args]
            out = ops.synapse(lay, folded)
            values[lay.name] = (SERIES, out.reshape((steps, -1, *out.shape[1:])))
    neurons = [lay.name for lay in graph.layers if lay.is_neuron]
    return MappedRun(counts={n: as_count(n) for n in neurons}, output=as_count(graph.output),
                     series={n: as_series(None, n) for n in neurons},
                     output_series=as_series(None, graph.output), v=membranes)


def phases(graph: ir.Graph) -> dict[str, tuple[int, bool]]:
    """When each layer runs: ``(phase, once)``.

    Phase 0 layers run step by step from the input; a layer in count form (``once``) runs once
    after the steps of its phase; a step-series layer reading a count (through the spread)
    runs in the phase after that count's. A backend runs phase 0 per input step, then, to
    finish the inference, each later phase's steps after the counts that feed them.
    """
    if not has_twins(graph):  # everything steps, recurrence included
        return {lay.name: (0, False) for lay in graph.layers}
    _check(graph)
    once = _once(graph)
    when: dict[str, tuple[int, bool]] = {}
    for lay in graph.layers:
        if isinstance(lay, ir.Input):
            when[lay.name] = (0, False)
            continue
        srcs = [when[s] for s in lay.inputs]
        if lay.name in once:
            when[lay.name] = (max(ph for ph, _ in srcs), True)
        else:
            when[lay.name] = (max(ph + int(o) for ph, o in srcs), False)
    return when


def _once(graph: ir.Graph) -> set[str]:
    """The layers in count form: QNN layers, and reshapes, sum/average pooling and adds all of
    whose readers run once too (they commute with summing over time, so a QNN layer reads its
    sources' undelayed counts through them). A QNN layer read by a step-series layer is spread
    right at its output (it emits its level as an even spike train), so a pooling behind it
    runs on steps, exactly as behind an SNN layer."""
    readers: dict[str, list[str]] = {}
    for lay in graph.layers:
        for src in lay.inputs:
            readers.setdefault(src, []).append(lay.name)
    once = {lay.name for lay in graph.layers if is_qnn(lay)}
    for lay in reversed(graph.layers):
        mine = readers.get(lay.name, [])
        if _commutes(lay) and mine and all(r in once for r in mine):
            once.add(lay.name)
    return once


def _commutes(layer: ir.Layer) -> bool:
    """Layers that commute with summing over time."""
    if isinstance(layer, ir.Pool2d):
        return layer.pool != "max"
    return isinstance(layer, ir.Flatten | ir.Reshape | ir.Add)
