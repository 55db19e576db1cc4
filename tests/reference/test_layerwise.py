"""The integer reference's fast paths give the definition's results bit for bit.

``run_layerwise`` (a block of steps at once per layer) against ``run_stepwise`` (the definition),
and the kernels' exact float BLAS path against plain int64 arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from testkit.traces import assert_same_trace

from snnc.ir.layers import (
    LIF,
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Layer,
    MultiLevelSpike,
    Pool2d,
    Reshape,
    SpikingSelfAttention,
)
from snnc.ir.quantized import NumericProfile
from snnc.passes.quantize import quantize
from snnc.reference import kernels
from snnc.reference.integer import run_quantized, run_stepwise
from snnc.reference.layerwise import run_layerwise
from snnc.target import load_target

F32 = np.float32
I64 = np.int64
PROFILES = {name: load_target(name).numeric for name in ("loihi2", "cortex-m4", "spinnaker2")}
PROFILES["no-delay"] = NumericProfile(max_spikes=15)  # graded counts saturate early


def _w(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(0, 1.5 / np.sqrt(np.prod(shape[1:])), shape).astype(F32)


def _neuron(rng: np.random.Generator, name: str, src: str, variant: int) -> Layer:
    """LIF variants (reset kinds and timings, >=, bias) and a CUBA neuron."""
    if variant == 4:
        return CubaLIF(name, (src,), current_decay=F32(0.3), voltage_decay=F32(0.1),
                       threshold=F32(0.8))
    reset = ("zero", "subtract", "zero", "subtract")[variant]
    return LIF(name, (src,), beta=F32(0.85), threshold=F32(0.7), reset=reset,
               reset_timing="next" if variant == 2 else "same",
               compare="ge" if variant == 3 else "gt",
               bias=rng.normal(0, 0.1, 1).astype(F32) if variant == 1 else None)


def mlp(rng: np.random.Generator, variant: int) -> Graph:
    return Graph((Input("x", (), shape=(12,)),
                  Dense("fc1", ("x",), weight=_w(rng, 16, 12),
                        bias=rng.normal(0, 0.2, 16).astype(F32)),
                  _neuron(rng, "h", "fc1", variant),
                  Dense("fc2", ("h",), weight=_w(rng, 5, 16)),
                  _neuron(rng, "out", "fc2", (variant + 1) % 5)), output="out")


def conv(rng: np.random.Generator, variant: int) -> Graph:
    pool = ("max", "avg", "sum", "max", "avg")[variant]
    return Graph((Input("x", (), shape=(2, 7, 7)),
                  Conv2d("c1", ("x",), weight=_w(rng, 4, 1, 3, 3), groups=2,
                         padding=(1, 0, 1, 1), stride=(1, 2)),
                  _neuron(rng, "s1", "c1", variant),
                  Pool2d("pool", ("s1",), pool=pool, kernel=(2, 2), stride=(2, 1)),
                  Flatten("flat", ("pool",)),
                  Dense("fc", ("flat",), weight=_w(rng, 6, 4 * 3 * 2)),
                  _neuron(rng, "out", "fc", variant)), output="out")


def residual(rng: np.random.Generator, variant: int) -> Graph:
    return Graph((Input("x", (), shape=(8,)), _neuron(rng, "a", "x", variant),
                  Dense("fa", ("a",), weight=_w(rng, 8, 8)),
                  Dense("fx", ("x",), weight=_w(rng, 8, 8)),
                  Add("sum", ("fa", "fx")), _neuron(rng, "b", "sum", variant),
                  Dense("read", ("b",), weight=_w(rng, 3, 8),
                        bias=rng.normal(0, 0.2, 3).astype(F32))), output="read")


def multilevel(rng: np.random.Generator, variant: int) -> Graph:
    axis = None if variant % 2 else -1
    return Graph((Input("x", (), shape=(3, 10)),
                  Dense("fc", ("x",), weight=_w(rng, 6, 10)),
                  MultiLevelSpike("m", ("fc",), levels=4, alpha=1.0, axis=axis,
                                  theta=0.5 if axis is None else None),
                  Reshape("r", ("m",), shape=(18,)),
                  Dense("fc2", ("r",), weight=_w(rng, 4, 18)),
                  _neuron(rng, "out", "fc2", variant)), output="out")


def attention(rng: np.random.Generator, variant: int) -> Graph:
    return Graph((Input("x", (), shape=(4, 6)),
                  Dense("fq", ("x",), weight=_w(rng, 6, 6)), _neuron(rng, "q", "fq", variant),
                  Dense("fk", ("x",), weight=_w(rng, 6, 6)), _neuron(rng, "k", "fk", variant),
                  Dense("fv", ("x",), weight=_w(rng, 6, 6)), _neuron(rng, "v", "fv", variant),
                  SpikingSelfAttention("attn", ("q", "k", "v"), heads=2, scale=0.5,
                                       gammas=np.array([0.5, 0.9], F32)),
                  Dense("proj", ("attn",), weight=_w(rng, 6, 6)),
                  _neuron(rng, "out", "proj", variant)), output="out")


def recurrent(rng: np.random.Generator, variant: int) -> Graph:
    return Graph((Input("x", (), shape=(6,)),
                  Dense("fin", ("x",), weight=_w(rng, 8, 6)),
                  Dense("rec", ("h",), weight=_w(rng, 8, 8), recurrent=True),
                  Add("sum", ("fin", "rec")), _neuron(rng, "h", "sum", variant)), output="h")


def graded(rng: np.random.Generator, variant: int) -> Graph:
    """Graded LIF layers (counts of several spikes a step, some saturating) read by a sum pool
    and a dense layer; ``variant`` picks the leak and whether the last layer is graded."""
    beta = F32((1.0, 0.85, 0.6, 1.0, 0.9)[variant])
    theta = F32((0.05, 0.2, 0.01, 0.5, 0.1)[variant])
    return Graph((Input("x", (), shape=(1, 6, 6)),
                  Conv2d("c1", ("x",), weight=_w(rng, 2, 1, 3, 3), padding=(1, 1, 1, 1)),
                  LIF("g1", ("c1",), beta=beta, threshold=theta, reset="subtract",
                      compare="ge", graded=True),
                  Pool2d("p", ("g1",), pool="sum", kernel=(2, 2), stride=(2, 2)),
                  Flatten("f", ("p",)),
                  Dense("fc", ("f",), weight=_w(rng, 5, 18) * F32(0.05)),
                  LIF("out", ("fc",), beta=beta, threshold=theta, reset="subtract",
                      compare="ge", graded=variant % 2 == 0)), output="out")


TOPOLOGIES: dict[str, Callable[[np.random.Generator, int], Graph]] = {
    "mlp": mlp, "conv": conv, "residual": residual, "multilevel": multilevel,
    "attention": attention, "graded": graded,
}


def drive(graph: Graph, encoding: str, rng: np.random.Generator, steps: int = 9,
          batch: int = 3) -> np.ndarray:
    shape = (steps, batch, *graph.input.shape)
    if encoding == "rate":
        return (rng.random(shape) < 0.4).astype(F32)
    return rng.normal(0.3, 0.6, shape).astype(F32)


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
@pytest.mark.parametrize("encoding", ["rate", "direct"])
def test_layerwise_run_equals_the_stepwise_definition(topology, profile, encoding):
    for variant in range(5):
        rng = np.random.default_rng(variant)
        graph = TOPOLOGIES[topology](rng, variant)
        graph = Graph(graph.layers, output=graph.output, encoding=encoding)
        qg = quantize(graph, PROFILES[profile], target=profile)
        x = drive(graph, encoding, rng)
        plain = run_stepwise(qg, x)
        for block in (None, 1, 2, 4, 100):  # blocks shorter and longer than the delays
            assert_same_trace(run_layerwise(qg, x, block=block), plain)
        fast, plain = run_layerwise(qg, x, record=False), run_stepwise(qg, x, record=False)
        assert_same_trace(fast, plain)


def test_layerwise_output_is_not_an_alias_of_a_recorded_layer():
    qg = quantize(mlp(np.random.default_rng(0), 0), PROFILES["loihi2"], target="loihi2")
    trace = run_layerwise(qg, drive(qg.graph, "rate", np.random.default_rng(1)))
    trace.output[:] = 7
    assert not np.any(trace.spikes["out"] == 7)


def test_a_graph_with_a_recurrent_synapse_runs_stepwise():
    rng = np.random.default_rng(2)
    qg = quantize(recurrent(rng, 0), PROFILES["loihi2"], target="loihi2")
    x = drive(qg.graph, "rate", rng)
    assert_same_trace(run_quantized(qg, x), run_stepwise(qg, x))
    with pytest.raises(ValueError, match="recurrent"):
        run_layerwise(qg, x)


def test_run_quantized_takes_the_layerwise_path_for_feedforward_graphs(monkeypatch):
    import snnc.reference.layerwise as layerwise

    calls = []
    monkeypatch.setattr(layerwise, "run_layerwise", lambda *a, **k: calls.append(a) or "fast")
    qg = quantize(mlp(np.random.default_rng(0), 0), PROFILES["loihi2"], target="loihi2")
    assert run_quantized(qg, drive(qg.graph, "rate", np.random.default_rng(0))) == "fast"
    assert len(calls) == 1


# ---------------------------------------------------------------------------- kernels


def int_dense(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact products summed by Python integers: no float, no BLAS."""
    return np.array([[sum(int(a) * int(b) for a, b in zip(row, col, strict=True))
                      for col in w] for row in x], dtype=object)


