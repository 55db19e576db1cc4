"""Networks for the cost tests (built in code, deterministic)."""

from __future__ import annotations

import numpy as np

from snnc.ir.layers import LIF, Dense, Graph, Input


def wide_layer(fan_in: int = 1024, hidden: int = 32, steps: int = 8) -> Graph:
    """One wide LIF layer: a large fan-in amortises per-neuron costs (the paper's regime)."""
    rng = np.random.default_rng(1)
    w = (rng.normal(0, 1, (hidden, fan_in)) / np.sqrt(fan_in) * 2).astype(np.float32)
    return Graph((Input("x", (), shape=(fan_in,)), Dense("fc", ("x",), weight=w),
                  LIF("hidden", ("fc",), beta=np.float32(0.9), threshold=np.float32(1.0))),
                 output="hidden", timesteps=steps, encoding="rate", name="wide")
