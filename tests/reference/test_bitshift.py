"""The bit-shift neuron semantics (snnc.reference.bitshift) against its definition."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.reference.bitshift import accumulate, neuron_update, shift_decay

I64 = np.int64
LO, HI = -(1 << 15), (1 << 15) - 1


def test_a_state_loses_at_least_one_unit_toward_zero_per_step() -> None:
    x = np.array([-32768, -17, -1, 0, 1, 17, 32767], I64)
    assert shift_decay(x, np.asarray(4)).tolist() == [-2048, -2, -1, 0, 1, 1, 2047]
    assert shift_decay(x, np.asarray(0)).tolist() == x.tolist()  # dash 0: the state is emptied


@settings(max_examples=200, deadline=None)
@given(st.integers(-40000, 40000), st.lists(st.tuples(st.integers(0, 31),
                                                     st.integers(-128, 127)), max_size=12))
def test_accumulation_saturates_after_every_source_in_order(start: int, pairs) -> None:
    u0 = int(np.clip(start, LO, HI))
    want = u0
    for n, w in pairs:  # one saturating add per spike, sources in order
        for _ in range(n):
            want = min(max(want + w, LO), HI)
    counts = np.array([[n for n, _ in pairs]], I64).reshape(1, len(pairs))
    weight = np.array([[w for _, w in pairs]], I64).reshape(1, len(pairs))
    got = accumulate(np.array([[u0]], I64), counts, weight, LO, HI)
    assert int(got[0, 0]) == want


def test_multi_spike_subtracts_the_threshold_once_per_spike_up_to_the_limit() -> None:
    u = np.array([0, 0, 0], I64)
    v = np.array([95, 10, 32000], I64)
    dash = np.asarray(15)
    n, _, v_new = neuron_update(u, v, dash, dash, None, np.asarray(10), 31, LO, HI)
    # v decays by one unit (95 -> 94, 10 -> 9, 32000 -> 31999) before the threshold test
    assert n.tolist() == [9, 0, 31]
    assert v_new.tolist() == [4, 9, 31999 - 310]


def test_current_decays_after_the_input_arrives() -> None:
    u = np.array([64], I64)
    n, u_new, v_new = neuron_update(u, np.array([0], I64), np.asarray(1), np.asarray(15), None,
                                    np.asarray(1000), 31, LO, HI)
    assert u_new.tolist() == [32] and v_new.tolist() == [32] and n.tolist() == [0]


def test_the_leak_of_the_lowest_membrane_wraps_as_in_the_int16_register() -> None:
    """xylosim forms ``-dec(v)`` in an int16: with ``dash_mem = 0`` the membrane -2^15 leaks by
    -(-2^15), which wraps to -2^15, so the membrane stays at the bottom."""
    v = np.array([LO, LO + 1], I64)
    u = np.array([-8192, -8192], I64)  # -8191 after its decay
    _, _, v_new = neuron_update(u, v, np.asarray(15), np.asarray(0), None, np.asarray(100), 31,
                                LO, HI)
    # LO: leak -2^15, sat(-8191 - 2^15) = LO and v stays LO (without the wrap: -8191);
    # LO + 1: leak 2^15 - 1, v = LO + 1 + 24576 = -8191
    assert v_new.tolist() == [LO, -8191]