@pytest.mark.parametrize(("x_peak", "w_peak", "expected"), [
    (1, 127, np.float32),          # spikes and int8 weights
    (127, 127, np.float32),        # graded input, bound 8 * 127^2 < 2^23
    (1 << 20, 1 << 12, np.float64),  # bound 2^35: beyond float32's exact integers
    (1 << 40, 1 << 20, None),      # bound 2^63-ish: int64 only
])
def test_exact_float_path_is_chosen_by_the_bound_and_equals_integer_sums(x_peak, w_peak,
                                                                        expected):
    rng = np.random.default_rng(x_peak % 97)
    x = rng.integers(-x_peak, x_peak + 1, (5, 8), dtype=I64)
    x[0, 0] = x_peak  # reach the bound: an extreme value must not break exactness
    w = rng.integers(-w_peak, w_peak + 1, (4, 8), dtype=I64)
    w[0, :] = w_peak
    if expected is None:  # keep the int64 result representable
        x //= 16
    assert kernels.exact_float_type(x, w) is expected
    got = kernels.dense(x, w, np.arange(4, dtype=I64))
    assert got.dtype == I64
    assert np.array_equal(got.astype(object), int_dense(x, w) + np.arange(4))


def test_float_path_is_exact_at_the_last_integer_float32_represents():
    # every partial sum odd and just below 2^23: a float32 rounding would show
    x = np.ones((1, 2), I64)
    w = np.array([[(1 << 22) - 1, (1 << 22) - 1]], I64)
    assert kernels.exact_float_type(x, w) is np.float32
    assert kernels.dense(x, w, None)[0, 0] == (1 << 23) - 2
    w_over = np.array([[1 << 22, 1 << 22]], I64)
    assert kernels.exact_float_type(x, w_over) is np.float64


