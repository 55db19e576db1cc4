"""Max pooling of binary spikes as an OR neuron: same float spikes, one stage more in the
integer semantics, multi-level values left alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input, MultiLevelSpike, Pool2d
from snnc.passes.or_pooling import is_or_neuron, or_neurons
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.kernels import pool2d
from snnc.reference.simulate import run_graph
from snnc.target import load_target

F32 = np.float32


def pooled_net(seed: int, feeder: str = "lif", padding: int = 0, stride: int = 2) -> Graph:
    rng = np.random.default_rng(seed)
    neuron = (LIF("s", ("c",), beta=F32(0.9), threshold=F32(0.8)) if feeder == "lif" else
              MultiLevelSpike("s", ("c",), levels=3, axis=None, theta=0.5))
    pool = Pool2d("mp", ("s",), pool="max", kernel=(2, 2), stride=(stride, stride),
                  padding=(padding,) * 4)
    shape = pool.out_shape([(3, 6, 6)])
    return Graph((Input("x", (), shape=(2, 6, 6)),
                  Conv2d("c", ("x",), weight=rng.normal(0, 0.7, (3, 2, 3, 3)).astype(F32),
                         padding=(1, 1, 1, 1)),
                  neuron, pool, Flatten("f", ("mp",)),
                  Dense("fc", ("f",), weight=rng.normal(0, 0.4, (4, int(np.prod(shape))))
                        .astype(F32)),
                  LIF("out", ("fc",), beta=F32(0.9))), output="out", timesteps=10,
                 encoding="rate")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), padding=st.integers(0, 1), stride=st.integers(1, 2))
def test_float_spikes_are_unchanged_and_the_pool_becomes_a_neuron(seed, padding, stride):
    graph = pooled_net(seed, padding=padding, stride=stride)
    rewritten = or_neurons(graph)
    assert is_or_neuron(rewritten.layer("mp")) and rewritten.layer("mp_window").pool == "sum"
    x = np.random.default_rng(seed).random((4, 2, 6, 6))
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    before, after = run_graph(graph, drive), run_graph(rewritten, drive)
    assert np.array_equal(before.output, after.output)
    assert np.array_equal(before.spikes["s"], after.spikes["s"])
    spikes = before.spikes["s"].reshape(-1, 3, 6, 6)
    pooled = pool2d(spikes, "max", (2, 2), (stride, stride), (padding,) * 4)
    assert np.array_equal(after.spikes["mp"].reshape(pooled.shape), pooled)


def test_loihi_integer_semantics_add_one_step_of_latency_per_or_stage():
    graph = pooled_net(1)
    loihi = load_target("loihi2").numeric
    generic = load_target("cortex-m4").numeric
    assert latency(quantize(graph, loihi).graph, loihi) == latency(graph, loihi) + 1
    assert latency(quantize(graph, generic).graph, generic) == latency(graph, generic)
    qg = quantize(graph, loihi)
    drive = encode(np.random.default_rng(1).random((3, 2, 6, 6)), 10, "rate", (2, 6, 6))
    trace = run_quantized(qg, drive)
    spikes = trace.spikes["s"].reshape(10, 3, 3, 3, 2, 3, 2).max(axis=(4, 6))
    # the OR neuron fires one step after the spikes it pools (Loihi's synaptic delay)
    assert np.array_equal(trace.spikes["mp"][1:], spikes[:-1].astype(np.int64))
    assert not trace.spikes["mp"][0].any()


@pytest.mark.parametrize("feeder", ["levels", "input"])
def test_max_pools_of_multi_level_values_are_left_alone(feeder):
    graph = pooled_net(2, feeder="levels")
    if feeder == "input":
        graph = Graph((Input("x", (), shape=(1, 4, 4)), Pool2d("mp", ("x",), pool="max"),
                       Flatten("f", ("mp",)), Dense("fc", ("f",), weight=np.ones((2, 4), F32)),
                       LIF("h", ("fc",))), output="h", encoding="direct")
    assert or_neurons(graph) is graph
