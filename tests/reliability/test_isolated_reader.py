"""The isolated reader that shields snnc from libhdf5: a crash, an oversized allocation or an
exception in the reader becomes a ReaderFailed the NIR loader turns into one error line."""

from __future__ import annotations

import ctypes
import os

import numpy as np
import pytest

from snnc.frontend.isolated import ReaderFailed, run_isolated

HEADROOM = 1 << 30
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="isolation needs os.fork")


def test_result_comes_back_intact() -> None:
    value = run_isolated(lambda: {"w": np.arange(6).reshape(2, 3), "name": "x"}, HEADROOM)
    assert np.array_equal(value["w"], np.arange(6).reshape(2, 3)) and value["name"] == "x"


def test_exception_becomes_its_first_line() -> None:
    def fail() -> None:
        raise OSError("Can't synchronously read data\nsecond line")

    with pytest.raises(ReaderFailed, match=r"^Can't synchronously read data$"):
        run_isolated(fail, HEADROOM)


@needs_fork
def test_crash_of_native_code_is_reported_not_shared() -> None:
    with pytest.raises(ReaderFailed, match="crashed"):
        run_isolated(lambda: ctypes.string_at(0), HEADROOM)


@needs_fork
def test_allocation_beyond_the_allowance_fails_in_the_child() -> None:
    with pytest.raises(ReaderFailed, match="more memory"):
        run_isolated(lambda: bytearray(3 * HEADROOM), HEADROOM)
    assert len(bytearray(1 << 20)) == 1 << 20  # the parent's own limit is untouched


def _spin() -> None:
    while True:
        pass


@needs_fork
def test_reader_spinning_past_its_processor_time_is_stopped() -> None:
    with pytest.raises(ReaderFailed, match="more than 1 s of processor time"):
        run_isolated(_spin, HEADROOM, cpu_seconds=1)


@needs_fork
def test_reader_blocked_past_the_deadline_is_killed() -> None:
    import time

    start = time.monotonic()
    with pytest.raises(ReaderFailed, match=r"did not finish within 0.5 s"):
        run_isolated(lambda: time.sleep(60), HEADROOM, wall_seconds=0.5)
    assert time.monotonic() - start < 30
