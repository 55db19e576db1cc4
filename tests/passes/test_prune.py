"""Magnitude pruning: exact zeros below the threshold, CSR storage, measured agreement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from testkit.digits_net import digits_like, digits_x

from snnc.errors import InputError
from snnc.passes.prune import agreement, prune, storage_bits, to_csr
from snnc.reference.simulate import simulate


def test_weights_below_the_relative_threshold_become_zero_and_others_stay():
    graph = digits_like()
    pruned = prune(graph, 0.2)
    w, p = graph.layer("fc1").weight, pruned.layer("fc1").weight
    small = np.abs(w) < 0.2 * np.abs(w).max()
    assert np.all(p[small] == 0) and np.array_equal(p[~small], w[~small])
    assert pruned.layer("fc1").attrs["pruned_weights"] == int(np.count_nonzero(w[small]))


def test_absolute_threshold():
    pruned = prune(digits_like(), 0.1, relative=False)
    w = pruned.layer("fc2").weight
    assert np.all((w == 0) | (np.abs(w) >= 0.1))


def test_zero_threshold_changes_nothing_and_agrees_fully():
    graph, x = digits_like(), digits_x()[:50]
    same = prune(graph, 0.0)
    assert np.array_equal(simulate(graph, x).output, simulate(same, x).output)
    agree = agreement(graph, same, x)
    assert agree.output_equal == agree.prediction_equal == agree.spike_equal == 1.0


def test_heavy_pruning_is_reported_as_disagreement():
    graph, x = digits_like(), digits_x()[:50]
    agree = agreement(graph, prune(graph, 0.9), x)
    assert agree.output_equal < 1.0


def test_storage_switches_to_csr_when_sparse_enough():
    graph = digits_like()
    assert prune(graph, 0.0).layer("fc1").attrs["storage"] == "dense"
    assert prune(graph, 0.95).layer("fc1").attrs["storage"] == "csr"
    bits = storage_bits(rows=10, cols=100, nnz=10, weight_bits=8)
    assert bits == {"dense": 8000, "csr": 10 * (8 + 8) + 11 * 8}


@settings(deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 9)),
              elements=st.sampled_from([0.0, 0.0, 1.5, -2.0, 0.25])))
def test_csr_round_trips(weight):
    csr = to_csr(weight)
    assert np.array_equal(csr.to_dense(), weight)
    assert csr.indptr[-1] == np.count_nonzero(weight)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_invalid_thresholds_are_rejected(bad):
    with pytest.raises(InputError, match="threshold"):
        prune(digits_like(), bad)
