"""The energy model's identities (issue 4 acceptance) and its per-target parameters."""

from __future__ import annotations

import math
import re
import statistics
import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.cost.model import (
    LIT_E_AC_PJ,
    LIT_E_MAC_PJ,
    THEORETICAL_MINIMUM,
    TYPICAL_NEUROMORPHIC,
    WORST_CASE_SPARSE,
    Activity,
    EnergyParams,
    StageShape,
    activation_bits,
    asymptotic_crossover,
    best_snn,
    crossover_rate,
    params_from_table,
    qnn_energy,
    rate_bounds,
    reference_shape,
    snn_energy,
)
from snnc.errors import InputError
from snnc.target import load_target

B_TABLE = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 15: 4, 16: 5, 31: 5, 32: 6}


@pytest.mark.parametrize(("steps", "bits"), sorted(B_TABLE.items()))
def test_activation_bits_table(steps, bits):
    assert activation_bits(steps) == bits


@settings(deadline=None)
@given(st.integers(1, 10**6))
def test_activation_bits_hold_every_count_and_no_fewer(steps):
    b = activation_bits(steps)
    assert 2 ** (b - 1) <= steps < 2**b
    assert b == math.ceil(math.log2(steps + 1))


def test_activation_bits_reject_zero_steps():
    with pytest.raises(InputError):
        activation_bits(0)


def test_rate_bounds_example_and_extremes():
    assert rate_bounds(0.5, 5) == pytest.approx((0.1, 0.5))
    # a population whose non-zero counts are all 1 (resp. all T) sits on the bound
    counts_low, counts_high = [0, 0, 1, 1], [0, 0, 5, 5]
    for counts, bound in ((counts_low, 0), (counts_high, 1)):
        gamma = counts.count(0) / len(counts)
        rate = sum(counts) / (5 * len(counts))
        assert rate == pytest.approx(rate_bounds(gamma, 5)[bound])


@settings(deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=50), st.integers(12, 16))
def test_any_population_of_counts_obeys_theorem_2(counts, steps):
    gamma = counts.count(0) / len(counts)
    rate = sum(counts) / (steps * len(counts))
    lo, hi = rate_bounds(gamma, steps)
    assert lo - 1e-12 <= rate <= hi + 1e-12


def _compute_only(acc: float = TYPICAL_NEUROMORPHIC.acc_pj, mul8: float = 0.2) -> EnergyParams:
    """No data movement, no neuron or weight terms: only synaptic compute remains."""
    return EnergyParams(acc_pj=acc, cmp_pj=0.0, sub_pj=0.0, mul_pj={8: mul8},
                        noc_dense_pj_per_bit_hop=0.0, noc_sparse_pj_per_bit_hop=0.0)


@pytest.mark.parametrize("steps", [1, 3, 5, 8, 15])
@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.7])
@pytest.mark.parametrize("weight_bits", [2, 4, 8])
def test_compute_only_break_even_is_T_times_rate_equal_k_one_minus_gamma(steps, gamma,
                                                                        weight_bits):
    p = _compute_only()
    shape = reference_shape(fan_in=256, outputs=3, weight_bits=weight_bits)
    act = Activity(timesteps=steps, rate_in=0.0, rate_out=0.2, gamma=gamma)
    k = p.mac(activation_bits(steps), weight_bits) / p.acc_pj
    assert steps * crossover_rate(shape, act, p) == pytest.approx(k * (1 - gamma), rel=1e-12)


@pytest.mark.parametrize("steps", [1, 2, 5, 10])
def test_average_rate_breaks_even_when_k_is_one_plus_T_over_two(steps):
    """s_r = (1/T + 1)/2 (the middle of the Theorem-2 interval) is break-even at k = (1+T)/2."""
    b = activation_bits(steps)
    k = (1 + steps) / 2
    mul8 = (k - 1) * 1.0 * 64 / (b * 8)  # E_MAC(b, 8) = E_acc (1 + (k - 1)) with E_acc = 1
    p = _compute_only(acc=1.0, mul8=mul8)
    act = Activity(timesteps=steps, rate_in=0.0)
    cross = crossover_rate(reference_shape(weight_bits=8), act, p)
    assert cross == pytest.approx((1 / steps + 1) / 2, rel=1e-12)


@pytest.mark.parametrize(("steps", "ratio", "paper"),
                         [(1, 1.0, 0.996), (3, 1.5, 1.500), (7, 2.333, 2.338), (15, 3.75, 3.762)])
def test_dense_movement_limit_is_T_over_b(steps, ratio, paper):
    p = EnergyParams(acc_pj=0.0, cmp_pj=0.0, sub_pj=0.0, mul_pj={8: 0.0})
    shape = reference_shape()
    act = Activity(timesteps=steps, rate_in=1.0, rate_out=1.0)
    got = snn_energy(shape, act, p, "dense").total / qnn_energy(shape, act, p).total
    assert got == pytest.approx(steps / activation_bits(steps), rel=1e-12)
    assert got == pytest.approx(ratio, abs=1e-3)
    assert got == pytest.approx(paper, rel=0.01)  # the paper's SST-2 measurements


