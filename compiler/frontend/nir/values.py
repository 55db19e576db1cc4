"""Small conversions every part of the NIR reader and writer needs: checked numeric parameters,
whole numbers, broadcasting, compact float32 values, fresh names and node metadata."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from snnc.errors import InvalidModelError, UnsupportedError
from snnc.ir.layers import Graph, Layer, Shape

F32 = np.float32


def node_type(node: Any) -> str:
    return type(node).__name__


def numeric(node: str, what: str, value: Any) -> np.ndarray:
    try:
        with warnings.catch_warnings():  # a bad cast becomes NaN/inf and is refused below
            warnings.simplefilter("ignore")
            arr = np.asarray(value, dtype=np.float64) if value is not None else np.zeros(0)
    except (TypeError, ValueError):
        raise InvalidModelError(f"parameter {what} is not numeric", node) from None
    if not np.all(np.isfinite(arr)):
        raise InvalidModelError(f"parameter {what} contains NaN or inf", node)
    return arr


def integers(node: str, what: str, value: Any, n: int, low: int = 0) -> tuple[int, ...]:
    """``n`` integers >= ``low`` (a single value is repeated ``n`` times)."""
    arr = np.atleast_1d(np.asarray(value))
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if (arr.size != n or arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr))
            or np.any(arr != np.rint(arr)) or np.any(arr < low)):
        raise InvalidModelError(f"{what} must be {n} integers >= {low}, got {value!r}", node)
    return tuple(int(x) for x in arr)


def fits(param: tuple[int, ...], shape: Shape) -> bool:
    try:
        return np.broadcast_shapes(param, shape) == tuple(shape)
    except ValueError:
        return False


def compact(a: np.ndarray) -> np.ndarray:
    """float32; one value for the whole layer becomes a 0-d array (broadcasts, round-trips)."""
    a = np.asarray(a, np.float64)
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, which the layer view refuses
        if a.size and np.all(a == a.flat[0]):
            return np.asarray(a.flat[0], F32)
        return a.astype(F32)


def full(graph: Graph, lay: Layer, value: Any) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float64), graph.shape(lay.name)).copy()


def fresh_name(taken: Mapping[str, Any], base: str) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def metadata(node: Any) -> dict[str, Any]:
    meta = getattr(node, "metadata", None)
    if not isinstance(meta, dict):
        return {}
    out = {}
    for k, v in meta.items():
        if isinstance(v, np.ndarray) and v.shape == ():
            v = v.item()
        out[str(k)] = v.decode() if isinstance(v, bytes) else v
    return out


def int_meta(meta: Mapping[str, Any], key: str) -> int | None:
    value = meta.get(key)
    try:
        return int(value) if value is not None and int(value) >= 1 else None
    except (TypeError, ValueError):
        return None


def symmetric(lay: Layer, padding: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = padding
    if top != bottom or left != right:
        raise UnsupportedError(f"asymmetric padding {padding} (NIR pads both sides equally)",
                               layer=lay.name)
    return np.array([top, left])
