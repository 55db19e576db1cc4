"""Lowering a quantized layer view to Lava populations, synapses and links (no Lava needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snnc.backends.common.compose import compose
from snnc.backends.loihi.lower import (
    LAVA_MODULAR_LIMIT,
    READOUT,
    Link,
    lower,
    split_digits,
    unsupported_reason,
)
from snnc.errors import QuantizationError, UnsupportedError
from snnc.ir.layers import (
    LIF,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    MultiLevelSpike,
    Pool2d,
    SpikingSelfAttention,
)
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.passes.quantize import quantize
from snnc.reference.integer import bias_onsets, run_quantized
from snnc.target import load_target

TARGET = load_target("loihi2")
F32 = np.float32


def q(graph: Graph) -> QuantizedGraph:
    return quantize(graph, TARGET.numeric, target=TARGET.name)


def chain(neuron, n_in: int = 5, n_out: int = 4, seed: int = 0, bias=None,
          encoding: str = "rate") -> Graph:
    rng = np.random.default_rng(seed)
    return Graph((Input("x", (), shape=(n_in,)),
                  Dense("fc", ("x",), weight=rng.normal(0, 1, (n_out, n_in)).astype(F32),
                        bias=bias),
                  neuron), output=neuron.name, encoding=encoding)


def test_composed_stage_matrix_reproduces_the_reference_stage_value():
    rng = np.random.default_rng(3)
    graph = Graph((
        Input("x", (), shape=(2, 6, 6)),
        Conv2d("conv", ("x",), weight=rng.normal(0, 1, (3, 2, 3, 3)).astype(F32),
               bias=rng.normal(0, 1, 3).astype(F32), padding=(1, 0, 1, 2)),
        LIF("s", ("conv",), beta=F32(0.9), threshold=F32(1)),
        Pool2d("pool", ("s",), pool="sum", kernel=(2, 2), stride=(1, 2)),
        Flatten("flat", ("pool",)),
        Dense("fc", ("flat",), weight=rng.normal(0, 1, (5, 3 * 5 * 3)).astype(F32),
              bias=rng.normal(0, 1, 5).astype(F32)),
    ), output="fc", encoding="rate")
    qg = q(graph)
    maps, bias = compose(qg, "fc", ("s",))
    rows, cols, vals = maps["s"].rows, maps["s"].cols, maps["s"].vals
    matrix = np.zeros((5, graph.size("s")), np.int64)
    matrix[rows, cols] = vals
    drive = (rng.random((6, 3, 2, 6, 6)) < 0.5).astype(F32)
    trace = run_quantized(qg, drive)
    spikes = trace.spikes["s"].reshape(6, 3, -1)
    # The reference reads the spikes one step late (synapse_delay = 1); the stage's bias is on
    # from its latency, the step its first input arrives.
    onset = bias_onsets(qg.graph, qg.profile)["fc"]
    assert onset == 2
    on = (np.arange(1, 6) >= onset)[:, None, None]
    assert np.array_equal(spikes[:-1] @ matrix.T + on * bias, trace.output[1:])
    assert not trace.output[0].any()


@pytest.mark.parametrize("peak", [127, 128, 1000, 16383])
def test_wide_weights_split_into_two_exact_digits_within_8_bits(peak):
    values = np.array([peak, -peak, 1, -1, 0], np.int64)
    digits = split_digits(values, "test", "layer", "loihi2")
    total = sum(d << shift for shift, d in digits)
    assert np.array_equal(total, values)
    assert all(np.max(np.abs(d)) <= 127 for _, d in digits)
    assert len(digits) == (1 if peak <= 127 else 2)


@given(extra=st.integers(1, 6), data=st.data())
def test_widened_weights_split_with_a_high_shift_lava_has(extra, data):
    """A layer widened to ``8 + e`` bits composes to mantissas ``|m| <= 127 * 2^e`` at its low
    member's exponent ``k <= 6 - e``: the high digits take the shift ``e`` where ``k + 7``
    would pass Lava's largest weight exponent."""
    k = data.draw(st.integers(0, 6 - extra))
    peak = 127 << extra
    mant = data.draw(st.lists(st.integers(-peak, peak), min_size=1, max_size=8))
    values = np.array([*mant, peak, 1], np.int64) << k
    digits = split_digits(values, "test", "layer", "loihi2")
    assert np.array_equal(sum(d.astype(np.int64) << shift for shift, d in digits), values)
    assert all(np.max(np.abs(d)) <= 127 for _, d in digits)
    assert max(shift for shift, _ in digits) <= 8


def test_weights_no_exponent_fits_are_refused_naming_the_value():
    with pytest.raises(QuantizationError,
                       match=r"layer 'layer'.*weight 32767 fits no Loihi weight exponent"):
        split_digits(np.array([16384 + 127 * 129, 1]), "test", "layer", "loihi2")


