"""The quantizer's attention rule: the output keeps fraction bits below one unit of
``sum Q K^T mask V`` while the mask and the worst-case output fit 31 bits."""

from __future__ import annotations

import numpy as np
import pytest

from snnc.ir.layers import Dense, Graph, Input, MultiLevelSpike, SpikingSelfAttention
from snnc.passes.quantize import ATTENTION_FRACTION_BITS, attention_fraction_bits, quantize
from snnc.reference import integer
from snnc.reference import simulate as floatref
from snnc.target import load_target

M4 = load_target("cortex-m4").numeric


def _graph(length: int, dim: int, heads: int, levels: int = 4, spiking: bool = True) -> Graph:
    rng = np.random.default_rng(0)
    layers = [Input("x", (), shape=(length, dim))]
    for role in "qkv":
        layers.append(Dense(role, ("x",), weight=rng.normal(size=(dim, dim)).astype(np.float32)))
        if spiking:
            layers.append(MultiLevelSpike(f"{role}_s", (role,), levels=levels, alpha=1.0,
                                          axis=-1))
    srcs = tuple(f"{r}_s" if spiking else r for r in "qkv")
    layers.append(SpikingSelfAttention("att", srcs, heads=heads, scale=1.0 / (dim // heads),
                                       gammas=np.linspace(0.5, 0.9375, heads, dtype=np.float32)))
    return Graph(tuple(layers), output="att", timesteps=1, encoding="direct")


def test_attention_output_keeps_fraction_bits_and_matches_the_float_attention():
    graph = _graph(length=16, dim=32, heads=2)
    qg = quantize(graph, M4)
    q, lay = qg.q("att"), graph.layer("att")
    k = ATTENTION_FRACTION_BITS
    assert np.array_equal(q.mask, np.rint(lay.decay_mask(16).astype(np.float64)
                                          * 2 ** (M4.mask_frac_bits + k)))
    assert q.unit == pytest.approx(lay.scale / 2 ** k)
    levels = np.random.default_rng(1).integers(0, 5, (3, 3, 16, 32))
    want = floatref.attention(lay, *(lv.astype(np.float32) for lv in levels)).astype(np.float64)
    got = integer.attention(lay, q, M4, *levels) * q.unit
    # the floor costs under one output unit; the mask's rounding at most half its own unit
    # per product (every Q K^T V product is at most 16 * 4 * 4 * 4 * 16 over the sum)
    bound = q.unit + lay.scale * 16 * 4 * 4 * 4 * 16 * 2.0 ** -(M4.mask_frac_bits + k + 1)
    assert np.abs(got - want).max() <= bound < lay.scale / 16  # whole units: up to lay.scale


def test_fraction_bits_shrink_where_the_worst_case_output_would_leave_31_bits():
    # length * d_head * 4^3 = 2^(9 + 9 + 6) = 2^24: 6 more bits fit under 2^31 - 1
    graph = _graph(length=512, dim=1024, heads=2)
    assert attention_fraction_bits(graph, graph.layer("att"), M4) == 6


def test_attention_of_non_spiking_operands_keeps_whole_units():
    graph = _graph(length=4, dim=4, heads=1, spiking=False)
    assert attention_fraction_bits(graph, graph.layer("att"), M4) == 0
    assert np.array_equal(quantize(graph, M4).q("att").mask,
                          np.rint(graph.layer("att").decay_mask(4).astype(np.float64)
                                  * 2 ** M4.mask_frac_bits))
