"""``Affine``, ``Linear`` and ``Scale`` nodes <-> Dense layers (an elementwise scale becomes a
depthwise 1x1 Conv2d or a diagonal Dense)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from snnc.errors import ShapeError, UnsupportedError
from snnc.frontend.nir.ir.base import Builder, SynapticIntegrator
from snnc.frontend.nir.semantics import NirSemantics
from snnc.frontend.nir.values import F32, fits, node_type, numeric
from snnc.ir.layers import Conv2d, Dense, Flatten, Reshape

# A diagonal weight matrix stands in for an elementwise Scale only up to this many elements.
MAX_DIAGONAL = 4096


def weight2d(name: str, node: Any) -> np.ndarray:
    w = numeric(name, "weight", node.weight)
    if w.ndim != 2:
        raise UnsupportedError(f"{node_type(node)} weight of rank {w.ndim} (only 2-D weights map "
                               "to a Dense layer)", layer=name)
    return w.astype(F32)


def bias_of(name: str, node: Any) -> np.ndarray | None:
    b = getattr(node, "bias", None)
    if b is None:
        return None
    return numeric(name, "bias", b).astype(F32).reshape(-1)


def read_dense(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
           syn: SynapticIntegrator | None) -> str:
    return out.add(Dense(name, (src,), weight=weight2d(name, node), bias=bias_of(name, node)))


def read_scale(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
           syn: SynapticIntegrator | None) -> str:
    """Elementwise scale: a depthwise 1x1 conv when per channel, else a diagonal Dense."""
    shape = out.shapes[src]
    s = np.broadcast_to(numeric(name, "scale", node.scale), shape) if fits(
        np.shape(node.scale), shape) else None
    if s is None:
        raise ShapeError(f"Scale of shape {np.shape(node.scale)} does not fit input {shape}",
                         name)
    if len(shape) == 3 and np.all(s == s[:, :1, :1]):
        w = s[:, 0, 0].astype(F32).reshape(-1, 1, 1, 1)
        return out.add(Conv2d(name, (src,), weight=w, groups=shape[0]))
    n = math.prod(shape)
    if n > MAX_DIAGONAL:
        raise UnsupportedError(f"elementwise Scale over {n} values (a diagonal Dense is "
                               f"limited to {MAX_DIAGONAL})", layer=name)
    weight = np.diag(s.reshape(-1)).astype(F32)
    if len(shape) == 1:
        return out.add(Dense(name, (src,), weight=weight))
    flat = out.add(Flatten(out.name(f"{name}.flat"), (src,)))
    scaled = out.add(Dense(out.name(f"{name}.diag"), (flat,), weight=weight))
    return out.add(Reshape(name, (scaled,), shape=shape))


def write_dense(lay: Dense) -> Any:
    import nir

    w = lay.weight.astype(F32)
    if lay.bias is None:
        return nir.Linear(weight=w)
    return nir.Affine(weight=w, bias=lay.bias.astype(F32))
