"""Generated networks for the SpiNNaker 2 differential tests (deterministic per seed).

Each recipe builds a small float layer view covering one family of layouts: plain MLPs with every
neuron variant, convolutions with sum/average/max pooling, recurrent and residual stages, readout
outputs, direct input injection, multi-level spikes (constant and input-aware thresholds),
graded LIF spike counts and spiking self-attention. ``machine_limits`` picks small machines
that force multi-PE and multi-chip layouts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

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
from snnc.target import Target, load_target

F32 = np.float32


def _weights(rng: np.random.Generator, out_f: int, in_f: int, gain: float = 2.0) -> np.ndarray:
    w = rng.normal(0.0, gain / np.sqrt(in_f), (out_f, in_f)).astype(F32)
    w[rng.random(w.shape) < rng.uniform(0.0, 0.5)] = 0  # some sparsity
    return w


def _neuron(rng: np.random.Generator, name: str, src: str, shape: tuple[int, ...],
            kind: str | None = None) -> Layer:
    kind = kind or str(rng.choice(["lif", "if", "cuba", "mls", "mls_adaptive"]))
    if kind in ("lif", "if"):
        per_neuron = rng.random() < 0.3
        beta = (rng.uniform(0.5, 1.0, shape) if per_neuron else rng.uniform(0.5, 1.0))
        return LIF(name, (src,), beta=F32(1.0) if kind == "if" else np.asarray(beta, F32),
                   threshold=np.asarray(rng.uniform(0.5, 1.5), F32),
                   bias=np.asarray(rng.normal(0, 0.1, shape), F32) if rng.random() < 0.4
                   else None,
                   reset=str(rng.choice(["zero", "subtract", "none"])),
                   reset_timing=str(rng.choice(["same", "next"])),
                   compare=str(rng.choice(["gt", "ge"])))
    if kind == "graded":  # Sinabs' MultiSpike: spike counts, several per step
        return LIF(name, (src,), beta=F32(rng.choice([1.0, rng.uniform(0.5, 1.0)])),
                   threshold=np.asarray(rng.uniform(0.02, 0.5), F32), reset="subtract",
                   compare="ge", graded=True)
    if kind == "cuba":
        return CubaLIF(name, (src,), current_decay=F32(rng.uniform(0.1, 0.9)),
                       voltage_decay=F32(rng.uniform(0.05, 0.5)),
                       threshold=F32(rng.uniform(0.8, 2.0)),
                       bias=F32(rng.normal(0, 0.1)) if rng.random() < 0.5 else None,
                       reset=str(rng.choice(["zero", "subtract"])))
    if kind == "mls":
        return MultiLevelSpike(name, (src,), levels=int(rng.integers(1, 5)), axis=None,
                               theta=float(rng.uniform(0.3, 1.0)))
    return MultiLevelSpike(name, (src,), levels=int(rng.integers(1, 5)),
                           alpha=float(rng.uniform(0.5, 1.5)), axis=-1)


def mlp(rng: np.random.Generator) -> Graph:
    sizes = [int(rng.integers(4, 90)) for _ in range(int(rng.integers(2, 4)))]
    layers: list[Layer] = [Input("x", (), shape=(sizes[0],))]
    prev = "x"
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(Dense(f"fc{i}", (prev,), weight=_weights(rng, b, a),
                            bias=rng.normal(0, 0.2, b).astype(F32) if rng.random() < 0.5
                            else None))
        layers.append(_neuron(rng, f"n{i}", f"fc{i}", (b,)))
        prev = f"n{i}"
    return Graph(tuple(layers), output=prev, timesteps=8,
                 encoding=str(rng.choice(["rate", "direct"])), name="mlp")


def wide_fanout(rng: np.random.Generator) -> Graph:
    """One source feeding many neurons: the target layer spans many PEs and chips."""
    n_in, n_hid = int(rng.integers(20, 40)), int(rng.integers(150, 260))
    layers = (Input("x", (), shape=(n_in,)),
              Dense("fc0", ("x",), weight=_weights(rng, n_hid, n_in)),
              _neuron(rng, "n0", "fc0", (n_hid,), "lif"),
              Dense("fc1", ("n0",), weight=_weights(rng, 12, n_hid, 3.0)),
              _neuron(rng, "n1", "fc1", (12,), "lif"))
    return Graph(layers, output="n1", timesteps=8, encoding="rate", name="fanout")


def conv(rng: np.random.Generator) -> Graph:
    c, h = int(rng.integers(1, 3)), int(rng.integers(6, 10))
    oc = int(rng.integers(2, 5))
    pool = str(rng.choice(["avg", "sum", "max"]))
    pad = int(rng.integers(0, 2))
    groups = c if (c > 1 and oc % c == 0 and rng.random() < 0.5) else 1
    w = rng.normal(0, 1.2, (oc, c // groups, 3, 3)).astype(F32)
    layers: list[Layer] = [
        Input("x", (), shape=(c, h, h)),
        Conv2d("conv", ("x",), weight=w, bias=rng.normal(0, 0.1, oc).astype(F32),
               stride=(1, 1), padding=(pad, pad, pad, pad), groups=groups),
        _neuron(rng, "n0", "conv", (oc, h - 2 + 2 * pad, h - 2 + 2 * pad), "lif"),
        Pool2d("pool", ("n0",), pool=pool, kernel=(2, 2), stride=(2, 2)),
        Flatten("flat", ("pool",)),
    ]
    g = Graph(tuple(layers), output="flat")
    n_flat = g.size("flat")
    layers += [Dense("fc", ("flat",), weight=_weights(rng, 10, n_flat, 3.0)),
               _neuron(rng, "n1", "fc", (10,), "lif")]
    return Graph(tuple(layers), output="n1", timesteps=8, encoding="rate", name="conv")


def recurrent(rng: np.random.Generator) -> Graph:
    n_in, n_h = int(rng.integers(5, 30)), int(rng.integers(5, 60))
    layers = (Input("x", (), shape=(n_in,)),
              Dense("fin", ("x",), weight=_weights(rng, n_h, n_in)),
              Dense("frec", ("n0",), weight=_weights(rng, n_h, n_h, 1.0), recurrent=True),
              Add("sum", ("fin", "frec")),
              _neuron(rng, "n0", "sum", (n_h,), str(rng.choice(["lif", "cuba"]))),
              Dense("fout", ("n0",), weight=_weights(rng, 6, n_h, 3.0)),
              _neuron(rng, "n1", "fout", (6,), "lif"))
    return Graph(layers, output="n1", timesteps=10, encoding="rate", name="recurrent")


def residual(rng: np.random.Generator) -> Graph:
    n_in, n = int(rng.integers(5, 30)), int(rng.integers(5, 50))
    layers = (Input("x", (), shape=(n_in,)),
              Dense("fa", ("x",), weight=_weights(rng, n, n_in)),
              _neuron(rng, "a", "fa", (n,), "lif"),
              Dense("fb", ("a",), weight=_weights(rng, n, n)),
              _neuron(rng, "b", "fb", (n,), "mls"),
              Dense("fc_a", ("a",), weight=_weights(rng, 8, n)),
              Dense("fc_b", ("b",), weight=_weights(rng, 8, n)),
              Add("skip", ("fc_a", "fc_b")),
              _neuron(rng, "c", "skip", (8,), "lif"))
    return Graph(layers, output="c", timesteps=8, encoding="direct", name="residual")


def readout(rng: np.random.Generator) -> Graph:
    """The graph output is a Dense layer's value, recorded by a readout population."""
    n_in, n = int(rng.integers(5, 40)), int(rng.integers(5, 70))
    layers = (Input("x", (), shape=(n_in,)),
              Dense("f0", ("x",), weight=_weights(rng, n, n_in)),
              _neuron(rng, "n0", "f0", (n,)),
              Dense("f1", ("n0",), weight=_weights(rng, 5, n),
                    bias=rng.normal(0, 0.5, 5).astype(F32)))
    return Graph(layers, output="f1", timesteps=8, encoding="rate", name="readout")


