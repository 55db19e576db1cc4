"""Model readers: ONNX (``snnc`` ops or exporter primitives) and NIR, both to the layer view."""

from __future__ import annotations

from pathlib import Path

from snnc.errors import InputError
from snnc.ir.layers import Graph

SUFFIXES = (".onnx", ".nir")


def load(path: str | Path, nir_semantics: str | None = None, dt: float | None = None) -> Graph:
    """Read a model file into the layer view, choosing the reader by file suffix.

    ``nir_semantics`` (a preset name: nir, snntorch, spikingjelly, sinabs) and ``dt`` (seconds
    per step) say how a NIR file's continuous-time parameters become discrete steps."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from snnc.frontend.onnx import import_onnx

        return import_onnx(path).graph
    if suffix == ".nir":
        from dataclasses import replace

        from snnc.frontend.nir import load_nir, semantics_for

        semantics = semantics_for(nir_semantics)
        return load_nir(path, replace(semantics, dt=dt) if dt is not None else semantics)
    raise InputError(f"cannot read '{path.name}': expected one of {', '.join(SUFFIXES)}")


__all__ = ["SUFFIXES", "load"]
