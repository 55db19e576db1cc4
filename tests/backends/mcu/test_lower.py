"""The MCU lowering without a compiler: types from ranges, kernel choice, memory packing, and
the refusals that keep the C bit-exact."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.backends.mcu.lower import lower
from snnc.backends.mcu.memory import pack
from snnc.backends.mcu.program import Buffer
from snnc.backends.mcu.ranges import S8, S32, S64, Range, fit, linear_bounds
from snnc.errors import UnsupportedError
from snnc.ir.layers import LIF, Dense, Flatten, Graph, Input, Pool2d, SpikingSelfAttention
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.passes.quantize import quantize
from snnc.target import load_target

M4 = load_target("cortex-m4")


def _qg(graph: Graph, calib: np.ndarray | None = None) -> QuantizedGraph:
    return quantize(graph, M4.numeric, calib=calib, target=M4.name)


def _two_layer(attrs: dict | None = None, encoding: str = "direct") -> Graph:
    rng = np.random.default_rng(1)
    fc2 = Dense("fc2", ("lif1",), weight=rng.normal(0, 1, (4, 8)).astype(np.float32))
    return Graph((
        Input("x", (), shape=(6,)),
        Dense("fc1", ("x",), weight=rng.normal(0, 1, (8, 6)).astype(np.float32)),
        LIF("lif1", ("fc1",)),
        fc2.with_attrs(**attrs) if attrs else fc2,
        LIF("lif2", ("fc2",)),
    ), output="lif2", encoding=encoding)


def _kernels(graph: Graph) -> dict[str, str]:
    return {info.name: info.kernel for info in lower(_qg(graph), M4.name).layers}


def test_fit_picks_the_narrowest_type_that_holds_the_range():
    assert fit(Range(-128, 127)) is S8
    assert fit(Range(0, 128)) is S32
    assert fit(Range(-(2**31), 2**31 - 1)) is S32
    assert fit(Range(0, 2**31)) is S64
    assert fit(Range(0, 2**63)) is None
    assert fit(Range(0, 1), S32) is S32


def test_linear_bounds_cover_every_subset_of_terms():
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (5, 7))
    b = rng.integers(-1000, 1000, 5)
    x_rng = Range(-3, 9)
    bound, acc = linear_bounds(w, b, x_rng)
    for _ in range(200):
        x = rng.integers(-3, 10, 7) * (rng.random(7) < 0.7)  # zeros: dropped (padded) terms
        y = w @ x + b
        assert bound.lo <= y.min() and y.max() <= bound.hi
        partial = np.cumsum(np.concatenate([b[:, None], w * x], axis=1), axis=1)
        assert np.abs(partial).max() <= acc


def test_large_bias_widens_the_dense_output_to_int64():
    graph = _two_layer()
    qg = _qg(graph)
    big = replace(qg.q("fc1"), bias=np.full(8, 2**31 - 1, np.int64))
    qg = QuantizedGraph(qg.graph, qg.profile, {**qg.layers, "fc1": big}, qg.input_scale)
    types = {info.name: info.out_type for info in lower(qg, M4.name).layers}
    assert types["fc1"] == "int64_t"
    assert types["fc2"] == "int32_t"


def test_spike_inputs_use_event_kernels_and_real_inputs_dense_ones():
    kernels = _kernels(_two_layer())
    assert kernels["fc1"] == "dense"
    assert kernels["fc2"] == "event"
    assert _kernels(_two_layer(encoding="rate"))["fc1"] == "event"


def test_kernel_and_storage_attributes_are_honoured():
    assert _kernels(_two_layer({"kernel": "dense"}))["fc2"] == "dense"
    assert _kernels(_two_layer({"kernel": "event", "storage": "csr"}))["fc2"] == "event-csr"


def test_event_kernel_on_a_wide_input_falls_back_to_dense():
    rng = np.random.default_rng(4)
    graph = Graph((
        Input("x", (), shape=(5,)),
        Dense("fc1", ("x",), weight=rng.normal(0, 1, (6, 5)).astype(np.float32)),
        Flatten("flat", ("fc1",)),  # keeps the quantizer from folding fc1 into fc2
        Dense("fc2", ("flat",), weight=rng.normal(0, 1, (3, 6)).astype(np.float32)).with_attrs(
            kernel="event"),
        LIF("out", ("fc2",)),
    ), output="out")
    prog = lower(_qg(graph), M4.name)
    fc2 = next(info for info in prog.layers if info.name == "fc2")
    assert fc2.kernel == "dense"
    assert "not an int8 spike tensor" in fc2.detail
    assert _kernels(graph)["fc1"] == "dense"


def test_event_list_is_shared_by_consumers_of_one_spike_tensor():
    rng = np.random.default_rng(2)
    graph = Graph((
        Input("x", (), shape=(5,)),
        Dense("fc", ("x",), weight=rng.normal(0, 1, (6, 5)).astype(np.float32)),
        LIF("s", ("fc",)),
        Dense("a", ("s",), weight=rng.normal(0, 1, (3, 6)).astype(np.float32)),
        Dense("b", ("s",), weight=rng.normal(0, 1, (3, 6)).astype(np.float32)),
        LIF("out", ("a",)),
    ), output="out")
    prog = lower(_qg(graph), M4.name)
    assert [c.fn for c in prog.calls].count("snnc_events_s8") == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 20), st.integers(0, 8)),
                min_size=1, max_size=25))
def test_packed_buffers_never_overlap_while_both_are_live(spec):
    bufs = [Buffer(f"b{i}", S32, size, "arena", first=start, last=start + span)
            for i, (size, start, span) in enumerate(spec)]
    total = pack(bufs)
    for i, a in enumerate(bufs):
        assert a.offset >= 0 and a.offset + a.size <= total
        for b in bufs[i + 1:]:
            live_together = a.first <= b.last and b.first <= a.last
            apart = a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
            assert apart or not live_together


def test_arena_reuses_memory_of_values_that_died():
    rng = np.random.default_rng(3)
    layers = [Input("x", (), shape=(16,))]
    src = "x"
    for i in range(4):
        layers.append(Dense(f"fc{i}", (src,), weight=rng.normal(0, 1, (16, 16)).astype(
            np.float32)))
        layers.append(LIF(f"lif{i}", (f"fc{i}",)))
        src = f"lif{i}"
    prog = lower(_qg(Graph(tuple(layers), output=src)), M4.name)
    s32 = [b for b in prog.buffers if b.kind == "arena" and b.ctype is S32]
    assert sum(b.size for b in s32) == 4 * 16 + 8  # four currents, one SMLAD scratch
    assert prog.arena_sizes["s32"] == 16 + 8  # ...but never more than one current at a time


def test_weights_wider_than_int8_are_refused_with_the_layer_name():
    graph = _two_layer()
    profile = replace(M4.numeric, weight_bits=12)
    qg = quantize(graph, profile, target=M4.name)
    with pytest.raises(UnsupportedError, match=r"layer 'fc1'.*int8"):
        lower(qg, M4.name)


def test_states_wider_than_32_bits_are_refused():
    qg = quantize(_two_layer(), replace(M4.numeric, state_bits=40), target=M4.name)
    with pytest.raises(UnsupportedError, match="state_bits"):
        lower(qg, M4.name)


def test_pool_window_of_only_padding_is_refused():
    graph = Graph((
        Input("x", (), shape=(1, 4, 4)),
        LIF("s", ("x",)),
        Pool2d("p", ("s",), pool="max", kernel=(2, 2), stride=(2, 2), padding=(2, 0, 0, 0)),
    ), output="p")
    with pytest.raises(UnsupportedError, match=r"layer 'p'.*padding"):
        lower(_qg(graph), M4.name)


def test_attention_mask_must_depend_on_distance_only():
    graph = Graph((
        Input("x", (), shape=(3, 2)),
        LIF("s", ("x",)),
        SpikingSelfAttention("a", ("s", "s", "s"), heads=1, gammas=np.array([0.5], np.float32)),
    ), output="a")
    qg = _qg(graph)
    mask = np.asarray(qg.q("a").mask).copy()
    mask[0, 0, 1] += 1  # breaks symmetry in |n - m|
    qg = QuantizedGraph(qg.graph, qg.profile, {**qg.layers, "a": QuantLayer(
        unit=qg.q("a").unit, mask=mask)}, qg.input_scale)
    with pytest.raises(UnsupportedError, match=r"layer 'a'.*\|n - m\|"):
        lower(qg, M4.name)


def test_recurrent_read_of_a_non_neuron_is_refused():
    graph = Graph((
        Input("x", (), shape=(3,)),
        Dense("d", ("x",), weight=np.ones((3, 3), np.float32)),
        Dense("r", ("d",), weight=np.ones((3, 3), np.float32), recurrent=True),
        LIF("l", ("r",)),
    ), output="l")
    with pytest.raises(UnsupportedError, match=r"layer 'r'.*late"):
        lower(_qg(graph), M4.name)


def test_probes_list_output_then_spikes_then_membranes():
    prog = lower(_qg(_two_layer()), M4.name)
    assert [p.name for p in prog.probes] == ["output", "lif1/spikes", "lif2/spikes",
                                             "lif1/v", "lif2/v"]


def test_every_called_kernel_has_an_instantiation_switch_in_the_runtime():
    from testkit.mcu_netgen import FAMILIES, make_case

    from snnc.backends.mcu.families import kernel_block
    from snnc.runtime_c import runtime_dir

    switches = set()
    for source in runtime_dir().glob("snnc_*.c"):
        switches.update(re.findall(r"defined\(SNNC_USE_(\w+)\)", source.read_text()))
    for family in FAMILIES:
        case = make_case(family, 0)
        for fn in lower(_qg(case.graph, case.inputs), M4.name).functions:
            block = kernel_block(fn)
            assert block is None or block in switches, fn
