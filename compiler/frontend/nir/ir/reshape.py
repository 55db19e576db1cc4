"""``Flatten`` nodes <-> Flatten layers and reshapes that merge one run of axes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from snnc.errors import ShapeError, UnsupportedError
from snnc.frontend.nir.ir.base import Builder, SynapticIntegrator
from snnc.frontend.nir.semantics import NirSemantics
from snnc.frontend.nir.values import integers
from snnc.ir.layers import Flatten, Graph, Reshape


def read_flatten(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
                  syn: SynapticIntegrator | None) -> str:
    shape = out.shapes[src]
    rank = len(shape)
    (start,) = integers(name, "start_dim", node.start_dim, 1, low=-rank)
    (end,) = integers(name, "end_dim", node.end_dim, 1, low=-rank)
    start, end = start + rank if start < 0 else start, end + rank if end < 0 else end
    if not 0 <= start <= end < rank:
        raise ShapeError(f"Flatten dims {node.start_dim}..{node.end_dim} do not fit input "
                         f"{shape}", name)
    if start == 0 and end == rank - 1:
        return out.add(Flatten(name, (src,)))
    new = (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])
    return out.add(Reshape(name, (src,), shape=new))


def write_flatten(graph: Graph, lay: Flatten) -> Any:
    import nir

    return nir.Flatten(input_type={"input": np.array(graph.shape(lay.inputs[0]))},
                       start_dim=0, end_dim=-1)


def write_reshape(graph: Graph, lay: Reshape) -> Any:
    """A reshape that merges one run of consecutive axes is a NIR Flatten."""
    import nir

    src = graph.shape(lay.inputs[0])
    for start in range(len(src)):
        for end in range(start, len(src)):
            merged = (*src[:start], math.prod(src[start:end + 1]), *src[end + 1:])
            if merged == tuple(lay.shape):
                return nir.Flatten(input_type={"input": np.array(src)}, start_dim=start,
                                   end_dim=end)
    raise UnsupportedError(f"reshape {src} -> {lay.shape} is not a flatten (NIR has no "
                           "general reshape)", layer=lay.name)
