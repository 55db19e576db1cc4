"""The small nets the QNN-stage (mixed-schedule) tests of every backend share: an MLP of three
LIF stages (an exact IF twin, an approximate leaky reset-to-zero twin, an exact IF twin) and a
conv + sum pool + dense net, so each backend is checked on the same kinds of stage; and a net
whose skip connection goes around a stage, which a QNN stage there cannot serve."""

from __future__ import annotations

import numpy as np

from snnc.ir.layers import LIF, Add, Conv2d, Dense, Flatten, Graph, Input, Pool2d


def mixed_mlp(seed: int, inputs: int = 20, widths: tuple[int, int, int] = (16, 12, 6),
              timesteps: int = 8, encoding: str = "rate") -> Graph:
    """Dense + LIF stages ``n0``, ``n1``, ``n2`` of the given widths."""
    rng = np.random.default_rng(seed)
    layers: list = [Input("x", (), shape=(inputs,))]
    prev, width = "x", inputs
    for i, n in enumerate(widths):
        w = rng.normal(0.15, 0.5, (n, width)).astype(np.float32)
        layers.append(Dense(f"fc{i}", (prev,), weight=w))
        layers.append(LIF(f"n{i}", (f"fc{i}",), beta=np.float32((1.0, 0.9, 1.0)[i]),
                          threshold=np.float32(1.0), reset=("subtract", "zero", "subtract")[i]))
        prev, width = f"n{i}", n
    return Graph(tuple(layers), output=prev, timesteps=timesteps, encoding=encoding,
                 name="mixed_mlp")


def mixed_conv(seed: int) -> Graph:
    """Conv + LIF ``s0``, sum pool, flatten, dense + LIF ``s1``."""
    rng = np.random.default_rng(seed)
    return Graph((
        Input("img", (), shape=(2, 8, 8)),
        Conv2d("c0", ("img",), weight=rng.normal(0.2, 0.6, (4, 2, 3, 3)).astype(np.float32),
               padding=(1, 1, 1, 1)),
        LIF("s0", ("c0",), beta=np.float32(1.0), threshold=np.float32(1.0), reset="subtract"),
        Pool2d("p0", ("s0",), pool="sum", kernel=(2, 2), stride=(2, 2)),
        Flatten("f0", ("p0",)),
        Dense("d1", ("f0",), weight=rng.normal(0.1, 0.4, (5, 64)).astype(np.float32)),
        LIF("s1", ("d1",), beta=np.float32(1.0), threshold=np.float32(1.0), reset="subtract"),
    ), output="s1", timesteps=6, encoding="rate", name="mixed_conv")


def mixed_skip(rng: np.random.Generator) -> Graph:
    """Dense + LIF ``na``, ``nb`` and ``out``, with ``na`` also added past ``nb`` into ``out``:
    with ``nb`` a QNN stage, ``out`` would read ``na`` and ``nb`` from different steps."""
    return Graph((
        Input("x", (), shape=(6,)),
        Dense("a", ("x",), weight=rng.random((6, 6)).astype(np.float32)),
        LIF("na", ("a",), beta=np.float32(1.0), threshold=np.float32(1.0), reset="subtract"),
        Dense("b", ("na",), weight=rng.random((6, 6)).astype(np.float32)),
        LIF("nb", ("b",), beta=np.float32(1.0), threshold=np.float32(1.0), reset="subtract"),
        Dense("c", ("nb",), weight=rng.random((4, 6)).astype(np.float32)),
        Dense("skip", ("na",), weight=rng.random((4, 6)).astype(np.float32)),
        Add("sum", ("c", "skip")),
        LIF("out", ("sum",), beta=np.float32(1.0), threshold=np.float32(1.0)),
    ), output="out", timesteps=4, encoding="rate", name="skip")
