"""Accuracy guard of ``--mapping auto``: a QNN twin is kept only where it cannot change what the
model answers on the calibration data.

``assign_mapping`` picks the cheaper mapping per stage; this pass then keeps a stage's QNN twin
only if the calibration showed it exact (every step's input current in the twin's range, so its
spike counts are those of the SNN), or if, with it applied, the mapped model's *agreement* with
the all-SNN model on the calibration data stays at least ``tolerance``. The agreement is the
fraction of calibration samples whose predicted class (the output with the most spikes, as
``snnc.api.predict`` counts them, the lower index on ties) is unchanged; the default tolerance
1.0 keeps the answers identical. Approximate twins are tried in graph order, the most expensive
SNN stage first among equals, each kept only if the set so far still meets the tolerance.
Without calibration data nothing can be checked, so ``auto`` keeps every stage SNN (``--mapping
qnn`` forces every twin regardless).

Every stage's head gets ``mapping_agreement`` (the agreement of the mapping finally applied)
and a reason that says why a twin was refused. Preserves: the graph's values (annotations only).
"""

from __future__ import annotations

import numpy as np

from snnc.errors import InputError, UnsupportedError
from snnc.ir.layers import Graph
from snnc.passes.snn_to_qnn import convert
from snnc.reference.encode import encode
from snnc.reference.mapped import run_mapped

QNN, SNN = "qnn", "snn"


def check_tolerance(tolerance: float) -> float:
    if not 0.0 <= tolerance <= 1.0:
        raise InputError(f"--mapping-tolerance must lie in [0, 1], not {tolerance:g}")
    return float(tolerance)


def _classes(graph: Graph, drive: np.ndarray) -> np.ndarray:
    counts = run_mapped(graph, drive).output
    flat = np.asarray(counts, np.float64).reshape(counts.shape[0], -1)
    return flat.argmax(axis=1)


def _all_snn(graph: Graph) -> Graph:
    """The graph with every stage run as SNN (the annotations of the choice dropped)."""
    return graph.replace_layers([lay.with_attrs(mapping=SNN) if lay.attrs.get("mapping") == QNN
                                 else lay for lay in graph.layers])


def agreement(graph: Graph, names: list[str], drive: np.ndarray,
              baseline: np.ndarray | None = None) -> float:
    """Fraction of the samples of ``drive`` whose class is unchanged when ``names`` run as
    their QNN twins (``baseline``: the all-SNN classes, computed when not given)."""
    graph = _all_snn(graph)
    base = _classes(graph, drive) if baseline is None else baseline
    if not names:
        return 1.0
    mapped = _classes(convert(graph, names), drive)
    return float(np.mean(mapped == base)) if base.size else 1.0


def _exact(graph: Graph, name: str) -> bool:
    return bool(graph.layer(name).attrs.get("twin_exact", False))


def _set(graph: Graph, name: str, mapping: str, reason: str) -> dict[str, dict]:
    """The attribute updates that flip stage ``name`` (head and its weight layers)."""
    lay = graph.layer(name)
    full = f"{reason}; cost model: {lay.attrs.get('mapping_reason', '')}"
    return {n: {"mapping": mapping, "mapping_reason": full} for n in (name, lay.inputs[0])}


def guard_mapping(graph: Graph, calib: np.ndarray | None, tolerance: float = 1.0,
                  mode: str = "auto", runs_qnn: bool = True) -> Graph:
    """Keep ``auto``'s QNN choices only where the accuracy guard allows (module docstring);
    ``runs_qnn`` False (a backend that runs every stage as SNN) keeps every stage SNN under
    ``auto`` and refuses ``qnn``."""
    check_tolerance(tolerance)
    chosen = [lay.name for lay in graph.layers
              if lay.is_neuron and lay.attrs.get("mapping") == QNN]
    updates: dict[str, dict] = {}
    if chosen and not runs_qnn:
        if mode == QNN:
            raise UnsupportedError("--mapping qnn: this target's backend runs every stage as "
                                   "SNN (choose --mapping snn or auto)", layer=chosen[0])
        final, score = [], None
        for name in chosen:
            updates.update(_set(graph, name, SNN, (
                "the QNN twin would be cheaper, but this target's backend runs every stage "
                "as SNN")))
    elif mode != "auto" or not chosen:
        final = chosen
        score = None
        if chosen and calib is not None and mode == QNN:
            drive = encode(calib, graph.timesteps, graph.encoding, graph.input.shape)
            score = agreement(graph, chosen, drive)
    elif calib is None:
        final, score = [], None
        for name in chosen:
            updates.update(_set(graph, name, SNN, (
                "the QNN twin would be cheaper, but without calibration data its effect on "
                "the answers cannot be checked (give --calib, or force --mapping qnn)")))
    else:
        drive = encode(calib, graph.timesteps, graph.encoding, graph.input.shape)
        base = _classes(_all_snn(graph), drive)
        final = [n for n in chosen if _exact(graph, n)]
        score = agreement(graph, final, drive, base)
        for name in chosen:
            if name in final:
                continue
            trial = agreement(graph, [n for n in chosen if n in final or n == name], drive, base)
            if trial >= tolerance:
                final = [n for n in chosen if n in final or n == name]
                score = trial
            else:
                reason = (f"the QNN twin would be cheaper, but it is approximate on the "
                          f"calibration data and the answers would agree on only "
                          f"{100 * trial:.2f} % of it (tolerance {100 * tolerance:.2f} %)")
                updates.update(_set(graph, name, SNN, reason))
    layers = []
    for lay in graph.layers:
        attrs = dict(updates.get(lay.name, {}))
        if lay.is_neuron and score is not None:
            attrs["mapping_agreement"] = score
        layers.append(lay.with_attrs(**attrs) if attrs else lay)
    return graph.replace_layers(layers)
