"""Resource check: lay the network out on the chip's neurons, writing nothing.

Raises :class:`snnc.errors.UnsupportedError` for a layer with no Xylo form (see
:mod:`snnc.reference.bitshift`) and :class:`snnc.errors.ResourceError` naming the limit that is
exceeded (input channels, hidden or readout neurons, from the target's ``[limits]``).
"""

from __future__ import annotations

from typing import Any

from snnc.backends.xylo.spec import build_spec, resources_document
from snnc.ir.layers import Layer
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.bitshift import layer_problem
from snnc.target import Target


def unsupported_reason(layer: Layer, target: object = None) -> str | None:
    """Why ``layer`` cannot run on Xylo (None when it can)."""
    del target
    return layer_problem(layer)


def check_resources(qg: QuantizedGraph, target: Target) -> dict[str, Any]:
    """The ``resources.json`` figures of the specification ``emit`` would write."""
    return resources_document(build_spec(qg, target), target)
