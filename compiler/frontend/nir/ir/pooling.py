"""``SumPool2d`` and ``AvgPool2d`` nodes <-> sum and average Pool2d layers (NIR has no max
pooling)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from snnc.errors import UnsupportedError
from snnc.frontend.nir.ir.base import Builder, SynapticIntegrator
from snnc.frontend.nir.semantics import NirSemantics
from snnc.frontend.nir.values import integers, symmetric
from snnc.ir.layers import Pool2d


def read_pool(kind: Literal["sum", "avg"]) -> Callable[..., str]:
    def convert(out: Builder, name: str, node: Any, src: str, sem: NirSemantics,
                syn: SynapticIntegrator | None) -> str:
        kernel = integers(name, "kernel_size", node.kernel_size, 2, low=1)
        stride = integers(name, "stride", node.stride, 2, low=1)
        ph, pw = integers(name, "padding", node.padding, 2)
        return out.add(Pool2d(name, (src,), pool=kind, kernel=kernel, stride=stride,
                              padding=(ph, pw, ph, pw)))
    return convert


def write_pool(lay: Pool2d) -> Any:
    import nir

    kinds = {"sum": nir.SumPool2d, "avg": nir.AvgPool2d}
    if lay.pool not in kinds:
        raise UnsupportedError(f"{lay.pool} pooling has no NIR node (NIR has sum and average "
                               "pooling)", layer=lay.name)
    return kinds[lay.pool](kernel_size=np.array(lay.kernel), stride=np.array(lay.stride),
                           padding=symmetric(lay, lay.padding))
