"""The Xylo specification of a bit-shift quantized graph (``snnc.reference.bitshift``).

Hidden neurons are the non-read-out neuron layers in graph order (so their ids give the
delivery order the reference uses); the read-out layer, if any, takes the readout neurons.
The arrays are exactly the arguments of rockpool's ``XyloSim.from_specification``: input
weights ``(inputs, IEN)`` onto the first ``IEN`` hidden neurons, recurrent weights
``(hidden, hidden)``, output weights ``(OEN, readout)`` from the last ``OEN`` hidden neurons,
dashes, thresholds and biases per neuron, and weight shifts of 0 (the integer weights are int8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from snnc.errors import QuantizationError, ResourceError
from snnc.ir.layers import Input
from snnc.ir.quantized import QuantizedGraph
from snnc.reference.bitshift import Population, populations, projection_weight
from snnc.target import Target

I16 = (-(1 << 15), (1 << 15) - 1)


@dataclass(frozen=True)
class XyloSpec:
    """The specification arrays and where each snnc layer lives."""

    arrays: dict[str, np.ndarray]
    hidden: dict[str, tuple[int, int]]      # layer -> (first hidden id, size)
    readout: str | None
    output_from: str                        # "readout" or "hidden"

    @property
    def figures(self) -> dict[str, Any]:
        a = self.arrays
        return {
            "inputs": int(a["weights_in"].shape[0]),
            "hidden_neurons": int(a["weights_rec"].shape[0]),
            "readout_neurons": int(a["weights_out"].shape[1]),
            "input_expansion_neurons": int(a["weights_in"].shape[1]),
            "output_expansion_neurons": int(a["weights_out"].shape[0]),
            "synapses": int(sum(np.count_nonzero(a[k]) for k in
                                ("weights_in", "weights_rec", "weights_out"))),
            "output_from": self.output_from,
            "layers": {name: {"first_hidden_id": lo, "size": n}
                       for name, (lo, n) in self.hidden.items()},
            "readout_layer": self.readout,
        }


def family(target: Target) -> str:
    """The rockpool device module of ``target`` (``[xylo] family``)."""
    return str(target.raw.get("xylo", {}).get("family", "syns61201"))


def resources_document(spec: XyloSpec, target: Target) -> dict[str, Any]:
    """What ``resources.json`` holds: the target, its rockpool family and the figures."""
    return {"target": target.name, "family": family(target), **spec.figures}


def _check_range(name: str, values: np.ndarray, lo: int, hi: int, what: str) -> None:
    if values.size and (int(values.min()) < lo or int(values.max()) > hi):
        raise QuantizationError(f"layer '{name}': {what} outside {lo}..{hi} "
                                f"({int(values.min())}..{int(values.max())})")


def build_spec(qg: QuantizedGraph, target: Target) -> XyloSpec:
    """Lay ``qg`` out on ``target``'s neurons, or raise naming the limit that is exceeded."""
    graph = qg.graph
    pops = populations(graph)
    limits = target.limits
    n_in = int(graph.input.shape[0])
    if n_in > int(limits.get("inputs", 16)):
        raise ResourceError(target.name, "input channels", n_in, int(limits.get("inputs", 16)),
                            f"input '{graph.input.name}'")
    hidden: dict[str, tuple[int, int]] = {}
    readout: Population | None = None
    total = 0
    for pop in pops:
        if pop.readout:
            readout = pop
            continue
        hidden[pop.name] = (total, pop.size)
        total += pop.size
    if total > int(limits.get("hidden_neurons", 1000)):
        raise ResourceError(target.name, "hidden neurons", total,
                            int(limits.get("hidden_neurons", 1000)))
    n_out = readout.size if readout is not None else 0
    if n_out > int(limits.get("readout_neurons", 8)):
        raise ResourceError(target.name, "readout neurons", n_out,
                            int(limits.get("readout_neurons", 8)),
                            f"output layer '{readout.name}'")
    w_in = np.zeros((n_in, total), np.int64)
    w_rec = np.zeros((total, total), np.int64)
    w_out = np.zeros((total, n_out), np.int64)
    per_neuron = {k: np.zeros(total, np.int64) for k in ("dash_mem", "dash_syn", "threshold",
                                                         "bias")}
    per_out = {k: np.zeros(n_out, np.int64) for k in ("dash_mem_out", "dash_syn_out",
                                                      "threshold_out", "bias_out")}
    for pop in pops:
        q = qg.q(pop.name)
        values = {"dash_mem": q.dv, "dash_syn": q.du, "threshold": q.vth,
                  "bias": 0 if q.bias is None else q.bias}
        _check_range(pop.name, np.asarray(q.vth), 1, I16[1], "threshold")
        _check_range(pop.name, np.asarray(values["bias"]), *I16, "bias")
        _check_range(pop.name, np.asarray(q.du), 0, 15, "synaptic dash")
        _check_range(pop.name, np.asarray(q.dv), 0, 15, "membrane dash")
        for proj in pop.projections:
            w = projection_weight(qg, proj)                              # (post, pre)
            _check_range(" + ".join(proj.dense), w, -128, 127, "weights")
            from_input = isinstance(graph.layer(proj.source), Input)
            if pop.readout:
                lo, n = hidden[proj.source]
                w_out[lo:lo + n, :] = w.T
            elif from_input:
                lo, n = hidden[pop.name]
                w_in[:, lo:lo + n] = w.T
            else:
                src_lo, src_n = hidden[proj.source]
                lo, n = hidden[pop.name]
                w_rec[src_lo:src_lo + src_n, lo:lo + n] = w.T
        if pop.readout:
            for key, value in values.items():
                per_out[f"{key}_out"][:] = np.broadcast_to(np.asarray(value, np.int64),
                                                           (n_out,))
        else:
            lo, n = hidden[pop.name]
            for key, value in values.items():
                per_neuron[key][lo:lo + n] = np.broadcast_to(np.asarray(value, np.int64), (n,))
    ien = int(np.flatnonzero(w_in.any(axis=0)).max(initial=-1)) + 1 if total else 0
    first_oen = int(np.flatnonzero(w_out.any(axis=1)).min(initial=total)) if n_out else total
    arrays = {
        "weights_in": w_in[:, :max(ien, 1)].astype(np.int8),
        "weights_rec": w_rec.astype(np.int8),
        "weights_out": w_out[min(first_oen, total - 1):].astype(np.int8),
        **{k: v.astype(np.int16) for k, v in per_neuron.items()},
        **{k: v.astype(np.int16) for k, v in per_out.items()},
        "weight_shift_in": np.asarray(0, np.int8), "weight_shift_rec": np.asarray(0, np.int8),
        "weight_shift_out": np.asarray(0, np.int8),
        "input_scale": np.asarray(qg.input_scale, np.float64),
    }
    return XyloSpec(arrays, hidden, None if readout is None else readout.name,
                    "readout" if readout is not None else "hidden")