def test_movement_ratio_eta_of_the_presets():
    assert TYPICAL_NEUROMORPHIC.eta == 12
    assert WORST_CASE_SPARSE.eta == 64


def test_literature_constants():
    assert pytest.approx(3.7 + 0.9) == LIT_E_MAC_PJ
    assert LIT_E_AC_PJ == 0.9
    assert round(LIT_E_MAC_PJ / LIT_E_AC_PJ, 2) == 5.11


def test_typical_mean_crossover_over_T5_to_10_lies_between_4_and_7_percent():
    mean = statistics.fmean(asymptotic_crossover(t) for t in range(5, 11))
    assert 0.04 <= mean <= 0.07


def test_headline_crossover_at_T5():
    """The paper reports ~5.7 % for T = 5, 4-bit weights, N_src = 4096 (typical setting)."""
    shape = reference_shape(fan_in=4096, weight_bits=4)
    cross = crossover_rate(shape, Activity(timesteps=5, rate_in=0.0, rate_out=0.05),
                           TYPICAL_NEUROMORPHIC)
    assert 0.05 <= cross <= 0.065
    assert cross == pytest.approx(asymptotic_crossover(5), rel=1e-3)


def test_crossover_falls_with_movement_cost_and_rises_with_weight_bits():
    base = asymptotic_crossover(5)
    assert asymptotic_crossover(5, TYPICAL_NEUROMORPHIC.with_(avg_hops=4.75)) < base
    assert asymptotic_crossover(5, WORST_CASE_SPARSE) < base
    assert asymptotic_crossover(2, weight_bits=8) > asymptotic_crossover(2, weight_bits=4)


def test_worst_case_and_free_movement_settings():
    assert 0.005 <= asymptotic_crossover(5, WORST_CASE_SPARSE) <= 0.02
    assert asymptotic_crossover(5, THEORETICAL_MINIMUM) == pytest.approx(0.337, abs=1e-3)


@settings(deadline=None, max_examples=60)
@given(fan_in=st.integers(1, 5000), outputs=st.integers(1, 50), steps=st.integers(1, 16),
       rate_out=st.floats(0, 1), gamma=st.floats(0, 0.99), hops=st.floats(0, 5),
       event=st.floats(0, 50), wread=st.floats(0, 1), reuse=st.booleans(),
       skips=st.booleans(), messages=st.sampled_from(["per_synapse", "per_event"]),
       spike_input=st.sampled_from(["count", "receive", "integrate"]),
       spike_fed=st.sampled_from([0.0, 1.0]))
def test_crossover_separates_the_winners(fan_in, outputs, steps, rate_out, gamma, hops, event,
                                         wread, reuse, skips, messages, spike_input, spike_fed):
    """Below the crossover the best SNN dataflow beats the QNN twin, above it loses, for
    twins fed by levels and by spike trains under every message accounting."""
    p = TYPICAL_NEUROMORPHIC.with_(avg_hops=hops, event_overhead_pj=event,
                                   weight_read_pj_per_bit=wread, weight_reuse=reuse,
                                   dense_skips_zeros=skips, activation_pj_per_bit=wread,
                                   noc_messages=messages, qnn_spike_input=spike_input)
    shape = StageShape(synapses=fan_in * outputs, outputs=outputs, inputs=fan_in,
                       weights=fan_in * outputs, weight_bits=8,
                       spike_inputs=int(spike_fed * fan_in))
    act = Activity(timesteps=steps, rate_in=0.0, rate_out=rate_out, gamma=gamma)
    # one crossover for all rates unless the twin's cost follows the SNN's dataflow
    follows = spike_fed and spike_input != "count"
    cross = crossover_rate(shape, act, p)
    for rate in (0.0, 0.01, 0.05, 0.2, 0.5, 1.0):
        snn = best_snn(shape, act.with_rate(rate), p)[1].total
        qnn = qnn_energy(shape, act.with_rate(rate), p).total
        if follows:
            cross = crossover_rate(shape, act.with_rate(rate), p)
        if rate < cross - 1e-9:
            assert snn < qnn * (1 + 1e-9)
        elif rate > cross + 1e-9:
            assert snn > qnn * (1 - 1e-9)


def _stage(spike_inputs: int = 0) -> StageShape:
    return StageShape(synapses=64 * 32, outputs=32, inputs=64, weights=64 * 32, weight_bits=8,
                      spike_inputs=spike_inputs)


def test_per_event_messages_count_sending_inputs_not_synapses():
    """One message per spike and destination: the NoC term scales with n, not S = n * M."""
    act = Activity(timesteps=8, rate_in=0.25)
    per_syn = TYPICAL_NEUROMORPHIC
    per_event = per_syn.with_(noc_messages="per_event")
    for df in ("sparse", "dense"):
        wide = snn_energy(_stage(), act, per_syn, df).noc
        narrow = snn_energy(_stage(), act, per_event, df).noc
        assert wide == pytest.approx(32 * narrow)
    assert snn_energy(_stage(), act, per_event, "sparse").noc == pytest.approx(64 * 8 * 0.25 * 3.0)


