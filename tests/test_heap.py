"""The allocator setting that lets a compile return freed temporaries to the system."""

from __future__ import annotations

import platform

import pytest

from snnc.heap import return_large_blocks


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt thresholds are glibc's")
def test_glibc_accepts_the_fixed_thresholds() -> None:
    assert return_large_blocks()
