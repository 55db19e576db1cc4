"""The digits demo's network with seeded random weights and the digits it reads, shared by the
pass and cost tests (built in code, deterministic)."""

from __future__ import annotations

from functools import cache

import numpy as np
from sklearn.datasets import load_digits

from snnc.ir.layers import LIF, Dense, Graph, Input


def digits_like(seed: int = 7, hidden: int = 128, steps: int = 8) -> Graph:
    """The 64-128-10 LIF net of the digits demo, with seeded random weights."""
    rng = np.random.default_rng(seed)
    w1 = (rng.normal(0, 1, (hidden, 64)) * np.sqrt(2 / 64) * 1.5).astype(np.float32)
    w2 = (rng.normal(0, 1, (10, hidden)) * np.sqrt(2 / hidden) * 1.5).astype(np.float32)
    return Graph(
        (Input("pixels", (), shape=(64,)),
         Dense("fc1", ("pixels",), weight=w1),
         LIF("lif1", ("fc1",), beta=np.float32(0.9), threshold=np.float32(1.0)),
         Dense("fc2", ("lif1",), weight=w2),
         LIF("lif2", ("fc2",), beta=np.float32(0.9), threshold=np.float32(1.0))),
        output="lif2", timesteps=steps, encoding="rate", name="digits")


@cache
def digits_x() -> np.ndarray:
    """The first 300 scikit-learn digits, pixels scaled to [0, 1]."""
    return (load_digits().data[:300] / 16.0).astype(np.float32)
