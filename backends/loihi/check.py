"""Loihi 2 resource allocation: neurons and synapses per neuro core, cores per chip.

Model (documented in ``docs/targets/loihi.md``): a layer's neurons are split into contiguous
blocks, one block per core; a neuron's incoming synapses live on its core (Loihi stores synapses
at the destination), so a block is closed when adding the next neuron would exceed either
``neurons_per_core`` or ``synapses_per_core``. Greedy filling is optimal for contiguous blocks.
Every stored synapse counts, including the second process of a weight wider than 8 bits.
Input spikes, read-outs and host processes (attention, input-aware multi-level thresholds, max
pooling of spike counts) run
off-chip and use no neuro core. Everything is per sample: the batch exists only in simulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from snnc.errors import ResourceError
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target

from .lower import LAVA_MODULAR_LIMIT, PAYLOAD_BITS, U_HALF, LoihiNet, Population, lower

# Used when the target file leaves a limit out (see targets/loihi2.toml for the sources).
DEFAULT_LIMITS: Mapping[str, int] = {
    "chips": 1,
    "cores_per_chip": 128,
    "neurons_per_core": 8192,
    "synapses_per_core": 937_500,
    "weight_exp_min": -8,
    "weight_exp_max": 7,
    "payload_bits": PAYLOAD_BITS,
}

PROCESS_NAMES = {
    "input": "RingBuffer (host spike input)",
    "lif": "LIF (lava.proc.lif, PyLifModelBitAcc)",
    "lif_variant": "VariantLIF (snnc_processes, custom neuron program)",
    "multilevel": "MultiLevel (snnc_processes, graded spikes)",
    "qnn": "QnnTwin (snnc_processes, QNN stage: one graded-spike step per inference)",
    "attention": "HostAttention (snnc_processes, host Python process)",
    "max_pool": "HostMaxPool (snnc_processes, host Python process)",
    "readout": "SpikeRecorder (host read-out of synaptic currents)",
}

OFF_CHIP_REASONS = {
    "input": "input spikes are injected by the host",
    "readout": "the graph output is a synaptic current, read by the host",
    "attention": "attention multiplies two dynamic operands; no synapse form",
    "max_pool": "max pooling of spike counts or levels: a maximum is not a sum, no synapse form "
                "(binary spikes are pooled by an OR neuron on a neurocore)",
    "multilevel": "the input-aware threshold needs a mean over neurons (not neuron-local)",
    "qnn": "the QNN stage does not fit a neurocore",
}


COUNT_BLOCK = 1 << 20  # synapses counted per block (each block's indices widened to int64)


def limits_of(target: Target) -> dict[str, int]:
    merged = dict(DEFAULT_LIMITS)
    merged.update({k: int(v) for k, v in target.limits.items() if k in DEFAULT_LIMITS})
    return merged


def fan_in(net: LoihiNet, pop: Population) -> np.ndarray:
    """Stored synapses per neuron of ``pop`` (per sample), over all incoming processes."""
    counts = np.zeros(pop.size, np.int64)
    for syn in net.incoming(pop.name):
        for start in range(0, syn.rows.size, COUNT_BLOCK):  # bincount widens its input
            counts += np.bincount(syn.rows[start:start + COUNT_BLOCK], minlength=pop.size)
    return counts


def split_blocks(synapses: np.ndarray, neurons_per_core: int,
                 synapses_per_core: int) -> list[tuple[int, int, int]]:
    """Contiguous (first neuron, neurons, synapses) blocks, each within both limits."""
    blocks: list[tuple[int, int, int]] = []
    start, count, load = 0, 0, 0
    for i, s in enumerate(synapses.tolist()):
        if count and (count + 1 > neurons_per_core or load + s > synapses_per_core):
            blocks.append((start, count, load))
            start, count, load = i, 0, 0
        count += 1
        load += s
    if count:
        blocks.append((start, count, load))
    return blocks


def current_warnings(pop: Population) -> list[str]:
    """What the worst-case input of a LIF layer means for its 24-bit current ``u``."""
    peak = pop.params.get("max_input")
    if pop.kind not in ("lif", "lif_variant") or peak is None:
        return []
    if peak > LAVA_MODULAR_LIMIT and pop.kind == "lif":  # the variant wraps exactly
        return [f"layer '{pop.layer}': a worst-case input of {peak} per step is beyond "
                f"{LAVA_MODULAR_LIMIT}, where Lava's current wrap stops being modular; "
                f"its run may then differ from the integer reference"]
    if peak << 6 >= U_HALF:
        return [f"layer '{pop.layer}': a worst-case input of {peak} per step overflows the "
                f"24-bit current, which wraps (as in the integer reference)"]
    return []


def link_warnings(net: LoihiNet) -> list[str]:
    """Neuron layers that read a source with no synapse in between (the reference adds no delay
    there, so Lava connects the ports directly; on a chip every connection is a synapse)."""
    out = []
    for link in net.links:
        source, target = net.population(link.source), net.population(link.target)
        if target.on_chip and source.kind not in ("attention", "max_pool"):
            out.append(f"layer '{target.layer}' reads '{source.layer}' without a synapse: Lava "
                       f"connects the ports directly (no delay, as in the reference); on a chip "
                       f"this needs an identity synapse, which adds one step")
    return out


def _check_synapses(net: LoihiNet, lim: Mapping[str, int], target: str) -> None:
    for syn in net.synapses:
        if not lim["weight_exp_min"] <= syn.weight_exp <= lim["weight_exp_max"]:
            raise ResourceError(target, f"weight exponent of synapse '{syn.name}'",
                                syn.weight_exp, lim["weight_exp_max"])
        if syn.message_bits > lim["payload_bits"]:
            raise ResourceError(target, f"spike payload bits into synapse '{syn.name}'",
                                syn.message_bits, lim["payload_bits"])


def allocate(net: LoihiNet, target: Target) -> dict[str, Any]:
    """Place every on-chip population on cores; raise :class:`ResourceError` if it cannot fit."""
    lim = limits_of(target)
    _check_synapses(net, lim, target.name)
    layers: list[dict[str, Any]] = []
    off_chip: list[dict[str, Any]] = []
    warnings: list[str] = link_warnings(net)
    next_core = 0
    for pop in net.populations:
        if not pop.on_chip:
            reason = OFF_CHIP_REASONS[pop.kind]
            if pop.kind == "qnn":
                reason = f"{reason}: {pop.params['host_reason']}"
            off_chip.append({"layer": pop.layer, "population": pop.name,
                             "process": PROCESS_NAMES[pop.kind], "reason": reason})
            continue
        if pop.message_bits > lim["payload_bits"]:
            raise ResourceError(target.name, f"graded spike payload bits of layer '{pop.layer}'",
                                pop.message_bits, lim["payload_bits"])
        synapses = fan_in(net, pop)
        widest = int(synapses.max()) if synapses.size else 0
        if widest > lim["synapses_per_core"]:
            raise ResourceError(target.name, f"synapses of one neuron of layer '{pop.layer}'",
                                widest, lim["synapses_per_core"], "one neuron's fan-in must "
                                "fit one core")
        cores = []
        for first, count, load in split_blocks(synapses, lim["neurons_per_core"],
                                               lim["synapses_per_core"]):
            cores.append({"core": next_core, "chip": next_core // lim["cores_per_chip"],
                          "first_neuron": first, "neurons": count, "synapses": load})
            next_core += 1
        warnings.extend(current_warnings(pop))
        layers.append({"layer": pop.layer, "population": pop.name,
                       "process": PROCESS_NAMES[pop.kind], "neurons": pop.size,
                       "synapses": int(synapses.sum()),
                       "max_input_per_step": pop.params.get("max_input"),
                       "spikes": _spikes_sent(pop), "cores": cores})
    available = lim["cores_per_chip"] * lim["chips"]
    if next_core > available:
        raise ResourceError(target.name, "neuro cores", next_core, available,
                            f"{lim['chips']} chip(s) x {lim['cores_per_chip']} cores; "
                            f"{lim['neurons_per_core']} neurons and "
                            f"{lim['synapses_per_core']} synapses per core")
    synapse_bits = sum(8 * s.count for s in net.synapses)
    return {
        "target": target.name,
        "model": net.model,
        "limits": lim,
        "cores_used": next_core,
        "cores_available": available,
        "chips_used": math.ceil(next_core / lim["cores_per_chip"]) if next_core else 0,
        "neurons": sum(layer["neurons"] for layer in layers),
        "synapses": sum(layer["synapses"] for layer in layers),
        "synapse_memory_bytes": synapse_bits // 8,
        "synapse_processes": len(net.synapses),
        "layers": layers,
        "off_chip": off_chip,
        "qnn_stages": [_qnn_stage(pop) for pop in net.populations if pop.kind == "qnn"],
        "run_steps_per_inference": net.run_steps,
        "warnings": warnings,
    }


def _spikes_sent(pop: Population) -> str:
    """What a neurocore population sends each step: binary spikes or graded ones."""
    if pop.params.get("graded"):
        return (f"graded spikes: counts up to {pop.params['graded']} per step (payload "
                f"{pop.message_bits} bits)")
    if pop.message_bits:
        return f"graded spikes: levels (payload {pop.message_bits} bits)"
    return "binary spikes"


def _qnn_stage(pop: Population) -> dict[str, Any]:
    """Where a QNN stage runs, and how its level leaves it."""
    where = ("neurocore: one graded-spike step per inference" if pop.on_chip
             else f"host process ({pop.params['host_reason']})")
    sends = ("its level, one graded spike (payload bits "
             f"{pop.message_bits})" if pop.params["send_level"]
             else f"its level as an even spike train over {pop.params['steps']} steps")
    return {"layer": pop.layer, "population": pop.name, "placement": where,
            "on_chip": pop.on_chip, "computes_at_step": pop.params["compute"], "sends": sends}


def check_resources(qg: QuantizedGraph, target: Target) -> dict[str, Any]:
    """Lower ``qg`` and allocate it; raises before anything is written (see module docstring)."""
    return allocate(lower(qg, target.name), target)