@given(k=st.integers(0, 8), mantissas=st.lists(st.integers(-127, 127), min_size=1, max_size=9))
def test_mantissas_times_a_power_of_two_are_one_synapse_with_that_exponent(k, mantissas):
    values = np.array([*mantissas, 127 if k else 1], np.int64) << k  # one odd mantissa
    digits = split_digits(values, "test", "layer", "loihi2")
    assert len(digits) == 1 and digits[0][0] == k
    assert np.array_equal(digits[0][1] << k, values)


def test_quantizer_weight_exponent_gives_the_threshold_finer_units_than_the_weights():
    graph = chain(LIF("h", ("fc",), threshold=F32(0.01)))  # threshold far below the weights
    qg = q(graph)
    fc, h = qg.q("fc"), qg.q("h")
    assert fc.weight_exp > 0 and np.max(np.abs(fc.weight >> fc.weight_exp)) == 127
    assert np.all(fc.weight % (1 << fc.weight_exp) == 0)
    # without the exponent the threshold would be 1 unit of ~0.016: 60 % off
    assert abs(int(np.asarray(h.vth)) * fc.unit - 0.01) / 0.01 < 0.02
    (syn,) = lower(qg).synapses
    assert syn.weight_exp == fc.weight_exp - 1 and np.max(np.abs(syn.values)) == 127


def test_every_synapse_stores_doubled_mantissas_with_its_exponent_minus_one():
    qg = q(chain(LIF("h", ("fc",), beta=F32(0.9))))
    (syn,) = lower(qg).synapses
    assert syn.shift == qg.q("fc").weight_exp and syn.weight_exp == syn.shift - 1
    assert np.max(np.abs(syn.values)) == 127


def test_uniform_zero_reset_lif_is_a_stock_lava_lif():
    net = lower(q(chain(LIF("h", ("fc",), beta=F32(0.9), threshold=F32(1.0)))))
    pop = net.population(net.by_layer()["h"].name)
    assert pop.kind == "lif"
    assert pop.params["du"] == 4095 and isinstance(pop.params["vth"], int)


@pytest.mark.parametrize("change", [
    {"reset": "subtract"}, {"reset": "none"}, {"compare": "ge"}, {"reset_timing": "next"},
    {"threshold": np.array([1.0, 0.5, 2.0, 1.0], F32)},
    {"beta": np.array([0.9, 0.8, 0.9, 0.9], F32)},
])
def test_anything_stock_lif_cannot_express_uses_the_variant_process(change):
    params = {"beta": F32(0.9), "threshold": F32(1.0), **change}
    net = lower(q(chain(LIF("h", ("fc",), **params))))
    assert net.by_layer()["h"].kind == "lif_variant"


def test_cuba_current_decay_keeps_lavas_offset_convention():
    layer = CubaLIF("h", ("fc",), current_decay=F32(0.25), voltage_decay=F32(0.1))
    qg = q(chain(layer))
    pop = lower(qg).by_layer()["h"]
    assert pop.params["du"] == int(qg.q("h").du)  # reference du + ds_offset == Lava du + 1
    assert pop.params["dv"] == int(qg.q("h").dv)


def test_small_synaptic_bias_becomes_the_lif_bias_mantissa():
    bias = np.array([0.5, -0.25, 0.0, 1.0], F32)
    qg = q(chain(LIF("h", ("fc",), beta=F32(0.9)), bias=bias))
    pop = lower(qg).by_layer()["h"]
    # the variant process: Lava's stock LIF adds its bias from step 0, the layer's starts at 1
    assert pop.kind == "lif_variant" and pop.params["bias_on"] == 1
    assert np.array_equal(pop.params["bias_mant"], qg.q("fc").bias)
    assert np.all(pop.params["bias_exp"] == 6)


def test_bias_that_could_wrap_with_the_current_enters_u_not_v():
    """wrap((a + b) << 6) differs from wrap(a << 6) + (b << 6) once the current can wrap."""
    # Graded input (127 units) through 40 weights of 127: up to 645160 per step, beyond 2^17.
    graph = chain(LIF("h", ("fc",), beta=F32(1.0), threshold=F32(1.0)), n_in=40,
                  encoding="direct")
    qg = q(graph)
    fc = qg.q("fc")
    big = QuantizedGraph(qg.graph, qg.profile, {**qg.layers, "fc": QuantLayer(
        unit=fc.unit, weight=np.full_like(fc.weight, 127), bias=np.full(4, 100))},
        input_scale=qg.input_scale, target=qg.target)
    pop = lower(big).by_layer()["h"]
    assert pop.kind == "lif_variant"
    assert np.all(pop.params["current_bias"] == 100)


