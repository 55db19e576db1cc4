"""Helpers the test suite shares: network generators per backend and for fuzzing, corpora of bad
inputs, C project builders. Imported as ``testkit.<module>`` (pytest puts ``tests/`` on the
path, see ``pythonpath`` in pyproject.toml); never imported by snnc itself."""

from __future__ import annotations

import os
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child Python process that imports ``testkit`` too."""
    path = os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}
