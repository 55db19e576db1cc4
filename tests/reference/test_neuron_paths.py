"""The layerwise executor's float64 neuron steps and exact dense products equal the definition.

``run_layerwise`` runs a neuron layer's steps in float64 when bounds prove that exact, leaving out
the overflows the bounds show cannot happen in a block, and in int64 otherwise; dense products
take bool, int64 or float operands. Random single layers and small nets under random numeric
profiles (narrow registers that saturate and wrap, both roundings, every reset) must give
``run_stepwise``'s trace (the definition) bit for bit, and both neuron paths must be exercised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testkit.traces import assert_same_trace

import snnc.reference.layerwise as layerwise
from snnc.ir.layers import LIF, CubaLIF, Dense, Graph, Input, Layer
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.reference.integer import run_stepwise
from snnc.reference.kernels import ExactDense
from snnc.reference.layerwise import run_layerwise

F32 = np.float32
I64 = np.int64
WIDTH = 6  # neurons per layer
BLOCKS = (None, 1, 3)  # one block, a block per step, blocks that split the run unevenly


@st.composite
def profiles(draw: st.DrawFn, max_input_bits: int = 40) -> NumericProfile:
    """Profiles from narrow (registers that overflow within a few steps) to wide (values past
    float64's exact integers, which must take the int64 path)."""
    state_bits = draw(st.integers(5, 40))
    return NumericProfile(
        decay_bits=draw(st.sampled_from([3, 8, 12])),
        current_decay_offset=draw(st.integers(0, 1)),
        state_bits=state_bits,
        current_bits=draw(st.integers(5, 40)),
        voltage_overflow=draw(st.sampled_from(["saturate", "wrap"])),
        current_overflow=draw(st.sampled_from(["saturate", "wrap"])),
        rounding=draw(st.sampled_from(["trunc", "floor"])),
        input_shift=draw(st.integers(0, 8)),
        threshold_shift=draw(st.integers(0, 6)),
        input_bits=draw(st.integers(2, max_input_bits)),
        synapse_delay=draw(st.integers(0, 2)),
        lif_current_register=draw(st.booleans()),
    )


def _values(draw: st.DrawFn, low: int, high: int, per_neuron: bool) -> np.ndarray:
    """A scalar or a per-neuron array (equal or differing values) in [low, high]."""
    if not per_neuron:
        return np.asarray(draw(st.integers(low, high)), I64)
    return np.array(draw(st.lists(st.integers(low, high), min_size=WIDTH, max_size=WIDTH)), I64)


@st.composite
def neurons(draw: st.DrawFn, p: NumericProfile, name: str,
            src: str) -> tuple[Layer, QuantLayer]:
    """A LIF or CubaLIF with every reset, timing and comparison, integer parameters drawn
    directly (no quantizer): decays over their whole range (2^D: no memory, 0: no leak),
    thresholds near the register's limit, negative ones for subtractive resets, biases."""
    unity = 1 << p.decay_bits
    per_neuron = draw(st.booleans())
    kwargs: dict[str, Any] = {"reset": draw(st.sampled_from(["zero", "subtract", "none"])),
                              "reset_timing": draw(st.sampled_from(["same", "next"])),
                              "compare": draw(st.sampled_from(["gt", "ge"]))}
    top = max(1, (1 << (p.state_bits - 1)) >> p.threshold_shift)
    low = -4 if kwargs["reset"] == "subtract" else 0
    q = {"dv": _values(draw, 0, unity, per_neuron),
         "vth": _values(draw, low, draw(st.sampled_from([4, top])), per_neuron),
         "bias": (None if draw(st.booleans())
                  else _values(draw, -(1 << 10), 1 << 10, per_neuron))}
    if draw(st.booleans()):
        q["du"] = _values(draw, 0, unity - p.current_decay_offset, per_neuron)
        return CubaLIF(name, (src,), **kwargs), QuantLayer(**q)
    return LIF(name, (src,), **kwargs), QuantLayer(**q)


def _drive(draw: st.DrawFn, p: NumericProfile, steps: int, batch: int) -> np.ndarray:
    """Integer drive (float64 holds it exactly) up to the input range; sometimes spikes."""
    peak = (1 << (p.input_bits - 1)) - 1
    if draw(st.booleans()):
        peak = min(peak, 1)
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    return rng.integers(-peak if peak > 1 else 0, peak + 1, (steps, batch, WIDTH)).astype(
        np.float64)


@st.composite
def single_layers(draw: st.DrawFn) -> tuple[QuantizedGraph, np.ndarray]:
    """Input -> one neuron layer: the layer's current is the drive itself."""
    p = draw(profiles(max_input_bits=56))
    layer, q = draw(neurons(p, "n", "x"))
    graph = Graph((Input("x", (), shape=(WIDTH,)), layer), output="n")
    steps, batch = draw(st.integers(1, 12)), draw(st.integers(1, 3))
    return QuantizedGraph(graph, p, {"n": q}), _drive(draw, p, steps, batch)


@st.composite
def small_nets(draw: st.DrawFn) -> tuple[QuantizedGraph, np.ndarray]:
    """Input -> Dense -> neuron -> Dense -> neuron -> Dense, integer weights up to 2^12 (or
    up to 2^40: products past float64's exact integers) and biases."""
    p = draw(profiles())
    layers: list[Layer] = [Input("x", (), shape=(WIDTH,))]
    quant: dict[str, QuantLayer] = {}
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    src = "x"
    for i, kind in enumerate(["dense", "neuron", "dense", "neuron", "dense"]):
        name = f"{kind}{i}"
        if kind == "dense":
            w_peak = 1 << draw(st.sampled_from([3, 12, 40]))
            weight = rng.integers(-w_peak, w_peak + 1, (WIDTH, WIDTH))
            bias = None if draw(st.booleans()) else rng.integers(-w_peak, w_peak + 1, WIDTH)
            layers.append(Dense(name, (src,), weight=np.zeros((WIDTH, WIDTH), F32),
                                bias=None if bias is None else np.zeros(WIDTH, F32)))
            quant[name] = QuantLayer(weight=weight.astype(I64),
                                     bias=None if bias is None else bias.astype(I64))
        else:
            layer, quant[name] = draw(neurons(p, name, src))
            layers.append(layer)
        src = name
    graph = Graph(tuple(layers), output=src)
    steps, batch = draw(st.integers(1, 10)), draw(st.integers(1, 3))
    return QuantizedGraph(graph, p, quant), _drive(draw, p, steps, batch)


@settings(max_examples=300, deadline=None)
@given(single_layers())
def test_one_neuron_layer_layerwise_equals_the_definition(case):
    qg, drive = case
    plain = run_stepwise(qg, drive)
    for block in BLOCKS:
        assert_same_trace(run_layerwise(qg, drive, block=block), plain)


@settings(max_examples=150, deadline=None)
@given(small_nets())
def test_small_nets_layerwise_equal_the_definition(case):
    qg, drive = case
    plain = run_stepwise(qg, drive)
    for block in BLOCKS:
        assert_same_trace(run_layerwise(qg, drive, block=block), plain)


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(layerwise, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(layerwise, name, counted)
    return calls


def _lif_graph(p: NumericProfile, dv: int = 400) -> QuantizedGraph:
    graph = Graph((Input("x", (), shape=(WIDTH,)), LIF("n", ("x",))), output="n")
    return QuantizedGraph(graph, p, {"n": QuantLayer(dv=np.asarray(dv, I64),
                                                      vth=np.asarray(300, I64))})


def test_narrow_values_step_in_float_and_wide_ones_in_int64(monkeypatch):
    floats, ints = _spy(monkeypatch, "_float_history"), _spy(monkeypatch, "_int_history")
    rng = np.random.default_rng(3)
    narrow = _lif_graph(NumericProfile(state_bits=24, input_bits=8))
    drive = rng.integers(-100, 101, (5, 2, WIDTH)).astype(np.float64)
    assert_same_trace(run_layerwise(narrow, drive), run_stepwise(narrow, drive))
    assert (len(floats), len(ints)) == (1, 0)
    # currents of 2^50 shifted by 6: float64 is no longer exact
    wide = _lif_graph(NumericProfile(state_bits=62, input_bits=52, input_shift=6))
    drive = rng.integers(-(1 << 50), 1 << 50, (5, 2, WIDTH)).astype(np.float64)
    assert_same_trace(run_layerwise(wide, drive), run_stepwise(wide, drive))
    assert (len(floats), len(ints)) == (1, 1)


def test_overflows_are_left_out_only_where_the_bound_allows(monkeypatch):
    """A leaky membrane fed currents far below its register never saturates: the plan leaves
    the overflow out; the same currents into a 10-bit register need it."""
    plans: list[Any] = []
    real = layerwise._float_plan
    monkeypatch.setattr(layerwise, "_float_plan",
                        lambda *a, **k: plans.append(real(*a, **k)) or plans[-1])
    drive = np.full((20, 1, WIDTH), 100.0)
    for bits, expected in ((24, False), (10, True)):
        qg = _lif_graph(NumericProfile(state_bits=bits, input_bits=8), dv=400)
        assert_same_trace(run_layerwise(qg, drive), run_stepwise(qg, drive))
        assert plans[-1].wrap_v is expected


def _edge_case(layer: Layer, q: QuantLayer, current: int, steps: int, free: int) -> None:
    """No leak anywhere, a constant current, a 13-bit membrane that the definition saturates in
    the last steps only (``free``: the last membrane without saturation): the float steps must
    see that coming from their bound."""
    p = NumericProfile(state_bits=13, current_bits=24, input_bits=16)
    graph = Graph((Input("x", (), shape=(WIDTH,)), layer), output="n")
    qg = QuantizedGraph(graph, p, {"n": q})
    drive = np.full((steps, 1, WIDTH), float(current))
    plain = run_stepwise(qg, drive)
    assert plain.v["n"][-1].max() < free  # the definition does saturate
    assert_same_trace(run_layerwise(qg, drive), plain)


def test_a_cuba_membrane_bound_counts_the_growing_current():
    # u_t = 78 t, v_10 = 78 * 55 = 4290 > 4095, though 10 steps of a current of 780 / 2 would not
    _edge_case(CubaLIF("n", ("x",), reset="none"),
               QuantLayer(du=np.asarray(0, I64), dv=np.asarray(0, I64),
                          vth=np.asarray(5000, I64)), current=78, steps=10, free=4290)


def test_a_subtractive_reset_below_a_negative_threshold_counts_in_the_bound():
    # every step fires and the reset adds 20: v_t = 420 t, past 4095 while 400 t is not
    _edge_case(LIF("n", ("x",), reset="subtract"),
               QuantLayer(dv=np.asarray(0, I64), vth=np.asarray(-20, I64)),
               current=400, steps=10, free=4200)


def test_a_membrane_without_leak_is_bounded_by_its_steps():
    # keep = 2^D: no decay and no rounding, so |v| grows by at most the input each step
    assert layerwise._decayed_bound(5, 4096, 10, 7, 12) == 5 + 7 * 10
    # keep < 2^D: the fixed point c / (1 - K) with c = push + 1
    assert layerwise._decayed_bound(0, 2048, 9, 100, 12) == 20
    assert layerwise._decayed_bound(50, 2048, 9, 100, 12) == 50
    assert layerwise._decayed_bound(0, 5000, 9, 3, 12) is None


# ------------------------------------------------------------------------------ dense


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["bool", "int64", "float32", "float64"]),
       st.integers(0, 40), st.integers(0, 30), st.booleans(), st.booleans(),
       st.integers(0, 2 ** 32 - 1))
