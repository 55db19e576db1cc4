"""Reference runs give the same bits whatever BLAS thread count the caller or another thread
sets (OpenBLAS sums float32 products in an order that depends on it)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from snnc import api
from snnc.reference.blas import one_blas_thread
from snnc.reference.encode import encode
from snnc.reference.simulate import run_graph

SPIKEFORMER = Path(__file__).resolve().parents[2] / "examples" / "spikeformer"


@pytest.fixture(scope="module")
def model_and_drive():
    graph = api.load(SPIKEFORMER / "model.onnx")
    x = np.load(SPIKEFORMER / "calib_x.npy")[:64]
    return graph, encode(x, graph.timesteps, graph.encoding, graph.input.shape)


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_float_reference_ignores_the_callers_blas_thread_count(model_and_drive):
    graph, drive = model_and_drive
    with threadpool_limits(limits=1, user_api="blas"):
        one = run_graph(graph, drive).output
    with threadpool_limits(limits=2, user_api="blas"):
        two = run_graph(graph, drive).output
    assert np.array_equal(one, two)


def test_float_reference_is_stable_while_another_thread_changes_blas(model_and_drive):
    graph, drive = model_and_drive
    first = run_graph(graph, drive).output
    stop = threading.Event()

    def toggle() -> None:
        while not stop.is_set():
            with one_blas_thread():
                pass

    other = threading.Thread(target=toggle)
    other.start()
    try:
        again = [run_graph(graph, drive).output for _ in range(3)]
    finally:
        stop.set()
        other.join()
    assert all(np.array_equal(first, out) for out in again)


def test_the_limit_is_given_back_by_the_last_holder():
    before = _blas_threads()
    with one_blas_thread():
        with one_blas_thread():
            assert set(_blas_threads()) <= {1}
        assert set(_blas_threads()) <= {1}
    assert _blas_threads() == before


def test_the_limit_holds_in_whichever_thread_takes_it():
    seen: list[list[int]] = []

    def hold() -> None:
        with one_blas_thread():
            seen.append(_blas_threads())

    for _ in range(3):  # each a new thread, none of them the first to have set the limit
        thread = threading.Thread(target=hold)
        thread.start()
        thread.join()
    hold()
    assert len(seen) == 4 and all(set(threads) <= {1} for threads in seen)