@pytest.mark.parametrize("gamma", [0.0, 0.4, 1.0])
def test_a_zero_qnn_level_is_not_a_message(gamma):
    """Per event, a twin's input levels move only where the count is non-zero."""
    p = TYPICAL_NEUROMORPHIC.with_(noc_messages="per_event")
    act = Activity(timesteps=8, rate_in=0.25, gamma=gamma)
    assert qnn_energy(_stage(), act, p).noc == pytest.approx(64 * (1 - gamma) * 4 * 0.25)


def test_a_twin_integrating_spike_trains_pays_the_snn_synapses_and_one_level():
    """Loihi-style twin fed by spikes: SNN minus its T neuron updates and output spikes, plus
    one level per neuron; it therefore wins at every rate."""
    p = TYPICAL_NEUROMORPHIC.with_(noc_messages="per_event", qnn_spike_input="integrate",
                                   dataflows=("sparse",), level_pj=0.5)
    act = Activity(timesteps=8, rate_in=0.3, rate_out=0.2, gamma=0.5)
    snn = snn_energy(_stage(64), act, p, "sparse")
    qnn = qnn_energy(_stage(64), act, p)
    neurons = 32 * 8 * p.cmp_pj + 32 * 8 * 0.2 * p.sub_pj
    assert qnn.total == pytest.approx(snn.total - neurons + 32 * 0.5)
    assert qnn.noc == pytest.approx(snn.noc)
    assert crossover_rate(_stage(64), act, p) == -math.inf
    # fed by twins instead, the same stage multiplies counts and the crossover is finite
    assert 0 < crossover_rate(_stage(0), act, p) < 1


def test_a_twin_receiving_spike_packets_pays_per_spike_instead_of_per_level():
    p = TYPICAL_NEUROMORPHIC.with_(noc_messages="per_event", qnn_spike_input="receive",
                                   event_overhead_pj=200.0, count_event_pj=200.0,
                                   dataflows=("sparse",))
    act = Activity(timesteps=8, rate_in=0.3, gamma=0.5)
    fed = qnn_energy(_stage(64), act, p)
    levels = qnn_energy(_stage(0), act, p)
    spikes = 64 * 8 * 0.3
    assert fed.compute - levels.compute == pytest.approx(200.0 * (spikes - 64 * 0.5))
    assert fed.noc == pytest.approx(spikes * 3.0)


def test_energy_table_parsing():
    p = params_from_table({"add_pj": {32: 0.1}, "mul_pj": {8: 0.2, 16: 0.8},
                           "memory_pj_per_bit": {"sram": 0.5}, "weight_memory": "sram",
                           "noc_dense_pj_per_bit_hop": 0.25}, "t.toml")
    assert p.acc_pj == 0.1 and p.weight_read_pj_per_bit == 0.5
    assert p.mul(3, 4) == pytest.approx(0.2 * 12 / 64)
    assert p.mul(12, 8) == pytest.approx(0.8 * 96 / 256)
    with pytest.raises(InputError, match="unknown"):
        params_from_table({"turbo": 1}, "t.toml")
    with pytest.raises(InputError, match="memory level"):
        params_from_table({"weight_memory": "dram"}, "t.toml")
    p = params_from_table({"noc_messages": "per_event", "qnn_spike_input": "receive"}, "t.toml")
    assert (p.noc_messages, p.qnn_spike_input) == ("per_event", "receive")
    assert params_from_table({"add_pj": {32: 0.1}}, "t.toml").noc_messages == "per_synapse"
    with pytest.raises(InputError, match="noc_messages"):
        params_from_table({"noc_messages": "per_packet"}, "t.toml")
    with pytest.raises(InputError, match="qnn_spike_input"):
        params_from_table({"qnn_spike_input": "sum"}, "t.toml")


ENERGY_TARGETS = ("loihi2", "cortex-m4", "spinnaker2")


@pytest.mark.parametrize("name", ENERGY_TARGETS)
def test_every_energy_number_of_a_target_has_a_source_comment(name):
    target = load_target(name)
    text = Path(str(resources.files("snnc.targets").joinpath(f"{name}.toml"))).read_text()
    section = text.split("[energy]", 1)[1].split("\n[", 1)[0]
    for line in section.splitlines():
        value = line.split("=", 1)[1].split("#")[0].strip() if "=" in line else ""
        if re.match(r"^\s*[a-z_]+\s*=", line) and not value.startswith('"') and \
                re.search(r"\d", value):
            assert "#" in line, f"{name}: no source comment on '{line.strip()}'"
    assert tomllib.loads(text)["energy"] == dict(target.energy)
    p = params_from_table(target.energy, name)
    assert p.source != TYPICAL_NEUROMORPHIC.source or name == "loihi2"
    assert 0 < asymptotic_crossover(8, p, target.numeric.weight_bits) < 1