def test_wide_bias_uses_the_seventh_exponent_when_even_and_is_refused_when_odd():
    qg = q(chain(LIF("h", ("fc",), beta=F32(0.9))))
    h = qg.q("h")
    for value, ok in ((6000, True), (6001, False)):
        layers = {**qg.layers, "h": QuantLayer(unit=h.unit, dv=h.dv, vth=h.vth,
                                               bias=np.full(4, value))}
        wide = QuantizedGraph(qg.graph, qg.profile, layers, input_scale=qg.input_scale,
                              target=qg.target)
        if ok:
            pop = lower(wide).by_layer()["h"]
            assert np.all(pop.params["bias_mant"] << pop.params["bias_exp"] == value << 6)
        else:
            with pytest.raises(QuantizationError, match=r"layer 'h'.*13-bit"):
                lower(wide)


def test_neuron_reading_a_neuron_is_a_port_link_without_synapse():
    graph = Graph((Input("x", (), shape=(3,)),
                   Dense("fc", ("x",), weight=np.eye(3, dtype=F32)),
                   LIF("a", ("fc",)), LIF("b", ("a",), threshold=F32(0.5))), output="b")
    net = lower(q(graph))
    assert [(link.source, link.target) for link in net.links] == [("a", "b")]
    assert len(net.synapses) == 1


def test_current_output_is_read_out_with_its_bias():
    graph = Graph((Input("x", (), shape=(3,)), Dense("fc", ("x",), weight=np.eye(3, dtype=F32)),
                   LIF("a", ("fc",)),
                   Dense("head", ("a",), weight=np.ones((2, 3), F32),
                         bias=np.array([0.5, -0.5], F32))), output="head")
    qg = q(graph)
    net = lower(qg)
    readout = net.population(net.output)
    assert net.output == READOUT and readout.kind == "readout" and not readout.on_chip
    assert np.array_equal(readout.params["bias"], qg.q("head").bias)


def test_multilevel_constant_threshold_is_on_chip_and_input_aware_is_not():
    const = lower(q(chain(MultiLevelSpike("m", ("fc",), levels=3, axis=None, theta=0.5))))
    aware = lower(q(chain(MultiLevelSpike("m", ("fc",), levels=3, axis=-1, alpha=1.0))))
    assert const.by_layer()["m"].on_chip and const.by_layer()["m"].message_bits == 2
    assert not aware.by_layer()["m"].on_chip


def test_max_pooling_of_real_values_is_refused_naming_layer_target_and_reason():
    graph = Graph((Input("x", (), shape=(1, 4, 4)),
                   Pool2d("mp", ("x",), pool="max"), Flatten("f", ("mp",)),
                   Dense("fc", ("f",), weight=np.ones((2, 4), F32)), LIF("h", ("fc",))),
                  output="h")
    assert unsupported_reason(graph.layer("mp")) is None  # spikes can be max-pooled
    with pytest.raises(UnsupportedError, match=r"layer 'mp', target 'loihi2'.*real-valued"):
        lower(q(graph))


def test_max_pooling_of_graded_counts_runs_in_a_host_process_between_the_two_layers():
    graph = Graph((Input("x", (), shape=(2, 4, 4)),
                   Conv2d("c", ("x",), weight=np.ones((2, 2, 1, 1), F32)),
                   LIF("g", ("c",), threshold=F32(0.25), reset="subtract", compare="ge",
                       graded=True),
                   Pool2d("mp", ("g",), pool="max"), Flatten("f", ("mp",)),
                   Dense("fc", ("f",), weight=np.ones((2, 8), F32)), LIF("h", ("fc",))),
                  output="h", encoding="rate")
    net = lower(q(graph))
    (pool,) = [p for p in net.populations if p.kind == "max_pool"]
    assert pool.layer == "mp" and not pool.on_chip
    assert pool.params["in_shape"] == (2, 4, 4) and pool.params["post_shape"] == (2, 8)
    h, g = net.by_layer()["h"].name, net.by_layer()["g"].name
    assert Link(g, pool.name) in net.links and Link(pool.name, h) in net.links
    assert not net.incoming(h)  # no synapse: the host process sends the current


def test_max_pooling_of_spikes_becomes_a_unit_weight_synapse_into_a_threshold_0_lif():
    graph = Graph((Input("x", (), shape=(2, 4, 4)),
                   Conv2d("c", ("x",), weight=np.ones((2, 2, 1, 1), F32)),
                   LIF("s", ("c",)), Pool2d("mp", ("s",), pool="max"), Flatten("f", ("mp",)),
                   Dense("fc", ("f",), weight=np.ones((2, 8), F32)), LIF("h", ("fc",))),
                  output="h", encoding="rate")
    net = lower(q(graph))
    pop = net.by_layer()["mp"]
    assert pop.kind == "lif" and pop.params["vth"] == 0 and pop.params["dv"] == 0
    (syn,) = net.incoming(pop.name)
    assert syn.source == net.by_layer()["s"].name and syn.shift == 0
    weights = syn.dense()
    assert set(np.unique(weights)) == {0, 1} and np.all(weights.sum(axis=1) == 4)


