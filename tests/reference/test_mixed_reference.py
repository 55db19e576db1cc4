"""The one mixed-schedule integer semantics: QNN-mapped stages once per inference on counts,
SNN stages step by step, and the trace every backend is compared with."""

import numpy as np
import pytest

from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.passes.quantize import quantize
from snnc.passes.snn_to_qnn import apply_mapping
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.reference.mapped import phases, run_mapped_quantized, spread
from snnc.target import load_target


def _chain(seed: int, steps: int = 6) -> Graph:
    rng = np.random.default_rng(seed)
    layers: list = [Input("x", (), shape=(12,))]
    prev, prev_n = "x", 12
    for i, n in enumerate((10, 8, 5)):
        w = rng.normal(0.4, 0.6, (n, prev_n)).astype(np.float32)
        layers.append(Dense(f"fc{i}", (prev,), weight=w))
        layers.append(LIF(f"n{i}", (f"fc{i}",), beta=np.float32(1.0 if i != 1 else 0.9),
                          threshold=np.float32(1.0), reset="subtract"))
        prev, prev_n = f"n{i}", n
    return Graph(tuple(layers), output=prev, timesteps=steps, encoding="rate", name="chain")


def _mark(graph: Graph, names: set[str]) -> Graph:
    marked = []
    for lay in graph.layers:
        head = lay.name if lay.is_neuron else next(
            (c.name for c in graph.consumers(lay.name) if c.is_neuron), "")
        marked.append(lay.with_attrs(mapping="qnn") if head in names else lay)
    return graph.replace_layers(marked)


@pytest.mark.parametrize("chosen", [set(), {"n0"}, {"n1"}, {"n0", "n2"}, {"n0", "n1", "n2"}])
@pytest.mark.parametrize("target", ["cortex-m4", "spinnaker2"])
def test_qnn_stages_run_once_on_counts_and_appear_as_their_spread_levels(chosen, target):
    graph = _chain(1)
    x = np.random.default_rng(2).random((9, 12)).astype(np.float32)
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    qg = apply_mapping(quantize(_mark(graph, chosen), load_target(target).numeric, calib=x))
    trace = run_quantized(qg, drive)
    run = run_mapped_quantized(qg, drive)
    for name in ("n0", "n1", "n2"):
        assert np.array_equal(trace.spikes[name].sum(axis=0), run.counts[name])
        if name in chosen:  # the level, spread evenly over the steps; no membrane
            assert np.array_equal(trace.spikes[name],
                                  spread(run.counts[name], graph.timesteps, np.int64))
            assert name not in trace.v
        else:
            assert trace.v[name].shape == trace.spikes[name].shape
    assert np.array_equal(trace.output.sum(axis=0), run.output)
    if not chosen:  # no QNN stage: exactly the step-by-step integer reference
        assert phases(qg.graph)["n2"] == (0, False)


def test_phases_follow_the_counts():
    qg = apply_mapping(quantize(_mark(_chain(3), {"n0"}), load_target("cortex-m4").numeric))
    when = phases(qg.graph)
    assert when["fc0"] == (0, True) and when["n0"] == (0, True)
    assert when["fc1"] == (1, False) and when["n2"] == (1, False)
