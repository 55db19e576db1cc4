"""Generated IML-Spikeformer-style networks for the differential tests.

Each recipe draws one network from a seeded numpy generator: multi-level (IMLS) neurons with
input-aware thresholds over either sample axis or a constant threshold, 1..7 levels,
softmax-free attention with 1..3 heads and per-head decay masks, residual branches, MLPs,
grouped-convolution front ends, pooling heads, binary LIF neurons mixed in, direct and rate
inputs, 1..3 timesteps. Input-aware IMLS layers are active by construction; constant IMLS and
binary LIF thresholds are set from the float currents the drawn inputs produce, so they fire
too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from snnc.ir.layers import (
    LIF,
    Add,
    Conv2d,
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
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import run_quantized
from snnc.reference.simulate import run_graph
from snnc.target import load_target

F32 = np.float32


@dataclass(frozen=True)
class Net:
    recipe: str
    seed: int
    graph: Graph
    inputs: np.ndarray


class _Draw:
    """Layer list under construction plus the random choices."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.layers: list[Layer] = []

    def add(self, layer: Layer) -> str:
        self.layers.append(layer)
        return layer.name

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def dense(self, name: str, src: str, n_in: int, n_out: int, gain: float = 1.5,
              bias: bool = True) -> str:
        w = self.rng.normal(0.0, gain / np.sqrt(n_in), (n_out, n_in)).astype(F32)
        b = self.rng.normal(0.0, 0.2, n_out).astype(F32) if bias else None
        return self.add(Dense(name, (src,), weight=w, bias=b))

    def imls(self, name: str, src: str, rank: int = 2, min_levels: int = 1) -> str:
        """An IMLS neuron: mostly input-aware over the feature axis, sometimes over the token
        axis (``axis=0``) or with a constant threshold."""
        kind = self.rng.choice(["feature", "feature", "token", "constant"])
        levels = self.integer(min_levels, 7)
        if kind == "constant":
            return self.add(MultiLevelSpike(name, (src,), levels=levels, axis=None, theta=1.0))
        axis = -1 if kind == "feature" or rank == 1 else 0
        return self.add(MultiLevelSpike(name, (src,), levels=levels, axis=axis,
                                        alpha=float(self.rng.uniform(0.4, 1.6))))

    def lif(self, name: str, src: str) -> str:
        return self.add(LIF(name, (src,), beta=F32(self.rng.uniform(0.7, 1.0)),
                            threshold=F32(self.rng.uniform(0.3, 1.0)), reset="subtract"))

    def attention(self, name: str, sources: tuple[str, str, str], dim: int) -> str:
        heads = int(self.rng.choice([h for h in (1, 2, 3) if dim % h == 0]))
        gammas = np.sort(self.rng.uniform(0.3, 0.98, heads)).astype(F32)
        return self.add(SpikingSelfAttention(name, sources, heads=heads,
                                             scale=float(self.rng.uniform(0.05, 0.5)),
                                             gammas=gammas))

    def qkv(self, prefix: str, src: str, n_in: int, dim: int, binary: bool = False) -> str:
        """Q, K, V projections with their neurons, then attention and its IMLS."""
        spikes = []
        for role in ("q", "k", "v"):
            z = self.dense(f"{prefix}{role}", src, n_in, dim, gain=2.0)
            spikes.append(self.lif(f"{prefix}{role}_s", z) if binary else
                          self.imls(f"{prefix}{role}_s", z))
        return self.attention(f"{prefix}att", (spikes[0], spikes[1], spikes[2]), dim)

    def block(self, prefix: str, x: str, dim: int) -> str:
        """HD-RepSSA + MLP with Dense-weighted residual branches (one Add per branch)."""
        att = self.imls(f"{prefix}att_s", self.qkv(prefix, x, dim, dim))
        proj = self.dense(f"{prefix}proj", att, dim, dim)
        skip = self.dense(f"{prefix}skip1", x, dim, dim, bias=False)
        mid = self.imls(f"{prefix}mid", self.add(Add(f"{prefix}res1", (proj, skip))))
        hidden_dim = self.integer(dim, 2 * dim)
        hidden = self.imls(f"{prefix}hidden", self.dense(f"{prefix}fc1", mid, dim, hidden_dim))
        fc2 = self.dense(f"{prefix}fc2", hidden, hidden_dim, dim)
        skip2 = self.dense(f"{prefix}skip2", mid, dim, dim, bias=False)
        return self.imls(f"{prefix}out", self.add(Add(f"{prefix}res2", (fc2, skip2))))