def test_attention_runs_in_a_host_process_fed_by_its_three_spiking_operands():
    layers = [Input("x", (), shape=(3, 4))]
    for name in "qkv":
        layers += [Dense(f"w{name}", ("x",), weight=np.eye(4, dtype=F32)), LIF(name, (f"w{name}",))]
    layers += [SpikingSelfAttention("att", ("q", "k", "v"), heads=2,
                                    gammas=np.array([0.5, 0.9], F32)),
               Dense("proj", ("att",), weight=np.eye(4, dtype=F32)), LIF("out", ("proj",))]
    net = lower(q(Graph(tuple(layers), output="out")))
    host = net.by_layer()["att"]
    assert host.kind == "attention" and not host.on_chip
    ports = sorted(link.port for link in net.links if link.target == host.name)
    assert ports == ["k_in", "q_in", "v_in"]


def test_attention_on_non_spiking_operands_is_refused():
    layers = (Input("x", (), shape=(3, 4)),
              Dense("a", ("x",), weight=np.eye(4, dtype=F32)),
              LIF("s", ("a",)),
              Dense("b", ("s",), weight=np.eye(4, dtype=F32)),
              SpikingSelfAttention("att", ("b", "s", "s"), heads=1, gammas=np.ones(1, F32)),
              LIF("out", ("att",)))
    with pytest.raises(UnsupportedError, match=r"layer 'att'.*operand 'b'"):
        lower(q(Graph(layers, output="out")))


def test_output_that_is_the_input_is_refused():
    graph = Graph((Input("x", (), shape=(3,)),), output="x")
    with pytest.raises(UnsupportedError, match="layer 'x'"):
        lower(q(graph))


def test_hostile_layer_names_become_safe_distinct_identifiers():
    names = ['a"; import os; #', "a'; import os; #", "\n__init__"]
    layers = [Input(names[0], (), shape=(2,))]
    src = names[0]
    for i, name in enumerate(names[1:]):
        layers += [Dense(f"fc{i}", (src,), weight=np.eye(2, dtype=F32)), LIF(name, (f"fc{i}",))]
        src = name
    net = lower(q(Graph(tuple(layers), output=src)))
    idents = [p.name for p in net.populations]
    assert len(set(idents)) == len(idents)
    assert all(i.isidentifier() for i in idents)


def test_a_layer_reading_counts_beyond_lavas_modular_limit_runs_as_the_exact_variant():
    # 127 counts a step times 200 weights can pass 2^18: Lava's stock LIF corrects such a
    # wrapped current only once, the variant wraps it modulo 2^24 like the reference
    rng = np.random.default_rng(0)
    w_in, w_out = rng.normal(0, 1, (200, 8)).astype(F32), rng.normal(0, 1, (3, 200)).astype(F32)

    def net(graded: bool) -> Graph:
        return Graph((Input("x", (), shape=(8,)), Dense("a", ("x",), weight=w_in),
                      LIF("g", ("a",), threshold=F32(0.05), reset="subtract", compare="ge",
                          graded=graded),
                      Dense("b", ("g",), weight=w_out), LIF("h", ("b",))),
                     output="h", encoding="rate")

    graded = lower(q(net(graded=True))).by_layer()["h"]
    assert graded.params["max_input"] > LAVA_MODULAR_LIMIT and graded.kind == "lif_variant"
    assert lower(q(net(graded=False))).by_layer()["h"].kind == "lif"


def test_a_layer_reading_a_real_valued_input_beyond_lavas_modular_limit_runs_as_the_variant():
    # an input at input_max on 64 full-scale weights passes 2^18 (found by `make fuzz` with
    # widened inputs, where Lava's stock LIF then differed); a rate-coded input sends spikes
    w = np.random.default_rng(1).normal(0, 1, (4, 64)).astype(F32)

    def net(encoding: str) -> Graph:
        return Graph((Input("x", (), shape=(64,)), Dense("a", ("x",), weight=w), LIF("h", ("a",))),
                     output="h", encoding=encoding)

    direct = lower(q(net("direct"))).by_layer()["h"]
    assert direct.params["max_input"] > LAVA_MODULAR_LIMIT and direct.kind == "lif_variant"
    assert lower(q(net("rate"))).by_layer()["h"].kind == "lif"
