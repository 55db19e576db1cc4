"""Resource check: build the ``akida.Model`` and map it onto an AKD1000 without a device.

``Model.map(AKD1000(), hw_only=True)`` allocates the neural processors (NPs) the model needs,
or fails naming the layer and the limit (too many NPs, a weight or activation width the
hardware lacks); that failure is a :class:`snnc.errors.ResourceError`. Nothing is written.
"""

from __future__ import annotations

from typing import Any

from snnc.backends.akida.plan import AkidaPlan, build_model, build_plan, unsupported_reason
from snnc.errors import ResourceError, UnsupportedError
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target

__all__ = ["check_resources", "map_model", "unsupported_reason"]


def map_model(plan: AkidaPlan, target: Target) -> tuple[Any, dict[str, Any]]:
    """The mapped ``akida.Model`` of ``plan`` and its figures (NPs per layer, program size)."""
    import akida

    model = build_model(plan)
    try:
        model.map(akida.AKD1000(), hw_only=True)
    except (RuntimeError, ValueError) as exc:
        raise UnsupportedError(f"Akida AKD1000 cannot map the model: {exc}",
                               target=target.name) from None
    nps: dict[str, int] = {}
    program = 0
    for seq in model.sequences:
        program += len(seq.program or b"")
        for one_pass in seq.passes:
            for layer in one_pass.layers:
                nps[layer.name] = len(layer.mapping.nps) if layer.mapping else 0
    total = sum(nps.values())
    limit = int(target.limits.get("nps", 80))
    if total > limit:
        raise ResourceError(target.name, "neural processors (NPs)", total, limit)
    figures = {
        "target": target.name, "timesteps": plan.steps, "device": "AKD1000",
        "nps_used": total, "nps_available": limit, "nps_per_layer": nps,
        "program_bytes": program, "input_bits": plan.input_bits,
        "layers": [{"name": f"fc{i}", "dense": fc.dense, "neuron": fc.neuron,
                    "units": int(fc.weights.shape[-1]), "weight_bits": fc.weight_bits,
                    "act_bits": fc.act_bits} for i, fc in enumerate(plan.layers)],
    }
    return model, figures


def check_resources(qg: QuantizedGraph, target: Target) -> dict[str, Any]:
    """The ``resources.json`` figures of the model ``emit`` would write."""
    return map_model(build_plan(qg), target)[1]