def test_float_operands_keep_the_float_kernels():
    x = np.ones((2, 3), F32)
    assert kernels.exact_float_type(x, np.ones((2, 3), F32)) is None


@pytest.mark.parametrize("peak", [1, 127, 1 << 18, 1 << 36])
def test_integer_convolution_equals_the_int64_windows(peak):
    rng = np.random.default_rng(peak % 13)
    x = rng.integers(-peak, peak + 1, (2, 4, 6, 5), dtype=I64)
    w = rng.integers(-127, 128, (6, 2, 3, 2), dtype=I64)
    bias = rng.integers(-50, 50, 6, dtype=I64)
    args = ((2, 1), (1, 0, 2, 1), (1, 2), 2)
    got = kernels.conv2d(x, w, bias, *args)
    assert got.dtype == I64
    # the same windows contracted as Python integers
    win = kernels._windows(kernels._pad(x, args[1]), (3, 2), args[0], args[2]).astype(object)
    parts = [np.einsum("bchwij,ocij->bohw", win[:, g * 2:(g + 1) * 2],
                       w[g * 3:(g + 1) * 3].astype(object)) for g in range(2)]
    expected = np.concatenate(parts, axis=1) + bias.astype(object)[None, :, None, None]
    assert np.array_equal(got.astype(object), expected)