def _tokens(d: _Draw) -> tuple[str, int, int]:
    length, d_in = d.integer(3, 8), d.integer(3, 10)
    d.add(Input("x", (), shape=(length, d_in)))
    return "x", length, d_in


def encoder_block(d: _Draw) -> tuple[str, int]:
    """Embedding IMLS, one block, IMLS output (levels are the graph output)."""
    x, _, d_in = _tokens(d)
    dim = d.integer(2, 4) * d.integer(1, 3)
    h = d.imls("embed", d.dense("embed_fc", x, d_in, dim))
    return d.block("b0_", h, dim), d.integer(1, 2)


def two_blocks(d: _Draw) -> tuple[str, int]:
    """Two stacked blocks and a Dense read-out of the last token's features."""
    x, length, d_in = _tokens(d)
    dim = 2 * d.integer(1, 4)
    h = d.imls("embed", d.dense("embed_fc", x, d_in, dim))
    h = d.block("b1_", d.block("b0_", h, dim), dim)
    flat = d.add(Flatten("flat", (h,)))
    return d.dense("head", flat, length * dim, d.integer(2, 5)), 1


def conv_frontend(d: _Draw) -> tuple[str, int]:
    """The example's front end: a frequency convolution shared by every token as a grouped
    Conv2d on (L, 1, F), a Reshape to tokens, one block, average pooling over tokens, a head."""
    length, bands = d.integer(3, 6), d.integer(6, 12)
    filters, kernel = d.integer(1, 3), d.integer(2, 4)
    stride = d.integer(1, 2)
    width = (bands - kernel) // stride + 1
    d.add(Input("spec", (), shape=(length, 1, bands)))
    w = np.tile(d.rng.normal(0, 0.8, (filters, 1, 1, kernel)), (length, 1, 1, 1)).astype(F32)
    d.add(Conv2d("front", ("spec",), weight=w, bias=np.zeros(length * filters, F32),
                 stride=(1, stride), groups=length))
    dim = filters * width
    tokens = d.add(Reshape("tokens", ("front",), shape=(length, dim)))
    h = d.block("b0_", d.imls("embed", tokens), dim)
    d.add(Reshape("pool_in", (h,), shape=(1, length, dim)))
    d.add(Pool2d("pool", ("pool_in",), pool=str(d.rng.choice(["avg", "sum"])),
                 kernel=(length, 1), stride=(length, 1)))
    flat = d.add(Flatten("feat", ("pool",)))
    return d.dense("head", flat, dim, d.integer(2, 6)), 1


def binary_qkv(d: _Draw) -> tuple[str, int]:
    """Rate-coded input, binary LIF Q/K/V spikes over several steps, IMLS after attention,
    LIF output neurons."""
    x, _, d_in = _tokens(d)
    dim = d.integer(2, 6)
    att = d.imls("att_s", d.qkv("", x, d_in, dim, binary=True), min_levels=3)
    return d.lif("out", d.dense("proj", att, dim, d.integer(2, 5))), 3


def attention_readout(d: _Draw) -> tuple[str, int]:
    """Attention read straight by a Dense (no neuron in between) and a LIF layer."""
    x, _, d_in = _tokens(d)
    dim = d.integer(2, 6)
    h = d.imls("embed", d.dense("embed_fc", x, d_in, dim))
    att = d.qkv("", h, dim, dim)
    return d.lif("out", d.dense("proj", att, dim, d.integer(2, 5), gain=0.5)), d.integer(1, 3)


