"""Loihi 2 backend: Lava processes that run bit-exactly in Lava's fixed-point simulator.

``check_resources`` allocates neuro cores, ``emit`` writes ``out/loihi/`` and ``simulate`` runs
the emitted network in Lava; ``unsupported_reason`` tells ``snnc inspect`` what cannot run.
"""

from __future__ import annotations

from .check import check_resources
from .emit import emit
from .lower import unsupported_reason
from .simulate import simulate

__all__ = ["check_resources", "emit", "simulate", "unsupported_reason"]
