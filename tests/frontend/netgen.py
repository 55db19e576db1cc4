"""Hypothesis strategies for small spiking nets, and a field-by-field layer comparison.

Every number is dyadic (weights multiples of 1/64, thresholds of 1/8, decays of 1/4) so float32
sums are exact in any order: the reference, onnxruntime and TVM must then agree bit for bit even
though they sum matrix products in different orders.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

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

F32 = np.float32
KINDS = ("dense", "conv", "pool", "recurrent", "cuba", "multilevel", "attention")


def layers_equal(a: Layer, b: Layer) -> bool:
    """Same type, name, inputs and parameters (arrays compared exactly, shapes ignored only
    for scalars stored as 0-d arrays vs numpy scalars)."""
    if type(a) is not type(b) or a.name != b.name or a.inputs != b.inputs:
        return False
    for f in dataclasses.fields(a):
        if f.name in ("name", "inputs", "attrs"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            if x is not y:
                return False
        elif isinstance(x, np.ndarray | np.generic | float | int) and not isinstance(x, bool):
            if np.shape(x) != np.shape(y) or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


@st.composite
def dyadic(draw: st.DrawFn, shape: tuple[int, ...], scale: int = 64,
           low: int = -48, high: int = 48) -> np.ndarray:
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return (rng.integers(low, high, shape) / scale).astype(F32)


@st.composite
def neuron(draw: st.DrawFn, name: str, src: str, shape: tuple[int, ...],
           allow_cuba: bool = True) -> Layer:
    """A LIF, IF or CUBA neuron with drawn reset, timing, comparison and optional bias."""
    kind = draw(st.sampled_from(("lif", "if", "cuba") if allow_cuba else ("lif", "if")))
    threshold = F32(draw(st.integers(1, 8)) / 8)
    common = {
        "threshold": threshold,
        "reset": draw(st.sampled_from(("zero", "subtract", "none"))),
        "reset_timing": draw(st.sampled_from(("same", "next"))),
        "compare": draw(st.sampled_from(("gt", "ge"))),
        "bias": draw(st.none() | dyadic(shape[-1:], 64, -16, 16)),
    }
    if common["reset"] == "none":
        common["reset_timing"] = "same"  # timing is meaningless without a reset
    if kind == "cuba":
        return CubaLIF(name, (src,), current_decay=F32(draw(st.integers(0, 3)) / 4),
                       voltage_decay=F32(draw(st.integers(0, 3)) / 4), **common)
    beta = F32(1) if kind == "if" else F32(draw(st.integers(1, 3)) / 4)
    if kind == "lif" and draw(st.booleans()):
        beta = (np.full(shape[-1:], 1, F32) * F32(draw(st.integers(1, 3)) / 4))
    return LIF(name, (src,), beta=beta, **common)


@st.composite
def _dense_net(draw: st.DrawFn) -> list[Layer]:
    n_in, n_hid, n_out = (draw(st.integers(2, 6)) for _ in range(3))
    return [
        Input("x", (), shape=(n_in,)),
        Dense("fc1", ("x",), weight=draw(dyadic((n_hid, n_in))),
              bias=draw(st.none() | dyadic((n_hid,)))),
        draw(neuron("n1", "fc1", (n_hid,))),
        Dense("fc2", ("n1",), weight=draw(dyadic((n_out, n_hid)))),
        draw(neuron("n2", "fc2", (n_out,))),
    ]


@st.composite
def _conv_net(draw: st.DrawFn, with_pool: bool) -> list[Layer]:
    c_in, c_out = draw(st.integers(1, 2)), draw(st.sampled_from((2, 4)))
    size = draw(st.integers(4, 6))
    k = draw(st.integers(1, 3))
    pad = draw(st.integers(0, k // 2 + 1 if k > 1 else 0))
    groups = draw(st.sampled_from((1, c_in))) if c_out % c_in == 0 else 1
    conv = Conv2d("conv", ("x",), weight=draw(dyadic((c_out, c_in // groups, k, k))),
                  bias=draw(st.none() | dyadic((c_out,))), stride=(draw(st.integers(1, 2)),) * 2,
                  padding=(pad, pad, pad, pad), groups=groups)
    layers: list[Layer] = [Input("x", (), shape=(c_in, size, size)), conv]
    graph = Graph((*layers,), output="conv")
    shape = graph.shape("conv")
    layers.append(draw(neuron("n1", "conv", shape, allow_cuba=False)))
    last = "n1"
    if with_pool:
        pool = draw(st.sampled_from(("max", "avg", "sum")))
        pk = draw(st.integers(1, min(2, *shape[1:])))
        layers.append(Pool2d("pool", ("n1",), pool=pool, kernel=(pk, pk), stride=(pk, pk)))
        last = "pool"
        probe = Graph((*layers,), output="pool")
        c, h, w = probe.shape("pool")
        if draw(st.booleans()):
            layers.append(Reshape("rs", (last,), shape=(c, h * w)))
            layers.append(Flatten("fl", ("rs",)))
        else:
            layers.append(Flatten("fl", (last,)))
    else:
        layers.append(Flatten("fl", (last,)))
    width = Graph((*layers,), output="fl").shape("fl")[0]
    n_out = draw(st.integers(2, 4))
    layers += [Dense("fc", ("fl",), weight=draw(dyadic((n_out, width)))),
               draw(neuron("n2", "fc", (n_out,)))]
    return layers


@st.composite
def _recurrent_net(draw: st.DrawFn) -> list[Layer]:
    n_in, n_hid = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    return [
        Input("x", (), shape=(n_in,)),
        Dense("ff", ("x",), weight=draw(dyadic((n_hid, n_in)))),
        Dense("rec", ("n1",), weight=draw(dyadic((n_hid, n_hid))), recurrent=True),
        Add("sum", ("ff", "rec")),
        draw(neuron("n1", "sum", (n_hid,))),
        Dense("out", ("n1",), weight=draw(dyadic((2, n_hid)))),
        draw(neuron("n2", "out", (2,))),
    ]


@st.composite
def _cuba_net(draw: st.DrawFn) -> list[Layer]:
    layers = draw(_dense_net())
    first = layers[2]
    cuba = CubaLIF(first.name, first.inputs, current_decay=F32(draw(st.integers(0, 3)) / 4),
                   voltage_decay=F32(draw(st.integers(0, 3)) / 4),
                   threshold=F32(draw(st.integers(1, 8)) / 8),
                   reset=draw(st.sampled_from(("zero", "subtract"))))
    return [*layers[:2], cuba, *layers[3:]]


@st.composite
def _multilevel_net(draw: st.DrawFn) -> list[Layer]:
    n_in, n_hid = draw(st.integers(2, 5)), draw(st.sampled_from((2, 4, 8)))
    if draw(st.booleans()):
        spike = MultiLevelSpike("ml", ("fc1",), levels=draw(st.integers(1, 4)),
                                alpha=draw(st.sampled_from((0.5, 1.0, 2.0))), axis=-1)
    else:
        spike = MultiLevelSpike("ml", ("fc1",), levels=draw(st.integers(1, 4)), axis=None,
                                theta=draw(st.sampled_from((0.125, 0.25, 0.5))))
    return [
        Input("x", (), shape=(n_in,)),
        Dense("fc1", ("x",), weight=draw(dyadic((n_hid, n_in)))),
        spike,
        Dense("fc2", ("ml",), weight=draw(dyadic((3, n_hid)))),
        draw(neuron("n2", "fc2", (3,))),
    ]


@st.composite
def _attention_net(draw: st.DrawFn) -> list[Layer]:
    length, heads = draw(st.integers(2, 4)), draw(st.sampled_from((1, 2)))
    dim = heads * draw(st.sampled_from((2, 4)))
    d_in = draw(st.integers(2, 4))
    layers: list[Layer] = [Input("x", (), shape=(length, d_in))]
    for part in ("q", "k", "v"):
        layers.append(Dense(f"{part}_proj", ("x",), weight=draw(dyadic((dim, d_in)))))
        layers.append(LIF(part, (f"{part}_proj",), beta=F32(0.5), threshold=F32(0.25)))
    gammas = np.asarray(draw(st.lists(st.sampled_from((0.25, 0.5, 1.0)), min_size=heads,
                                      max_size=heads)), F32)
    layers += [
        SpikingSelfAttention("att", ("q", "k", "v"), heads=heads,
                             scale=draw(st.sampled_from((0.25, 0.5, 1.0))), gammas=gammas),
        Flatten("fl", ("att",)),
        Dense("fc", ("fl",), weight=draw(dyadic((3, length * dim)))),
        draw(neuron("n2", "fc", (3,))),
    ]
    return layers


@st.composite
def nets(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS) -> Graph:
    kind = draw(st.sampled_from(kinds))
    builders = {
        "dense": _dense_net(), "conv": _conv_net(False), "pool": _conv_net(True),
        "recurrent": _recurrent_net(), "cuba": _cuba_net(), "multilevel": _multilevel_net(),
        "attention": _attention_net(),
    }
    layers = draw(builders[kind])
    return Graph(tuple(layers), output=layers[-1].name, timesteps=draw(st.integers(3, 6)),
                 name=kind)


@st.composite
def drives(draw: st.DrawFn, graph: Graph, batch: int = 2) -> np.ndarray:
    """A (steps, batch, *input) drive of multiples of 1/64 in [-0.25, 1)."""
    shape = (graph.timesteps, batch, *graph.input.shape)
    return draw(dyadic(shape, 64, -16, 64))