def test_exact_dense_equals_python_integer_sums(dtype, x_bits, w_bits, with_bias, give_peak,
                                               seed):
    rng = np.random.default_rng(seed)
    x_peak = 1 if dtype == "bool" else (1 << min(x_bits, 23 if dtype == "float32" else 40))
    x = rng.integers(0 if dtype == "bool" else -x_peak, x_peak + 1, (3, 2, 7))
    x.flat[0] = x_peak  # reach the bound
    w = rng.integers(-(1 << w_bits), (1 << w_bits) + 1, (5, 7))
    bias = rng.integers(-(1 << w_bits), (1 << w_bits) + 1, 5) if with_bias else None
    layer = ExactDense(w, bias)
    got, bound = layer.apply(x.astype(dtype), x_peak if give_peak else None)
    exact = (x.astype(object) @ w.T.astype(object)
             + (0 if bias is None else bias.astype(object)))
    assert bound >= max(abs(int(v)) for v in exact.flat)
    wrapped = (exact + (1 << 63)) % (1 << 64) - (1 << 63)  # int64 arithmetic past 2^63
    assert got.shape == exact.shape
    assert np.array_equal(got.astype(I64).astype(object), wrapped)
    if got.dtype.kind == "f":
        assert bound < 1 << 52  # a float result holds exact integers only


def test_exact_dense_chooses_float32_float64_and_int64_by_the_bound():
    spikes = np.ones((4, 8), bool)
    assert ExactDense(np.full((2, 8), 127), None).apply(spikes, 1)[0].dtype == np.float32
    assert ExactDense(np.full((2, 8), 1 << 30), None).apply(spikes, 1)[0].dtype == np.float64
    wide = ExactDense(np.full((2, 8), 1 << 50), None).apply(spikes, 1)[0]
    assert wide.dtype == I64
    assert wide[0, 0] == 8 << 50
