"""Small layer views for the Loihi tests, generated from a seed.

``generated_net(seed)`` cycles through topologies that exercise every mapping rule of the
backend (stock and variant LIF, CUBA, multi-level spikes, graded LIF spike counts, conv and
pooling composed into one synapse matrix, residual adds, recurrence, read-out of currents, graded
input, attention on the host) and draws sizes and parameters from the seed, so a failing seed
reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
    SpikingSelfAttention,
)

F32 = np.float32


def _w(rng: np.random.Generator, shape: tuple[int, ...], gain: float = 1.0) -> np.ndarray:
    fan_in = int(np.prod(shape[1:]))
    return (rng.normal(0.0, gain * 2.0 / np.sqrt(fan_in), shape)).astype(F32)


def _bias(rng: np.random.Generator, n: int) -> np.ndarray | None:
    return rng.normal(0.0, 0.1, n).astype(F32) if rng.random() < 0.5 else None


def _neuron(rng: np.random.Generator, name: str, src: str, n: int, kind: str) -> Layer:
    """One neuron layer of ``kind`` with parameters drawn from ``rng``."""
    if kind == "lif":
        return LIF(name, (src,), beta=F32(rng.uniform(0.6, 1.0)), threshold=F32(1.0))
    if kind == "lif_variant":
        return LIF(name, (src,), beta=rng.uniform(0.7, 1.0, n).astype(F32),
                   threshold=rng.uniform(0.6, 1.4, n).astype(F32),
                   bias=rng.normal(0, 0.05, n).astype(F32),
                   reset=str(rng.choice(["zero", "subtract", "none"])),
                   reset_timing=str(rng.choice(["same", "next"])),
                   compare=str(rng.choice(["gt", "ge"])))
    if kind == "cuba":
        return CubaLIF(name, (src,), current_decay=F32(rng.uniform(0.1, 0.6)),
                       voltage_decay=F32(rng.uniform(0.0, 0.3)), threshold=F32(1.0),
                       bias=_bias(rng, n))
    if kind == "multilevel":
        return MultiLevelSpike(name, (src,), levels=int(rng.integers(2, 6)), axis=None,
                               theta=float(rng.uniform(0.3, 0.8)))
    if kind == "graded":  # Sinabs' MultiSpike: counts of several spikes a step
        return LIF(name, (src,), beta=F32(rng.choice([1.0, rng.uniform(0.6, 1.0)])),
                   threshold=F32(rng.uniform(0.03, 0.4)), bias=_bias(rng, n),
                   reset="subtract", compare="ge", graded=True)
    if kind == "multilevel_aware":
        return MultiLevelSpike(name, (src,), levels=int(rng.integers(2, 6)), axis=-1,
                               alpha=float(rng.uniform(0.5, 1.5)))
    raise ValueError(kind)


NEURON_KINDS = ("lif", "lif_variant", "cuba", "multilevel", "multilevel_aware", "graded")


def mlp(rng: np.random.Generator, encoding: str, kinds: tuple[str, ...],
        readout: bool = False) -> Graph:
    sizes = [int(rng.integers(6, 20)) for _ in range(len(kinds) + 1)]
    layers: list[Layer] = [Input("x", (), shape=(sizes[0],))]
    src = "x"
    for i, kind in enumerate(kinds):
        layers.append(Dense(f"fc{i}", (src,), weight=_w(rng, (sizes[i + 1], sizes[i])),
                            bias=_bias(rng, sizes[i + 1])))
        layers.append(_neuron(rng, f"n{i}", f"fc{i}", sizes[i + 1], kind))
        src = f"n{i}"
    if readout:
        layers.append(Dense("head", (src,), weight=_w(rng, (4, sizes[-1])),
                            bias=rng.normal(0, 0.2, 4).astype(F32)))
        src = "head"
    return Graph(tuple(layers), output=src, timesteps=12, encoding=encoding)


def conv_net(rng: np.random.Generator, encoding: str) -> Graph:
    channels = int(rng.integers(1, 3))
    side = int(rng.integers(6, 9))
    out_c = int(rng.integers(2, 5))
    pad = int(rng.integers(0, 2))
    conv = Conv2d("conv", ("x",), weight=_w(rng, (out_c, channels, 3, 3)),
                  bias=_bias(rng, out_c), padding=(pad, pad, pad, pad),
                  stride=(1, 1) if rng.random() < 0.6 else (2, 2))
    shape = conv.out_shape([(channels, side, side)])
    pool = Pool2d("pool", ("s1",), pool=str(rng.choice(["avg", "sum", "max"])), kernel=(2, 2),
                  stride=(2, 2))
    pooled = pool.out_shape([shape])
    flat = int(np.prod(pooled))
    layers = (
        Input("x", (), shape=(channels, side, side)),
        conv,
        LIF("s1", ("conv",), beta=F32(0.9), threshold=F32(1.0)),
        pool,
        Flatten("flat", ("pool",)),
        Dense("fc", ("flat",), weight=_w(rng, (5, flat))),
        LIF("out", ("fc",), beta=F32(0.85), threshold=F32(1.0)),
    )
    return Graph(layers, output="out", timesteps=10, encoding=encoding)


def graded_conv(rng: np.random.Generator, encoding: str) -> Graph:
    """Graded spike counts of a conv layer pooled (max on the host for rate-coded inputs, else
    sum or average) into a graded dense layer."""
    channels, side, out_c = int(rng.integers(1, 3)), 6, int(rng.integers(2, 4))
    layers: list[Layer] = [
        Input("x", (), shape=(channels, side, side)),
        Conv2d("conv", ("x",), weight=_w(rng, (out_c, channels, 3, 3), 1.5),
               padding=(1, 1, 1, 1)),
        LIF("g1", ("conv",), beta=F32(rng.uniform(0.7, 1.0)), threshold=F32(rng.uniform(0.05, 0.4)),
            reset="subtract", compare="ge", graded=True),
        Pool2d("pool", ("g1",), pool="max" if encoding == "rate" else str(
            rng.choice(["avg", "sum"])), kernel=(2, 2), stride=(2, 2)),
        Flatten("flat", ("pool",)),
        Dense("fc", ("flat",), weight=_w(rng, (6, out_c * 9), 0.5)),
        _neuron(rng, "g2", "fc", 6, "graded"),
    ]
    return Graph(tuple(layers), output="g2", timesteps=10, encoding=encoding)


def residual(rng: np.random.Generator, encoding: str) -> Graph:
    n_in, n = int(rng.integers(6, 14)), int(rng.integers(6, 14))
    layers = (
        Input("x", (), shape=(n_in,)),
        Dense("a", ("x",), weight=_w(rng, (n, n_in))),
        LIF("h1", ("a",), beta=F32(0.9), threshold=F32(1.0)),
        Dense("b", ("h1",), weight=_w(rng, (n, n))),
        Dense("skip", ("x",), weight=_w(rng, (n, n_in))),
        Add("sum", ("b", "skip")),
        LIF("h2", ("sum",), beta=F32(0.8), threshold=F32(1.0)),
        LIF("h3", ("h2",), beta=F32(1.0), threshold=F32(0.5)),
    )
    return Graph(layers, output="h3", timesteps=12, encoding=encoding)


def recurrent(rng: np.random.Generator, encoding: str) -> Graph:
    n_in, n = int(rng.integers(6, 14)), int(rng.integers(6, 14))
    layers = (
        Input("x", (), shape=(n_in,)),
        Dense("ff", ("x",), weight=_w(rng, (n, n_in))),
        Dense("rec", ("h",), weight=_w(rng, (n, n), 0.5), recurrent=True),
        Add("sum", ("ff", "rec")),
        LIF("h", ("sum",), beta=F32(0.9), threshold=F32(1.0)),
        Dense("fc", ("h",), weight=_w(rng, (4, n))),
        LIF("out", ("fc",), beta=F32(0.9), threshold=F32(1.0)),
    )
    return Graph(layers, output="out", timesteps=12, encoding=encoding)


def attention(rng: np.random.Generator, encoding: str) -> Graph:
    length, dim, heads = int(rng.integers(3, 6)), 8, int(rng.choice([1, 2]))
    layers: list[Layer] = [Input("x", (), shape=(length, dim))]
    for name in ("q", "k", "v"):
        layers.append(Dense(f"w{name}", ("x",), weight=_w(rng, (dim, dim))))
        layers.append(LIF(name, (f"w{name}",), beta=F32(0.9), threshold=F32(0.7)))
    layers += [
        SpikingSelfAttention("attn", ("q", "k", "v"), heads=heads, scale=0.25,
                             gammas=rng.uniform(0.5, 1.0, heads).astype(F32)),
        Dense("proj", ("attn",), weight=_w(rng, (dim, dim)), bias=_bias(rng, dim)),
        LIF("out", ("proj",), beta=F32(0.9), threshold=F32(1.0)),
    ]
    return Graph(tuple(layers), output="out", timesteps=10, encoding=encoding)


def _topologies() -> list[Callable[[np.random.Generator, str], Graph]]:
    def kinds_net(kinds: tuple[str, ...], readout: bool = False):
        return lambda rng, enc: mlp(rng, enc, kinds, readout)

    return [
        kinds_net(("lif", "lif")),
        kinds_net(("lif_variant", "lif")),
        kinds_net(("cuba", "lif_variant")),
        kinds_net(("multilevel", "lif")),
        kinds_net(("lif", "multilevel_aware", "lif")),
        kinds_net(("lif",), readout=True),
        conv_net,
        residual,
        recurrent,
        attention,
        kinds_net(("lif_variant", "cuba", "multilevel")),
        kinds_net(("cuba", "cuba"), readout=True),
        kinds_net(("graded", "lif_variant", "graded")),
        graded_conv,
    ]


TOPOLOGIES = len(_topologies())


def generated_net(seed: int) -> Graph:
    """Net number ``seed``: topology ``seed % TOPOLOGIES``, encoding alternating by round."""
    rng = np.random.default_rng(1000 + seed)
    encoding = "rate" if (seed // TOPOLOGIES) % 2 == 0 else "direct"
    return _topologies()[seed % TOPOLOGIES](rng, encoding)


def drive_for(graph: Graph, batch: int, seed: int) -> np.ndarray:
    """A (steps, batch, *shape) float drive: spike trains for rate coding, else real values."""
    rng = np.random.default_rng(seed)
    shape = (graph.timesteps, batch, *graph.input.shape)
    if graph.encoding == "rate":
        return (rng.random(shape) < 0.35).astype(F32)
    return rng.uniform(-0.5, 1.0, shape).astype(F32)
