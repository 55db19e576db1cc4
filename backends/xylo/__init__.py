"""SynSense Xylo backend: a hidden/readout specification that runs bit-exactly on xylosim.

``check_resources`` lays the neuron layers out on the chip's hidden and readout neurons,
``emit`` writes ``out/xylo/`` (``spec.npz``, ``run.py``, ``resources.json``) and ``simulate``
runs the specification in rockpool's ``XyloSim`` (xylosim); ``unsupported_reason`` tells ``snnc
inspect`` what cannot run. Format and semantics: ``docs/targets/xylo.md``.
"""

from __future__ import annotations

from snnc.backends import FunctionBackend

from .check import check_resources, unsupported_reason
from .emit import emit
from .simulate import simulate


class XyloBackend(FunctionBackend):
    tag = "xylo"
    runners = ("xylosim",)


BACKEND = XyloBackend(unsupported_reason, check_resources, emit, simulate)

__all__ = ["BACKEND", "XyloBackend", "check_resources", "emit", "simulate",
           "unsupported_reason"]
