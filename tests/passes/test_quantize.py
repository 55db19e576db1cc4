"""Quantized weights: the same integers as the float64 formula, in compact storage."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc import api
from snnc.ir import quantized
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.passes.quantize import quantize

F32 = np.float32


def _graph(seed: int, scale: float) -> Graph:
    rng = np.random.default_rng(seed)
    lif = {"beta": F32(0.9), "threshold": F32(1.0)}
    return Graph((Input("x", (), shape=(12,)),
                  Dense("fc", ("x",), weight=(rng.normal(0, scale, (9, 12))).astype(F32)),
                  LIF("l", ("fc",), **lif)), output="l", timesteps=4, encoding="rate")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 999), scale=st.sampled_from([0.01, 0.3, 3.0]),
       target=st.sampled_from(["loihi2", "spinnaker2", "cortex-m4"]))
def test_weights_are_int16_and_equal_the_float64_rounding(seed: int, scale: float,
                                                          target: str) -> None:
    graph = _graph(seed, scale)
    q = quantize(graph, api.as_target(target).numeric).q("fc")
    assert q.weight.dtype == np.int16
    mantissa = np.asarray(q.weight, np.int64) >> q.weight_exp
    assert np.array_equal(mantissa << q.weight_exp, q.weight)
    unit = q.unit * 2 ** q.weight_exp  # the input unit of a rate-coded input layer is 1
    lim = (1 << (api.as_target(target).numeric.weight_bits - 1)) - 1
    want = np.clip(np.rint(graph.layer("fc").weight.astype(np.float64) / unit), -lim, lim)
    assert np.array_equal(mantissa, want.astype(np.int64))


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 3000), unit=st.floats(0.01, 10), lim=st.integers(1, 40000),
       seed=st.integers(0, 999))
def test_round_clip_in_blocks_equals_one_float64_pass(size: int, unit: float, lim: int,
                                                      seed: int) -> None:
    x = np.random.default_rng(seed).normal(0, 100, size).astype(F32)
    want = np.clip(np.rint(x.astype(np.float64) / unit), -lim, lim).astype(np.int64)
    saved = quantized.ROUND_BLOCK
    quantized.ROUND_BLOCK = 256  # several blocks and a partial last one
    try:
        got = quantized.round_clip(x, unit, lim, quantized.storage_type(lim))
    finally:
        quantized.ROUND_BLOCK = saved
    assert got.dtype == quantized.storage_type(lim)
    assert np.array_equal(got, want)
