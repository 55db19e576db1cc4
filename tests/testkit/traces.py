"""Exact comparison of two traces, the check every differential test ends with."""

from __future__ import annotations

import numpy as np

from snnc.reference.simulate import Trace


def assert_same_trace(got: Trace, want: Trace) -> None:
    """The same arrays under the same names (output, every layer's spikes and membranes), each
    of the same dtype and equal bit for bit; a failure names the array."""
    have, expect = got.arrays(), want.arrays()
    assert sorted(have) == sorted(expect)
    for key in expect:
        assert have[key].dtype == expect[key].dtype, key
        assert np.array_equal(have[key], expect[key]), key


def assert_equal_runs(a: Trace, b: Trace, where: str = "") -> None:
    """The same output and, layer by layer under the same names, the same spikes and membranes
    bit for bit; ``where`` prefixes the failure. Unlike :func:`assert_same_trace` it leaves the
    timing fields aside: a backend's raw trace keeps its own schedule's latency."""
    at = f"{where}: " if where else ""
    assert np.array_equal(a.output, b.output), f"{at}output"
    assert sorted(a.spikes) == sorted(b.spikes), f"{at}spiking layers"
    assert sorted(a.v) == sorted(b.v), f"{at}layers with a membrane"
    for name in a.spikes:
        assert np.array_equal(a.spikes[name], b.spikes[name]), f"{at}spikes of {name}"
    for name in a.v:
        assert np.array_equal(a.v[name], b.v[name]), f"{at}membrane of {name}"
