"""SNN -> QNN conversion of a layer (the "QNN twin", arXiv 2409.08290 Theorem 1).

An IF neuron (``beta = 1``) with reset by subtraction, started at ``v = 0`` and driven for ``T``
steps by currents ``I_t`` in ``[0, theta)``, keeps ``0 <= v < theta`` after every step, so it
fires exactly ``N = floor(Y / theta)`` times, ``Y = sum_t I_t`` (``compare = "gt"`` with
``I_t`` in ``[0, theta]``: ``N = ceil(Y / theta) - 1``, clipped at 0). The count depends only on
the summed current, and for a synapse ``I_t = W s_t + b``: ``Y = W c + T b`` with ``c`` the
source's spike counts. So the layer equals a QNN layer that runs *once per inference on counts*
and emits a level ``0..T``, i.e. ``b = ceil(log2(T + 1))`` bits.

The twin is written with existing layer types, so backends need no new kernels:
``MultiLevelSpike(levels=T, axis=None, theta=theta)`` computes ``clip(floor(I/theta + 1/2),
0, T)``; folding ``T*(b_syn + b_neuron) - theta/2`` into the feeding synapse's bias turns the
rounding into the floor above. Weights are unchanged (integer weights stay bit-identical).

Time semantics: a converted layer (attribute ``mapping = "qnn"``) is evaluated once per
inference on its sources' counts; ``snnc.reference.mapped`` executes such graphs. Other layers
keep their step-by-step meaning. Preserves: every layer not converted, all weights; for exact
twins (:func:`snnc.cost.twins.structural_exactness`) the converted layer's counts, provided
every step's input current lies in the range above (:func:`check_twin` measures it on data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from snnc.cost.twins import bias_len, fold_bias, scalar_value, structural_exactness, twin_blocker
from snnc.errors import QuantizationError, UnsupportedError
from snnc.ir import layers as ir
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.reference.simulate import run_graph

QNN = "qnn"


@dataclass(frozen=True)
class TwinCheck:
    """Result of checking the equivalence conditions of one layer on data."""

    layer: str
    exact: bool
    note: str
    current_min: float = 0.0
    current_max: float = 0.0


def check_twin(graph: ir.Graph, name: str, drive: np.ndarray) -> TwinCheck:
    """Are the twin's conditions met for ``name`` on the encoded ``drive`` (steps, batch, ...)?

    Measures the per-step input current (synapse output plus neuron bias) with the float
    reference and compares it with ``[0, theta)`` (``[0, theta]`` for ``compare = "gt"``).
    """
    blocker = twin_blocker(graph, name)
    if blocker is not None:
        return TwinCheck(name, False, f"no twin: {blocker}")
    lay = graph.layer(name)
    structural = structural_exactness(lay)
    if structural is not None:
        return TwinCheck(name, False, f"approximate twin: {structural}")
    syn = lay.inputs[0]
    end = next(i for i, x in enumerate(graph.layers) if x.name == syn) + 1
    current = run_graph(graph.replace_layers(graph.layers[:end], output=syn), drive,
                        record=False).output
    if lay.bias is not None:
        current = current + np.asarray(lay.bias, np.float32)
    theta = float(scalar_value(lay.threshold))
    lo, hi = float(np.min(current)), float(np.max(current))
    top_ok = hi <= theta if lay.compare == "gt" else hi < theta
    bracket = "]" if lay.compare == "gt" else ")"
    if lo >= 0 and top_ok:
        note = f"exact twin: input current in [{lo:.4g}, {hi:.4g}] within [0, theta{bracket}"
        return TwinCheck(name, True, note, lo, hi)
    note = (f"approximate twin: input current reached [{lo:.4g}, {hi:.4g}], outside "
            f"[0, {theta:.4g}{bracket}")
    return TwinCheck(name, False, note, lo, hi)


def convertible(graph: ir.Graph) -> list[str]:
    """Neuron layers that have a twin, in graph order."""
    return [lay.name for lay in graph.layers
            if lay.is_neuron and twin_blocker(graph, lay.name) is None]


def convert(graph: ir.Graph, names: Iterable[str] | None = None,
            steps: int | None = None) -> ir.Graph:
    """Replace each named neuron layer (default: every convertible one) by its QNN twin.

    The result is meant for :func:`snnc.reference.mapped.run_mapped`, which runs the
    ``mapping = "qnn"`` layers once per inference; ``steps`` is T (default the model's).
    """
    steps = steps or graph.timesteps
    chosen = list(names) if names is not None else convertible(graph)
    layers = {lay.name: lay for lay in graph.layers}
    for name in chosen:
        blocker = twin_blocker(graph, name)
        if blocker is not None:
            raise UnsupportedError(f"no QNN twin: {blocker}", layer=name)
        neuron = graph.layer(name)
        assert isinstance(neuron, ir.LIF | ir.CubaLIF)  # guaranteed by twin_blocker
        syn = graph.layer(neuron.inputs[0])
        assert isinstance(syn, ir.Dense | ir.Conv2d)
        theta = float(scalar_value(neuron.threshold))
        total = fold_bias(syn, _as_bias(neuron.bias))
        assert total is not None
        if syn.bias is not None:
            total = total + np.asarray(syn.bias, np.float64)
        bias = steps * total - theta / 2
        layers[syn.name] = replace(syn, bias=bias.astype(np.float32)).with_attrs(
            mapping=QNN, twin_for=name)
        layers[name] = ir.MultiLevelSpike(
            name, neuron.inputs, levels=steps, alpha=1.0, axis=None, theta=theta,
            attrs={**neuron.attrs, "mapping": QNN, "twin_of": neuron.kind,
                   "twin_timesteps": steps})
    return graph.replace_layers([layers[lay.name] for lay in graph.layers])


def convert_quantized(qg: QuantizedGraph, names: Iterable[str] | None = None,
                      steps: int | None = None) -> QuantizedGraph:
    """The integer twin, derived from the SNN's own integer parameters so that it is exact.

    With ``theta' = vth << (threshold_shift - input_shift)`` the integer IF fires
    ``floor(Y / theta')`` times (``Y`` = summed integer current incl. bias); the twin synapse
    bias is ``T*(b_syn + b_neuron) - h`` with ``h = theta' // 2`` (``+ 1`` for ``compare = "gt"``),
    which makes the integer ``MultiLevelSpike`` rounding exactly that floor.
    """
    graph, p = qg.graph, qg.profile
    steps = steps or graph.timesteps
    chosen = list(names) if names is not None else convertible(graph)
    twin = convert(graph, chosen, steps)
    shift = p.threshold_shift - p.input_shift
    layers = dict(qg.layers)
    for name in chosen:
        neuron = graph.layer(name)
        assert isinstance(neuron, ir.LIF | ir.CubaLIF)
        if shift < 0:
            raise UnsupportedError(
                f"threshold_shift < input_shift ({p.threshold_shift} < {p.input_shift}): the "
                "integer twin threshold would be fractional", layer=name, target=qg.target)
        syn = graph.layer(neuron.inputs[0])
        assert isinstance(syn, ir.Dense | ir.Conv2d)
        q_n, q_s = qg.q(name), qg.q(syn.name)
        vth = scalar_value(q_n.vth)
        if vth is None:
            raise UnsupportedError("per-neuron integer thresholds", layer=name)
        theta = int(vth) << shift
        h = theta // 2 + (1 if neuron.compare == "gt" else 0)
        total = fold_bias(syn, _as_int_bias(q_n.bias))
        assert total is not None
        syn_bias = np.zeros(bias_len(syn), np.int64) if q_s.bias is None else q_s.bias
        bias = steps * (np.asarray(syn_bias, np.int64) + total) - h
        if np.any(np.abs(bias) >= 1 << 31):
            raise QuantizationError(
                f"layer '{syn.name}': the twin bias T*(b_syn + b_neuron) - theta/2 needs more "
                "than 32 bits; use fewer steps or a smaller bias")
        layers[syn.name] = replace(q_s, bias=bias.astype(np.int64))
        layers[name] = QuantLayer(unit=1.0, vth=np.asarray(theta, np.int64))
    return replace(qg, graph=twin, layers=layers)


def mapped_neurons(graph: ir.Graph) -> list[str]:
    """Neuron layers the mapping pass chose to run as QNN (``mapping = "qnn"``) that are not
    converted yet, in graph order."""
    return [lay.name for lay in graph.layers
            if lay.is_neuron and lay.attrs.get("mapping") == QNN
            and not isinstance(lay, ir.MultiLevelSpike)]


def apply_mapping(qg: QuantizedGraph, steps: int | None = None) -> QuantizedGraph:
    """Realise the per-stage choice: every stage annotated ``mapping = "qnn"`` becomes its
    integer twin (:func:`convert_quantized`), so that the graph every executor receives runs
    those stages once per inference. ``steps`` is the run's T (default the model's): the twin
    bias depends on it. A graph with no QNN stage is returned unchanged."""
    names = mapped_neurons(qg.graph)
    if not names:
        return qg
    return convert_quantized(qg, names, steps)


def _as_bias(bias: np.ndarray | None) -> np.ndarray:
    return np.zeros((), np.float64) if bias is None else np.asarray(bias, np.float64)


def _as_int_bias(bias: np.ndarray | None) -> np.ndarray:
    return np.zeros((), np.int64) if bias is None else np.asarray(bias, np.int64)
