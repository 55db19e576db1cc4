"""Seeded generator of small spiking networks covering every layer the MCU backend lowers.

``make_case(family, seed)`` returns a float layer view, a batch of inputs and a step count. The
weights are scaled to the thresholds so that layers neither stay silent nor fire every step, and
the structural choices (reset kinds, timings, kernel sizes, strides, padding, groups, kernel and
storage attributes, scalar or per-neuron parameters) are drawn from the seed, so a family sweeps
the code paths of its layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.errors import ShapeError
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

FAMILIES = ("dense", "conv", "recurrent", "cuba", "multilevel", "attention", "qnn", "residual",
            "graded")
F32 = np.float32


@dataclass(frozen=True)
class Case:
    family: str
    seed: int
    graph: Graph
    inputs: np.ndarray  # (batch, *input_shape), float
    steps: int

    @property
    def id(self) -> str:
        return f"{self.family}-{self.seed}"


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.layers: list[Layer] = []

    def pick(self, options: tuple | list):
        return options[int(self.rng.integers(len(options)))]

    def add(self, layer: Layer) -> str:
        self.layers.append(layer)
        return layer.name

    def weights(self, shape: tuple[int, ...], fan_in: int, gain: float,
                sparsity: float = 0.0) -> np.ndarray:
        w = self.rng.normal(0.0, gain / np.sqrt(fan_in), shape)
        if sparsity:
            w[self.rng.random(shape) < sparsity] = 0.0
        return w.astype(F32)

    def vector_or_scalar(self, n: int | tuple[int, ...], lo: float, hi: float) -> np.ndarray:
        """One value for the layer, or one per neuron (per channel for a (C, 1, 1) shape)."""
        if self.rng.random() < 0.5:
            return F32(self.rng.uniform(lo, hi))
        return self.rng.uniform(lo, hi, n).astype(F32)

    def synapse_attrs(self, spiking_input: bool) -> dict:
        """Sometimes force the dense kernel on spikes, or CSR storage."""
        if not spiking_input:
            return {}
        choice = self.pick(("auto", "auto", "dense", "csr"))
        if choice == "dense":
            return {"kernel": "dense"}
        if choice == "csr":
            return {"kernel": "event", "storage": "csr"}
        return {}

    def lif(self, name: str, src: str, n: int | tuple[int, ...], *,
            integrate: bool = False) -> str:
        beta = F32(1.0) if integrate else self.vector_or_scalar(n, 0.5, 0.98)
        bias = None if self.rng.random() < 0.6 else self.rng.normal(0, 0.1, n).astype(F32)
        return self.add(LIF(
            name, (src,), beta=beta, threshold=self.vector_or_scalar(n, 0.6, 1.4), bias=bias,
            reset=self.pick(("zero", "subtract", "none", "zero")),
            reset_timing=self.pick(("same", "next")), compare=self.pick(("gt", "ge"))))

    def graded(self, name: str, src: str, n: int | tuple[int, ...]) -> str:
        """A graded LIF (Sinabs' MultiSpike) with thresholds small against its drive, so it sends
        several spikes a step and, with the tiniest, saturates at the profile's count limit."""
        bias = None if self.rng.random() < 0.6 else self.rng.normal(0, 0.1, n).astype(F32)
        low = self.pick((0.001, 0.01, 0.1, 0.3))
        return self.add(LIF(
            name, (src,), beta=self.pick((F32(1.0), self.vector_or_scalar(n, 0.5, 0.98))),
            threshold=self.vector_or_scalar(n, low, 0.8), bias=bias, reset="subtract",
            reset_timing="same", compare="ge", graded=True))

    def cuba(self, name: str, src: str, n: int) -> str:
        bias = None if self.rng.random() < 0.5 else self.rng.normal(0, 0.05, n).astype(F32)
        return self.add(CubaLIF(
            name, (src,), current_decay=self.vector_or_scalar(n, 0.05, 0.6),
            voltage_decay=self.vector_or_scalar(n, 0.02, 0.4),
            threshold=self.vector_or_scalar(n, 0.8, 1.6), bias=bias,
            reset=self.pick(("zero", "subtract", "none")),
            reset_timing=self.pick(("same", "next")), compare=self.pick(("gt", "ge"))))

    def dense(self, name: str, src: str, n_in: int, n_out: int, gain: float,
              spiking_input: bool, bias: bool = True, **kw) -> str:
        attrs = self.synapse_attrs(spiking_input)
        sparsity = 0.7 if attrs.get("storage") == "csr" else 0.0
        layer = Dense(name, (src,), weight=self.weights((n_out, n_in), n_in, gain, sparsity),
                      bias=self.rng.normal(0, 0.2, n_out).astype(F32) if bias else None, **kw)
        return self.add(layer.with_attrs(**attrs) if attrs else layer)


def _dense(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    n_in, hidden, n_out = (int(b.rng.integers(4, 40)), int(b.rng.integers(3, 48)),
                           int(b.rng.integers(2, 12)))
    encoding = b.pick(("direct", "rate"))
    b.add(Input("x", (), shape=(n_in,)))
    b.dense("fc1", "x", n_in, hidden, 2.5, encoding == "rate")
    b.lif("lif1", "fc1", hidden, integrate=b.rng.random() < 0.3)
    b.dense("fc2", "lif1", hidden, n_out, 3.0, True, bias=b.rng.random() < 0.5)
    b.lif("lif2", "fc2", n_out)
    return "lif2", (n_in,), encoding


def _conv(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    c_in, h, w = int(b.rng.integers(1, 4)), int(b.rng.integers(6, 11)), int(b.rng.integers(6, 11))
    c1 = int(b.pick((2, 3, 4, 6)))
    groups = b.pick([g for g in (1, 2, 3) if c_in % g == 0 and c1 % g == 0])
    k = int(b.rng.integers(1, 4))
    pad = tuple(int(b.rng.integers(0, k)) for _ in range(4))
    encoding = b.pick(("direct", "rate"))
    b.add(Input("img", (), shape=(c_in, h, w)))
    b.add(Conv2d("conv1", ("img",), weight=b.weights((c1, c_in // groups, k, k),
                                                     c_in // groups * k * k, 2.5),
                 bias=b.rng.normal(0, 0.2, c1).astype(F32), stride=(b.pick((1, 2)), 1),
                 padding=pad, dilation=(1, b.pick((1, 2))) if k > 1 else (1, 1),
                 groups=groups).with_attrs(**b.synapse_attrs(encoding == "rate")))
    b.lif("lif1", "conv1", (c1, 1, 1))
    pool = b.pick(("max", "avg", "sum"))
    b.add(Pool2d("pool1", ("lif1",), pool=pool, kernel=(2, 2), stride=b.pick(((2, 2), (1, 1))),
                 padding=b.pick(((0, 0, 0, 0), (1, 1, 0, 0), (0, 0, 1, 1)))))
    c2 = int(b.pick((2, 4)))
    b.add(Conv2d("conv2", ("pool1",), weight=b.weights((c2, c1, 3, 3), c1 * 9, 3.0),
                 padding=(1, 1, 1, 1)).with_attrs(**b.synapse_attrs(True)))
    b.lif("lif2", "conv2", (c2, 1, 1))
    b.add(Flatten("flat", ("lif2",)))
    return "flat", (c_in, h, w), encoding


def _conv_tail(b: _Builder, graph: Graph) -> Graph:
    """Adds the classifier after Flatten once the flattened size is known."""
    n = graph.size("flat")
    b.dense("fc", "flat", n, 5, 3.0, True)
    b.lif("out", "fc", 5)
    return Graph(tuple(b.layers), output="out", timesteps=graph.timesteps,
                 encoding=graph.encoding)


def _recurrent(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    n_in, hidden = int(b.rng.integers(4, 24)), int(b.rng.integers(4, 32))
    b.add(Input("x", (), shape=(n_in,)))
    b.dense("w_in", "x", n_in, hidden, 2.0, False)
    b.add(Dense("w_rec", ("rnn",), weight=b.weights((hidden, hidden), hidden, 1.5),
                recurrent=True).with_attrs(**b.synapse_attrs(True)))
    b.add(Add("sum", ("w_in", "w_rec")))
    b.lif("rnn", "sum", hidden)
    b.dense("w_out", "rnn", hidden, 4, 3.0, True)
    if b.rng.random() < 0.5:
        b.cuba("out", "w_out", 4)
    else:
        b.lif("out", "w_out", 4)
    return "out", (n_in,), "direct"


def _cuba(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    n_in, hidden = int(b.rng.integers(4, 32)), int(b.rng.integers(4, 32))
    encoding = b.pick(("direct", "rate"))
    b.add(Input("x", (), shape=(n_in,)))
    b.dense("fc1", "x", n_in, hidden, 2.0, encoding == "rate")
    b.cuba("c1", "fc1", hidden)
    b.dense("fc2", "c1", hidden, 6, 3.0, True)
    b.cuba("c2", "fc2", 6)
    return "c2", (n_in,), encoding


def _multilevel(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    rows, n_in, hidden = int(b.rng.integers(1, 4)), int(b.rng.integers(4, 20)), int(
        b.rng.integers(4, 24))
    b.add(Input("x", (), shape=(rows, n_in)))
    b.dense("fc1", "x", n_in, hidden, 2.0, False)
    axis = b.pick((-1, 0, 1, None))
    b.add(MultiLevelSpike("ml", ("fc1",), levels=int(b.rng.integers(2, 7)),
                          alpha=float(b.rng.uniform(0.5, 2.0)), axis=axis,
                          theta=float(b.rng.uniform(0.3, 1.0)) if axis is None else None))
    b.dense("fc2", "ml", hidden, 5, 1.5, True)
    b.lif("out", "fc2", 5)
    return "out", (rows, n_in), "direct"


def _attention(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    length, heads, d_head = int(b.rng.integers(3, 7)), int(b.pick((1, 2))), int(
        b.rng.integers(2, 5))
    dim, d_in = heads * d_head, int(b.rng.integers(3, 10))
    b.add(Input("x", (), shape=(length, d_in)))
    for role in ("q", "k", "v"):
        b.dense(f"w_{role}", "x", d_in, dim, 2.5, False)
        b.lif(f"s_{role}", f"w_{role}", dim)
    gammas = b.rng.uniform(0.3, 0.95, heads).astype(F32)
    b.add(SpikingSelfAttention("ssa", ("s_q", "s_k", "s_v"), heads=heads,
                               scale=float(b.rng.uniform(0.2, 1.0)), gammas=gammas))
    b.dense("proj", "ssa", dim, 4, 4.0, False)
    b.lif("out", "proj", 4)
    return "out", (length, d_in), "direct"


def _qnn(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    """A QNN-mapped layer as the SNN->QNN conversion expresses it: an IF layer run once on
    counts becomes a multi-level spike with a constant threshold and T levels."""
    n_in, hidden = int(b.rng.integers(4, 30)), int(b.rng.integers(4, 30))
    b.add(Input("x", (), shape=(n_in,)))
    b.dense("fc1", "x", n_in, hidden, 2.0, False)
    b.add(MultiLevelSpike("qnn1", ("fc1",), levels=int(b.pick((3, 7, 15))), axis=None,
                          theta=float(b.rng.uniform(0.1, 0.5))))
    b.dense("fc2", "qnn1", hidden, 6, 1.0, True)
    b.lif("out", "fc2", 6, integrate=True)
    return "out", (n_in,), "direct"


def _residual(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    n_in, hidden = int(b.rng.integers(4, 24)), int(b.rng.integers(4, 24))
    b.add(Input("x", (), shape=(n_in,)))
    b.dense("fc1", "x", n_in, hidden, 2.0, False)
    b.lif("a", "fc1", hidden)
    b.dense("fc2", "a", hidden, hidden, 2.0, True)
    b.lif("b", "fc2", hidden)
    b.dense("skip", "a", hidden, hidden, 1.5, True)
    b.dense("main", "b", hidden, hidden, 1.5, True, bias=False)
    b.add(Add("res", ("skip", "main")))
    b.add(Reshape("r", ("res",), shape=(1, hidden)))
    b.add(Flatten("f", ("r",)))
    b.lif("out", "f", hidden)
    return "out", (n_in,), b.pick(("direct", "rate"))


def _graded(b: _Builder) -> tuple[str, tuple[int, ...], str]:
    """Graded LIF layers whose counts feed a dense layer, or a sum pool and a dense layer."""
    encoding = b.pick(("direct", "rate"))
    if b.rng.random() < 0.5:
        n_in, hidden = int(b.rng.integers(4, 24)), int(b.rng.integers(3, 32))
        b.add(Input("x", (), shape=(n_in,)))
        b.dense("fc1", "x", n_in, hidden, 3.0, encoding == "rate")
        b.graded("g1", "fc1", hidden)
    else:
        c_in, c1, side = int(b.rng.integers(1, 3)), int(b.pick((2, 3))), int(b.pick((4, 6)))
        b.add(Input("img", (), shape=(c_in, side, side)))
        b.add(Conv2d("conv1", ("img",), weight=b.weights((c1, c_in, 3, 3), c_in * 9, 3.0),
                     padding=(1, 1, 1, 1)).with_attrs(**b.synapse_attrs(encoding == "rate")))
        b.graded("g0", "conv1", (c1, 1, 1))
        b.add(Pool2d("pool", ("g0",), pool=b.pick(("sum", "avg")), kernel=(2, 2),
                     stride=(2, 2)))
        b.add(Flatten("flat", ("pool",)))
        hidden = c1 * (side // 2) ** 2
        b.dense("fc1", "flat", hidden, hidden, 1.0, True)
        b.graded("g1", "fc1", hidden)
    b.dense("fc2", "g1", hidden, 5, 1.0, True)
    if b.rng.random() < 0.5:
        b.graded("out", "fc2", 5)
    else:
        b.lif("out", "fc2", 5)
    return "out", b.layers[0].shape, encoding


_BUILDERS = {"dense": _dense, "conv": _conv, "recurrent": _recurrent, "cuba": _cuba,
             "multilevel": _multilevel, "attention": _attention, "qnn": _qnn,
             "residual": _residual, "graded": _graded}


def make_case(family: str, seed: int, batch: int = 3) -> Case:
    """A valid network of ``family``; retries structural draws that give empty shapes."""
    for attempt in range(50):
        b = _Builder(seed * 1000 + attempt)
        output, in_shape, encoding = _BUILDERS[family](b)
        steps = int(b.rng.integers(4, 11))
        try:
            graph = Graph(tuple(b.layers), output=output, timesteps=steps, encoding=encoding)
        except ShapeError:
            continue
        if family == "conv":
            graph = _conv_tail(b, graph)
        if encoding == "rate":
            x = b.rng.uniform(0, 1, (batch, *in_shape))
        else:
            x = b.rng.normal(0, 1, (batch, *in_shape))
        return Case(family, seed, graph, x.astype(F32), steps)
    raise RuntimeError(f"no valid {family} network for seed {seed}")
