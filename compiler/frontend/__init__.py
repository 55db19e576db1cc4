"""Model readers: ONNX (``snnc`` ops or exporter primitives) and NIR, both to the layer view."""

from __future__ import annotations

from pathlib import Path

from snnc.errors import InputError
from snnc.ir.layers import Graph

SUFFIXES = (".onnx", ".nir")


def load(path: str | Path) -> Graph:
    """Read a model file into the layer view, choosing the reader by file suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from snnc.frontend.onnx import import_onnx

        return import_onnx(path).graph
    if suffix == ".nir":
        from snnc.frontend.nir import load_nir

        return load_nir(path)
    raise InputError(f"cannot read '{path.name}': expected one of {', '.join(SUFFIXES)}")


__all__ = ["SUFFIXES", "load"]