def attention_residual(d: _Draw) -> tuple[str, int]:
    """Attention summed with a residual branch before any neuron (Loihi refuses this: its
    host attention process must be the only source of the stage)."""
    x, _, d_in = _tokens(d)
    dim = d.integer(2, 6)
    h = d.imls("embed", d.dense("embed_fc", x, d_in, dim))
    att = d.dense("proj", d.qkv("", h, dim, dim), dim, dim, gain=0.5)
    skip = d.dense("skip", h, dim, dim)
    return d.imls("out", d.add(Add("res", (att, skip)))), 1


RECIPES: dict[str, Callable[[_Draw], tuple[str, int]]] = {
    "encoder_block": encoder_block, "two_blocks": two_blocks, "conv_frontend": conv_frontend,
    "binary_qkv": binary_qkv, "attention_readout": attention_readout,
    "attention_residual": attention_residual,
}


def make_net(recipe: str, seed: int, batch: int = 3) -> Net:
    """The first draw (of seed ``seed * 100 + attempt``) that is live in the integer mode of
    the cortex-m4 profile: every neuron layer fires, some IMLS level reaches 2 and the output
    is not all zero (a draw can be silent where, e.g., every current of a small layer is
    negative, or a constant threshold lies below the fixed-point unit of its input)."""
    for attempt in range(50):
        d = _Draw(seed * 100 + attempt)
        output, steps = RECIPES[recipe](d)
        encoding = "rate" if recipe == "binary_qkv" else "direct"
        graph = Graph(tuple(d.layers), output=output, timesteps=steps, encoding=encoding,
                      name=f"{recipe}_{seed}")
        shape = (batch, *graph.input.shape)
        x = d.rng.uniform(0, 1, shape) if encoding == "rate" else d.rng.normal(0, 1, shape)
        net = Net(recipe, seed, _fit_thresholds(graph, x.astype(F32)), x.astype(F32))
        if is_live(net):
            return net
    raise RuntimeError(f"no live {recipe} net for seed {seed}")


def is_live(net: Net) -> bool:
    profile = load_target("cortex-m4").numeric
    qg = quantize(net.graph, profile, calib=net.inputs)
    trace = run_quantized(qg, encode(net.inputs, net.graph.timesteps, net.graph.encoding,
                                     net.graph.input.shape))
    levels = [trace.spikes[lay.name].max() for lay in net.graph.layers
              if isinstance(lay, MultiLevelSpike)]
    return (all(s.any() for s in trace.spikes.values()) and max(levels) >= 2
            and bool(trace.output.any()))


def _fit_thresholds(graph: Graph, x: np.ndarray) -> Graph:
    """Each LIF threshold at the median of the positive float currents it receives, each
    constant IMLS threshold so that their 90th percentile is 60 % of the top level (layer by
    layer, so later layers see the spikes of the already fitted ones)."""
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    for lay in graph.layers:
        constant_imls = isinstance(lay, MultiLevelSpike) and lay.axis is None
        if not (isinstance(lay, LIF) or constant_imls):
            continue
        upto = graph.layers[:[g.name for g in graph.layers].index(lay.inputs[0]) + 1]
        current = run_graph(Graph(upto, output=lay.inputs[0], timesteps=graph.timesteps,
                                  encoding=graph.encoding), drive, record=False).output
        positive = current[current > 0]
        if isinstance(lay, LIF):
            theta = float(np.quantile(positive, 0.5)) if positive.size else 1.0
            graph = graph.with_layer(replace(lay, threshold=F32(max(theta, 1e-3))))
        else:
            top = float(np.quantile(positive, 0.9)) if positive.size else 1.0
            graph = graph.with_layer(replace(lay, theta=max(top / (0.6 * lay.levels), 1e-3)))
    return graph


def all_nets(seeds_per_recipe: int) -> list[tuple[str, int]]:
    return [(r, s) for r in sorted(RECIPES) for s in range(seeds_per_recipe)]
