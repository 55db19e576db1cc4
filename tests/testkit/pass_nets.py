"""Small networks shared by the pass tests (built in code, deterministic)."""

from __future__ import annotations

import itertools

import numpy as np

from snnc.ir.layers import LIF, Conv2d, Dense, Flatten, Graph, Input, Pool2d


def if_chain(rng: np.random.Generator, sizes: tuple[int, ...], steps: int = 8,
             max_units: int = 3, theta: float = 1.0, compare: str = "ge") -> Graph:
    """IF layers with reset by subtraction and dyadic non-negative weights whose row sums stay
    below theta, so every step's input current lies in [0, theta) (the twin conditions)."""
    layers: list = [Input("x", (), shape=(sizes[0],))]
    prev = "x"
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        units = rng.integers(0, max_units + 1, (n_out, n_in)).astype(np.float64)
        scaled = units * (theta * 0.95) / max(1.0, units.sum(axis=1).max())
        weight = np.floor(scaled * 256) / 256  # multiples of 2^-8: exact float sums
        layers.append(Dense(f"fc{i}", (prev,), weight=weight.astype(np.float32)))
        layers.append(LIF(f"if{i}", (f"fc{i}",), beta=np.float32(1.0),
                          threshold=np.float32(theta), reset="subtract", compare=compare))
        prev = f"if{i}"
    return Graph(tuple(layers), output=prev, timesteps=steps, encoding="rate", name="ifnet")


def conv_net(seed: int = 3) -> Graph:
    """Conv -> LIF -> avg pool -> flatten -> Dense -> LIF on 1x8x8 inputs."""
    rng = np.random.default_rng(seed)
    wc = rng.normal(0, 0.6, (4, 1, 3, 3)).astype(np.float32)
    wc[2] = -np.abs(wc[2])  # channel 2 can never fire on non-negative input
    wd = rng.normal(0, 0.5, (5, 4 * 3 * 3)).astype(np.float32)
    return Graph(
        (Input("img", (), shape=(1, 8, 8)),
         Conv2d("conv", ("img",), weight=wc, bias=np.zeros(4, np.float32)),
         LIF("lc", ("conv",), beta=np.float32(0.9), threshold=np.float32(0.5)),
         Pool2d("pool", ("lc",), pool="avg", kernel=(2, 2), stride=(2, 2)),
         Flatten("flat", ("pool",)),
         Dense("fc", ("flat",), weight=wd),
         LIF("out", ("fc",), beta=np.float32(0.9), threshold=np.float32(0.3))),
        output="out", timesteps=6, encoding="rate", name="convnet")
