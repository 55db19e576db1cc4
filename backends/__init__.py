"""Code generators, one package per hardware family, selected by tag (``Target.backend``).

Every backend package exports the same three functions (and never imports another backend):

``check_resources(qg: QuantizedGraph, target: Target) -> dict``
    Raises :class:`snnc.errors.ResourceError` / :class:`snnc.errors.UnsupportedError` before
    anything is written; returns the resource figures that go into ``resources.json``.
``emit(qg: QuantizedGraph, target: Target, out_dir: Path) -> Artifact``
    Writes the artifact tree into ``out_dir`` (a fresh private directory: the caller renames it
    into place only on success). Output is byte-identical for identical input.
``simulate(qg: QuantizedGraph, target: Target, drive: np.ndarray, runner: str,
           work_dir: Path) -> Trace``
    Builds and runs the produced artifact on the float drive (steps, batch, *input_shape) and
    returns the integer trace in the reference's format, comparable with ``numpy.array_equal``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

BACKENDS: dict[str, str] = {
    "akida": "snnc.backends.akida",
    "loihi": "snnc.backends.loihi",
    "mcu": "snnc.backends.mcu",
    "spinnaker2": "snnc.backends.spinnaker2",
    "xylo": "snnc.backends.xylo",
}

# The artifact runners each backend's ``simulate`` accepts, first is the default.
RUNNERS: dict[str, tuple[str, ...]] = {
    "akida": ("akida",),
    "loihi": ("lava",),
    "mcu": ("host", "qemu"),
    "spinnaker2": ("spinnaker2",),
    "xylo": ("xylosim",),
}


@dataclass(frozen=True)
class Artifact:
    """What ``emit`` produced: its folder, the files written (relative, sorted) and figures."""

    backend: str
    out_dir: Path
    files: tuple[str, ...]
    resources: dict[str, Any] = field(default_factory=dict)


def backend_module(tag: str) -> ModuleType:
    """The backend package for a ``Target.backend`` tag."""
    return importlib.import_module(BACKENDS[tag])
