"""How a trace becomes one class per sample (``snnc.predict``)."""

from __future__ import annotations

import numpy as np

from snnc import Trace, predict

# 3 steps, 2 samples, 3 classes; sample 0 ties classes 0 and 2 with two spikes each
SPIKES = np.array([[[1, 0, 1], [0, 1, 0]],
                   [[1, 0, 0], [0, 1, 0]],
                   [[0, 0, 1], [0, 0, 1]]], np.float32)


def test_most_spikes_wins_and_the_final_membrane_breaks_ties():
    v = np.zeros_like(SPIKES)
    v[-1, 0] = [0.1, 0.0, 0.5]
    trace = Trace(SPIKES, spikes={"out": SPIKES}, v={"out": v})
    assert predict(trace).tolist() == [2, 1]


def test_without_a_membrane_ties_go_to_the_lower_class():
    trace = Trace(SPIKES, spikes={"out": SPIKES})
    assert predict(trace).tolist() == [0, 1]


def test_value_read_out_takes_the_largest_final_value():
    values = np.array([[[9.0, 0.0], [0.0, 9.0]], [[0.0, 1.0], [2.0, 0.0]]], np.float32)
    assert predict(Trace(values)).tolist() == [1, 0]