def injection(rng: np.random.Generator) -> Graph:
    """A neuron layer reads the input directly: the host injects it, no synapses."""
    n = int(rng.integers(5, 50))
    layers = (Input("x", (), shape=(n,)),
              _neuron(rng, "n0", "x", (n,), "lif"),
              Dense("f1", ("n0",), weight=_weights(rng, 7, n, 3.0)),
              _neuron(rng, "n1", "f1", (7,)))
    return Graph(layers, output="n1", timesteps=8, encoding="direct", name="inject")


def adaptive_levels(rng: np.random.Generator) -> Graph:
    """Input-aware multi-level spikes grouped over a non-last axis: slices hold whole groups."""
    rows, cols = int(rng.integers(2, 6)), int(rng.integers(3, 9))
    n_in = int(rng.integers(4, 20))
    layers = (Input("x", (), shape=(rows, n_in)),
              Dense("f0", ("x",), weight=_weights(rng, cols, n_in)),
              MultiLevelSpike("m0", ("f0",), levels=3, alpha=float(rng.uniform(0.5, 1.5)),
                              axis=int(rng.choice([0, 1, -1]))),
              Flatten("flat", ("m0",)),
              Dense("f1", ("flat",), weight=_weights(rng, 6, rows * cols, 3.0)),
              _neuron(rng, "n1", "f1", (6,), "lif"))
    return Graph(layers, output="n1", timesteps=6, encoding="direct", name="levels")


