"""IMLS in one step == D steps of a binary IF neuron (docs/spikeformer.md, section 2).

The statement, exactly: let an IF neuron (``beta = 1``, threshold ``theta``, reset by
subtraction, firing on ``v >= theta``) start from the membrane ``theta/2`` and receive the
charges ``c_1 .. c_D``, each in ``[0, theta)``, with total ``I``. It then fires exactly
``floor(I/theta + 1/2)`` spikes in the D steps, which is the IMLS level
``clip(floor(I/theta + 1/2), 0, D)`` (the clip is inactive because ``0 <= I < D*theta``),
however the charge is spread over the steps. A synapse after the neuron therefore receives the
same total input ``W @ s`` from one IMLS step as from the D binary steps.

The initial ``theta/2`` is how the ``+1/2`` of the rounding maps onto the IF neuron. snnc
neurons start at zero, so the tests add ``theta/2`` to the first step's charge, which is the
same membrane trajectory.

Integer mode is exact for any integers (membranes in units of ``1/(2D)``, so ``theta/2`` and
per-step charges up to just below ``theta`` are integers); float mode is exact for dyadic
values, where every float32 operation is exact, so the test checks the semantics rather than
float rounding.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnc.ir.layers import LIF, Dense, Graph, Input, Layer, MultiLevelSpike
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.reference.integer import run_quantized
from snnc.reference.simulate import run_graph

F32 = np.float32
# Wide integers: the doubled, input-aware units reach 2 * n * 2^k * I.
PROFILE = NumericProfile(state_bits=62, current_bits=62, input_bits=62, alpha_frac_bits=8,
                         synapse_delay=0)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _graph(neuron: Layer, n: int, weight: np.ndarray, steps: int) -> Graph:
    return Graph((Input("x", (), shape=(n,)), neuron,
                  Dense("syn", (neuron.name,), weight=weight.astype(F32))),
                 output="syn", timesteps=steps)


def _if_neuron(theta: float) -> LIF:
    return LIF("n", ("x",), beta=F32(1), threshold=F32(theta), reset="subtract", compare="ge")


def _integer_run(graph: Graph, layers: dict[str, QuantLayer], drive: np.ndarray):
    qg = QuantizedGraph(graph, PROFILE, layers, input_scale=1.0)
    return run_quantized(qg, drive.astype(np.float64))


def split_charge(total: int, parts: int, cap: int, shares: list[int]) -> list[int]:
    """``parts`` integers in [0, cap) summing to ``total`` (< parts * cap), spread roughly like
    ``shares``: a proportional split, then the excess above ``cap - 1`` moved to steps with
    room, then the rounding remainder likewise."""
    weight = sum(shares) or 1
    out = [min(cap - 1, total * s // weight) for s in shares]
    rest = total - sum(out)
    for i in range(parts):
        room = cap - 1 - out[i]
        take = min(room, rest)
        out[i] += take
        rest -= take
    assert rest == 0 and all(0 <= c < cap for c in out)
    return out


@st.composite
def constant_threshold_case(draw):
    levels = draw(st.integers(1, 8))
    theta = draw(st.integers(1, 500))
    n = draw(st.integers(1, 6))
    totals = draw(st.lists(st.integers(0, levels * theta - 1), min_size=n, max_size=n))
    scale = 2 * levels  # units of 1/(2D): theta/2 is whole, sub-unit charges reach theta - 1/(2D)
    charges = np.zeros((levels, n), np.int64)
    for i, total in enumerate(totals):
        shares = draw(st.lists(st.integers(0, 9), min_size=levels, max_size=levels))
        charges[:, i] = split_charge(scale * total, levels, scale * theta, shares)
    weight = np.asarray(draw(st.lists(st.integers(-9, 9), min_size=3 * n, max_size=3 * n)))
    return levels, theta, np.asarray(totals), charges, weight.reshape(3, n)


@given(constant_threshold_case())
@SETTINGS
def test_integer_imls_level_equals_if_spike_count_over_d_steps(case):
    levels, theta, totals, charges, weight = case
    n = totals.size
    imls = MultiLevelSpike("n", ("x",), levels=levels, axis=None, theta=float(theta))
    one_step = _integer_run(_graph(imls, n, weight, 1),
                            {"n": QuantLayer(vth=np.asarray(theta)), "syn": QuantLayer(
                                weight=weight)}, totals[None, None, :])
    scale = 2 * levels
    drive = charges.copy()
    drive[0] += scale * theta // 2  # the initial membrane theta/2
    d_steps = _integer_run(_graph(_if_neuron(scale * theta), n, weight, levels),
                           {"n": QuantLayer(vth=np.asarray(scale * theta), dv=np.asarray(0)),
                            "syn": QuantLayer(weight=weight)}, drive[:, None, :])
    level = one_step.spikes["n"][0, 0]
    assert np.array_equal(level, (2 * totals + theta) // (2 * theta))
    assert np.array_equal(level, d_steps.spikes["n"].sum(axis=0)[0])
    assert np.array_equal(one_step.output[0], d_steps.output.sum(axis=0))


@st.composite
def adaptive_threshold_case(draw):
    """Totals, then the smallest alpha that puts every total below D * theta, plus slack."""
    levels = draw(st.integers(1, 6))
    n = draw(st.integers(1, 6))
    totals = np.asarray(draw(st.lists(st.integers(0, 300), min_size=n, max_size=n)))
    if totals.sum() == 0:
        totals[0] = 1
    k = PROFILE.alpha_frac_bits
    # theta = alpha_mant * sum / (n * 2^k); need max(total) * n * 2^k < levels * alpha_mant * sum
    # (+2, not +1: the slack lets the integer charges reach the totals, see split_charge)
    low = int(totals.max()) * n * (1 << k) // (levels * int(totals.sum())) + 2
    alpha_mant = draw(st.integers(low, 3 * low + 8))
    scale = 2 * n * (1 << k)                # doubled units of theta_num / (n 2^k)
    theta2 = 2 * alpha_mant * int(totals.sum())   # 2 theta in those units
    charges = np.zeros((levels, n), np.int64)
    for i, total in enumerate(totals):
        shares = draw(st.lists(st.integers(0, 9), min_size=levels, max_size=levels))
        charges[:, i] = split_charge(scale * int(total), levels, theta2, shares)
    weight = np.asarray(draw(st.lists(st.integers(-9, 9), min_size=2 * n, max_size=2 * n)))
    return levels, alpha_mant, totals, charges, theta2, weight.reshape(2, n)


@given(adaptive_threshold_case())
@SETTINGS
def test_input_aware_threshold_levels_equal_if_spike_counts(case):
    levels, alpha_mant, totals, charges, theta2, weight = case
    n = totals.size
    imls = MultiLevelSpike("n", ("x",), levels=levels,
                           alpha=alpha_mant / (1 << PROFILE.alpha_frac_bits), axis=-1)
    one_step = _integer_run(_graph(imls, n, weight, 1),
                            {"n": QuantLayer(alpha_mant=alpha_mant),
                             "syn": QuantLayer(weight=weight)}, totals[None, None, :])
    drive = charges.copy()
    drive[0] += theta2 // 2
    d_steps = _integer_run(_graph(_if_neuron(float(theta2)), n, weight, levels),
                           {"n": QuantLayer(vth=np.asarray(theta2), dv=np.asarray(0)),
                            "syn": QuantLayer(weight=weight)}, drive[:, None, :])
    assert np.array_equal(one_step.spikes["n"][0, 0], d_steps.spikes["n"].sum(axis=0)[0])
    assert np.array_equal(one_step.output[0], d_steps.output.sum(axis=0))


@st.composite
def dyadic_case(draw):
    """theta = 2^e and charges k * 2^(e-6), k < 64: every float32 step below is exact."""
    levels = draw(st.integers(1, 8))
    e = draw(st.integers(-4, 4))
    n = draw(st.integers(1, 5))
    ks = np.asarray(draw(st.lists(st.integers(0, 63), min_size=levels * n,
                                  max_size=levels * n))).reshape(levels, n)
    weight = np.asarray(draw(st.lists(st.integers(-8, 8), min_size=2 * n, max_size=2 * n)))
    return levels, 2.0 ** e, ks * 2.0 ** (e - 6), weight.reshape(2, n) / 4.0


@given(dyadic_case())
@SETTINGS
def test_float_imls_level_equals_if_spike_count_for_exact_values(case):
    levels, theta, charges, weight = case
    n = charges.shape[1]
    imls = MultiLevelSpike("n", ("x",), levels=levels, axis=None, theta=theta)
    one_step = run_graph(_graph(imls, n, weight, 1), charges.sum(axis=0)[None, None, :]
                         .astype(F32))
    drive = charges.copy()
    drive[0] += theta / 2
    d_steps = run_graph(_graph(_if_neuron(theta), n, weight, levels),
                        drive[:, None, :].astype(F32))
    assert np.array_equal(one_step.spikes["n"][0], d_steps.spikes["n"].sum(axis=0))
    assert np.array_equal(one_step.output[0], d_steps.output.sum(axis=0))


def test_equivalence_needs_every_step_charge_below_theta():
    """With D = 2 and theta = 1, the charges (0, 1.5) total 1.5: IMLS gives
    floor(1.5 + 1/2) = 2, but the IF neuron (membrane 0.5, then 2.0) can fire only once in the
    last step, keeping 1.0 on its membrane."""
    imls = MultiLevelSpike("n", ("x",), levels=2, axis=None, theta=1.0)
    weight = np.ones((1, 1))
    one_step = run_graph(_graph(imls, 1, weight, 1), np.full((1, 1, 1), 1.5, F32))
    d_steps = run_graph(_graph(_if_neuron(1.0), 1, weight, 2),
                        np.asarray([0.5, 1.5], F32).reshape(2, 1, 1))
    assert one_step.spikes["n"].sum() == 2
    assert d_steps.spikes["n"].sum() == 1
    assert d_steps.v["n"][-1, 0, 0] == 1.0


def test_inclusive_threshold_is_what_makes_halves_round_up():
    """At I = theta/2 exactly, floor(1/2 + 1/2) = 1: the IF neuron starting at theta/2 reaches
    exactly theta and must fire on ``>=``; a strict ``>`` would give 0."""
    imls = MultiLevelSpike("n", ("x",), levels=1, axis=None, theta=2.0)
    weight = np.ones((1, 1))
    level = run_graph(_graph(imls, 1, weight, 1), np.full((1, 1, 1), 1.0, F32)).spikes["n"]
    strict = LIF("n", ("x",), beta=F32(1), threshold=F32(2.0), reset="subtract", compare="gt")
    fired_ge = run_graph(_graph(_if_neuron(2.0), 1, weight, 1), np.full((1, 1, 1), 2.0, F32))
    fired_gt = run_graph(_graph(strict, 1, weight, 1), np.full((1, 1, 1), 2.0, F32))
    assert level.sum() == 1 == fired_ge.spikes["n"].sum()
    assert fired_gt.spikes["n"].sum() == 0
