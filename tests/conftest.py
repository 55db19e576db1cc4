"""Shared fixtures and the ``needs`` marker.

``@pytest.mark.needs("arm-none-eabi-gcc" | "qemu" | "cmake" | "lava" | "lava-dl" | "valgrind" |
"xylosim" | "akida")`` skips a test on a bare developer machine, but when ``CI`` is set a
missing toolchain is a failure, never a skip.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

# ``make fuzz`` runs ``pytest tests/fuzz --hypothesis-profile=fuzz``: the fuzz tests size their
# example counts from this profile (>= 1000 differential cases in all); without it they run a
# small deterministic smoke sample. ``SNNC_FUZZ_EXAMPLES`` scales the profile down (or up) for a
# shorter campaign with the same generators.
settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("SNNC_FUZZ_EXAMPLES", "1000")), deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_TOOLS = {
    "arm-none-eabi-gcc": lambda: shutil.which("arm-none-eabi-gcc") is not None,
    "qemu": lambda: shutil.which("qemu-system-arm") is not None,
    "gcc": lambda: shutil.which("gcc") is not None,
    "cmake": lambda: shutil.which("cmake") is not None,
    "valgrind": lambda: shutil.which("valgrind") is not None,
    "lava": lambda: importlib.util.find_spec("lava") is not None,
    "xylosim": lambda: all(importlib.util.find_spec(m) is not None
                           for m in ("xylosim", "rockpool")),
    "akida": lambda: importlib.util.find_spec("akida") is not None,
    "lava-dl": lambda: _distribution("lava-dl"),
}


def _distribution(name: str) -> bool:
    """Installed, judged by its metadata (importing lava-dl takes seconds and needs torch)."""
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="needs"):
        for tool in marker.args:
            if tool not in _TOOLS:
                raise pytest.UsageError(f"unknown toolchain '{tool}' in needs marker")
            if _TOOLS[tool]():
                continue
            if _in_ci():
                pytest.fail(f"CI is set but the required toolchain '{tool}' is missing")
            pytest.skip(f"toolchain '{tool}' not installed")