def attention(rng: np.random.Generator) -> Graph:
    length, heads = int(rng.integers(2, 6)), int(rng.integers(1, 3))
    d = heads * int(rng.integers(2, 5))
    layers: list[Layer] = [Input("x", (), shape=(length, d))]
    for proj in ("q", "k", "v"):
        layers.append(Dense(f"w{proj}", ("x",), weight=_weights(rng, d, d)))
        layers.append(MultiLevelSpike(proj, (f"w{proj}",), levels=2, axis=None,
                                      theta=float(rng.uniform(0.2, 0.6))))
    layers += [
        SpikingSelfAttention("attn", ("q", "k", "v"), heads=heads, scale=0.25,
                             gammas=rng.uniform(0.5, 1.0, heads).astype(F32)),
        Dense("wo", ("attn",), weight=_weights(rng, d, d, 1.0)),
        MultiLevelSpike("out", ("wo",), levels=3, alpha=1.0, axis=-1),
    ]
    return Graph(tuple(layers), output="out", timesteps=6, encoding="direct", name="attention")


def graded(rng: np.random.Generator) -> Graph:
    """Graded LIF layers whose counts travel as packet payloads into an event stage, a pooled
    stage and a recurrent one."""
    c, h, oc = int(rng.integers(1, 3)), 6, int(rng.integers(2, 4))
    n_h = int(rng.integers(5, 40))
    w = rng.normal(0, 1.5, (oc, c, 3, 3)).astype(F32)
    layers: list[Layer] = [
        Input("x", (), shape=(c, h, h)),
        Conv2d("conv", ("x",), weight=w, padding=(1, 1, 1, 1)),
        _neuron(rng, "n0", "conv", (oc, h, h), "graded"),
        Pool2d("pool", ("n0",), pool=str(rng.choice(["avg", "sum"])), kernel=(2, 2),
               stride=(2, 2)),
        Flatten("flat", ("pool",)),
        Dense("fin", ("flat",), weight=_weights(rng, n_h, oc * 9, 1.0)),
        Dense("frec", ("n1",), weight=_weights(rng, n_h, n_h, 0.5), recurrent=True),
        Add("sum", ("fin", "frec")),
        _neuron(rng, "n1", "sum", (n_h,), "graded"),
        Dense("fout", ("n1",), weight=_weights(rng, 6, n_h, 1.0)),
        _neuron(rng, "n2", "fout", (6,), str(rng.choice(["lif", "graded"])))]
    return Graph(tuple(layers), output="n2", timesteps=8,
                 encoding=str(rng.choice(["rate", "direct"])), name="graded")


RECIPES: dict[str, Callable[[np.random.Generator], Graph]] = {
    "mlp": mlp, "fanout": wide_fanout, "conv": conv, "recurrent": recurrent,
    "residual": residual, "readout": readout, "injection": injection,
    "levels": adaptive_levels, "attention": attention, "graded": graded,
}


def machine_limits(rng: np.random.Generator, base: Target, min_cap: int = 8) -> Target:
    """A small board: few PEs per chip, a low neuron cap and sometimes little SRAM, so that
    layers split over several PEs and chips."""
    limits = dict(base.limits)
    caps = [c for c in (8, 16, 32, 64) if c >= min_cap] or [min_cap]
    limits.update(pes_per_chip=int(rng.integers(3, 7)), reserved_pes_per_chip=1,
                  mesh_width=6, mesh_height=6, max_neurons_per_pe=int(rng.choice(caps)))
    if min_cap <= 16 and rng.random() < 0.3:  # a big averaging group needs a roomy PE
        limits["sram_per_pe_bytes"] = base.limits["code_reserve_bytes"] + \
            base.limits["stack_reserve_bytes"] + int(rng.choice([6000, 12000]))
    return replace(base, limits=MappingProxyType(limits))


def group_block(graph: Graph) -> int:
    """Neurons an input-aware multi-level layer needs on one PE (its averaging groups)."""
    need = 1
    for lay in graph.layers:
        if isinstance(lay, MultiLevelSpike) and lay.axis is not None:
            shape = graph.shape(lay.name)
            need = max(need, int(np.prod(shape[lay.axis % len(shape):])))
    return need


def drive_for(rng: np.random.Generator, graph: Graph, batch: int = 3) -> np.ndarray:
    shape = (graph.timesteps, batch, *graph.input.shape)
    if graph.encoding == "rate":
        return (rng.random(shape) < 0.4).astype(F32)
    return rng.uniform(-0.5, 1.0, shape).astype(F32)


def spinnaker2() -> Target:
    return load_target("spinnaker2")
