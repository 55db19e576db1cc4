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
