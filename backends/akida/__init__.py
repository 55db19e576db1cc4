"""BrainChip Akida backend: SNN stages as their QNN twins in an ``akida.Model`` (``.fbz``).

``check_resources`` maps the model onto an AKD1000 without a device (``hw_only=True``),
``emit`` writes ``out/akida/`` (``model.fbz``, ``run.py``, ``resources.json``) and ``simulate``
runs the saved model on akida's software backend; ``unsupported_reason`` tells ``snnc
inspect`` what cannot run. Format and semantics: ``docs/targets/akida.md``.
"""

from __future__ import annotations

from snnc.backends import FunctionBackend

from .check import check_resources, unsupported_reason
from .emit import emit
from .simulate import simulate


class AkidaBackend(FunctionBackend):
    tag = "akida"
    runners = ("akida",)
    runs_qnn_stages = True  # every stage, once per inference (snnc.passes.stateless)


BACKEND = AkidaBackend(unsupported_reason, check_resources, emit, simulate)

__all__ = ["BACKEND", "AkidaBackend", "check_resources", "emit", "simulate",
           "unsupported_reason"]
