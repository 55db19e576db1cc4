"""Fixed networks whose MCU projects together call every runtime kernel family.

They are fuzz recipes (``tests/fuzz/fuzz_nets.py``) chosen for coverage: dense, event-driven
and CSR synapses, QNN-mapped layers, convolutions with every pooling kind, recurrence and
residual adds, LIF/IF/CubaLIF, multi-level spikes (constant and input-aware thresholds) and
attention; plus the hostile-name network.
"""

from __future__ import annotations

import numpy as np

from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.target import Target
from testkit.fuzz_nets import Recipe, build
from testkit.hostile_nets import hostile_net, inputs


def _recipe(family: str, seed: int, variant: int, **changes: object) -> Recipe:
    base = {"family": family, "seed": seed, "width": 10, "hidden": (12, 8),
            "neurons": ("lif", "cuba"), "variant": variant, "recurrent": True,
            "residual": True, "pool": "none", "encoding": "rate", "steps": 12, "batch": 3,
            "drive_scale": 1.0, "tiny_threshold": False, "extreme": False, "pipeline": False}
    return Recipe(**{**base, **changes})


RECIPES = {
    "mlp_event": _recipe("mlp", 1, 0b0100111),
    "mlp_csr_qnn": _recipe("mlp", 2, 0b1100011, neurons=("if", "levels")),
    "mlp_pipeline": _recipe("mlp", 3, 0b1011101, encoding="direct", pipeline=True),
    "conv_max": _recipe("conv", 4, 0b0000101, width=2, pool="max"),
    "conv_avg": _recipe("conv", 5, 0b1010011, width=3, pool="avg", encoding="direct"),
    "conv_sum": _recipe("conv", 6, 0b0111000, width=2, hidden=(4, 4), pool="sum"),
    "levels_aware": _recipe("levels", 7, 0b0000001, encoding="direct"),
    "levels_const": _recipe("levels", 8, 0b0000000, encoding="direct"),
    "attention": _recipe("attention", 9, 0b0000011, width=5, hidden=(3,), encoding="direct"),
}
PROJECTS = (*RECIPES, "hostile")


def project_case(name: str, target: Target) -> tuple[QuantizedGraph, np.ndarray]:
    """The integer graph for ``target`` and its drive (steps, batch, *input shape)."""
    if name == "hostile":
        graph, x = hostile_net(), inputs()
        qg = quantize(graph, target.numeric, calib=x, target=target.name)
        return qg, encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    case = build(RECIPES[name])
    return case.quantized(target), case.drive()
