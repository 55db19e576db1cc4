"""Graphs that NIR can express, one per feature of the writer (the export and round-trip tests
share them)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Pool2d, Reshape


def weights(seed: int) -> Callable[..., np.ndarray]:
    """A source of float32 normal weights: each graph draws from its own, so a graph does not
    depend on which graphs were built before it."""
    rng = np.random.default_rng(seed)

    def w(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (rng.normal(size=shape) * scale).astype(np.float32)

    return w


def recurrent_mlp() -> Graph:
    """Feed-forward LIF with every reset variant, a recurrent CUBA layer, a residual Add."""
    w = weights(5)
    return Graph((
        Input("x", (), shape=(6,)),
        Dense("fc1", ("x",), weight=w(8, 6), bias=w(8)),
        LIF("lif1", ("fc1",), beta=np.float32(0.85), threshold=np.float32(0.7),
            bias=w(8, scale=0.1), reset="subtract", reset_timing="next", compare="ge"),
        Dense("rec", ("cuba",), weight=w(8, 8, scale=0.5), bias=w(8), recurrent=True),
        Dense("fc2", ("lif1",), weight=w(8, 8)),
        Add("sum", ("fc2", "rec")),
        CubaLIF("cuba", ("sum",), current_decay=np.float32(0.3),
                voltage_decay=np.linspace(0.1, 0.5, 8).astype(np.float32),
                threshold=np.float32(0.5), bias=np.float32(0.05)),
        Dense("out", ("cuba",), weight=w(3, 8)),
        LIF("readout", ("out",), beta=np.float32(0.9), threshold=np.float32(0.4),
            reset="none"),
    ), output="readout", timesteps=12, encoding="rate")


def conv_net() -> Graph:
    """Conv, sum and average pooling, IF (beta 1), a threshold (beta 0), flatten."""
    w = weights(6)
    return Graph((
        Input("img", (), shape=(2, 8, 8)),
        Conv2d("c1", ("img",), weight=w(4, 2, 3, 3), bias=w(4), stride=(1, 1),
               padding=(1, 1, 1, 1)),
        LIF("if1", ("c1",), beta=np.float32(1.0), threshold=np.float32(1.0)),
        Pool2d("p1", ("if1",), pool="sum", kernel=(2, 2), stride=(2, 2)),
        Conv2d("c2", ("p1",), weight=w(4, 2, 3, 3), groups=2, dilation=(1, 1),
               stride=(2, 2), padding=(1, 1, 1, 1)),
        LIF("th", ("c2",), beta=np.float32(0.0), threshold=np.float32(0.2)),
        Pool2d("p2", ("th",), pool="avg", kernel=(2, 2), stride=(1, 1)),
        Flatten("flat", ("p2",)),
        Dense("fc", ("flat",), weight=w(5, 4)),
        LIF("lif", ("fc",), beta=np.float32(0.8), threshold=np.float32(0.3)),
    ), output="lif")


def conv1d_net() -> Graph:
    """A Conv1d as snnc imports it: reshape, 1-row Conv2d, reshape back."""
    w = weights(7)
    return Graph((
        Input("seq", (), shape=(3, 12)),
        Reshape("seq.to2d", ("seq",), shape=(3, 1, 12)),
        Conv2d("conv.2d", ("seq.to2d",), weight=np.abs(w(4, 3, 1, 3)), bias=w(4), stride=(1, 2),
               padding=(0, 1, 0, 1)),
        Reshape("conv", ("conv.2d",), shape=(4, 6)),
        Reshape("merge", ("conv",), shape=(24,)),
        LIF("lif", ("merge",), beta=np.float32(0.7), threshold=np.float32(0.5)),
    ), output="lif")


def cuba_without_decay() -> Graph:
    """Decay 0 has no finite NIR time constant: written as I/LI nodes before IF/LIF."""
    w = weights(8)
    return Graph((
        Input("x", (), shape=(4,)),
        Dense("fc", ("x",), weight=w(4, 4)),
        CubaLIF("perfect_syn", ("fc",), current_decay=np.float32(0.0),
                voltage_decay=np.float32(0.25), threshold=np.float32(1.0)),
        Dense("fc2", ("perfect_syn",), weight=w(4, 4)),
        CubaLIF("perfect_mem", ("fc2",), current_decay=np.float32(0.5),
                voltage_decay=np.float32(0.0), threshold=np.float32(1.0)),
    ), output="perfect_mem")


def delayed_input() -> Graph:
    """A recurrent Dense outside any cycle: an explicit one-step NIR Delay."""
    w = weights(9)
    return Graph((
        Input("x", (), shape=(4,)),
        Dense("late", ("x",), weight=w(4, 4), recurrent=True),
        Dense("now", ("x",), weight=w(4, 4)),
        Add("sum", ("late", "now")),
        LIF("lif", ("sum",), beta=np.float32(0.9), threshold=np.float32(0.5)),
    ), output="lif")


EXPORTABLE: dict[str, Callable[[], Graph]] = {
    "recurrent_mlp": recurrent_mlp, "conv_net": conv_net, "conv1d_net": conv1d_net,
    "cuba_without_decay": cuba_without_decay, "delayed_input": delayed_input,
}


