"""Resource check: build the layout in memory and report its figures, writing nothing.

Partitioning, placement and routing each raise :class:`snnc.errors.ResourceError` naming the
limit that cannot be met (PEs on the board, SRAM per PE, neurons per PE, router entries per chip,
routing keys) and :class:`snnc.errors.UnsupportedError` for a layer the machine cannot run.
"""

from __future__ import annotations

from typing import Any

from snnc.backends.spinnaker2.emit import resources_document
from snnc.backends.spinnaker2.layout import build_layout
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target


def check_resources(qg: QuantizedGraph, target: Target) -> dict[str, Any]:
    """The ``resources.json`` figures of the layout ``emit`` would write."""
    return resources_document(build_layout(qg, target))
