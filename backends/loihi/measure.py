"""Measured cost on Loihi 2: what the Lava run of the emitted network did, per stage.

:func:`measure_stages` emits the network, runs it in Lava's fixed-point simulator with
``run.py --activity`` (every population's messages of every Lava step, as its recorder probes
saw them) and counts, per stage head, from that record and the emitted synapse processes:

- ``synaptic_ops``: for every non-zero message a synapse process received, its stored non-zero
  weights in that column (the synaptic list a neurocore walks for one spike or graded spike);
  split into ``graded_ops`` (the message carried a payload: a multiply) and plain accumulates;
- ``spike_messages`` / ``graded_messages``: non-zero messages received by the stage's synapse
  processes and direct port links, binary or with a payload of ``payload_bits`` bits;
- ``neuron_updates``: neuron evaluations the stage's process ran (a stepping neuron every Lava
  step from its start on, a QNN twin once: its level), and ``output_spikes`` it sent;
- ``stored_weights``: the non-zero weights of the stage's synapse processes (read once per
  inference when the target reuses weights, else once per operation).

All per inference (the run's batch divided out). Energy uses the target's ``[energy]`` table,
the same prices the cost model uses (:func:`snnc.cost.model.params_from_table`): an accumulate
per plain operation, ``E_MAC(payload, w)`` per graded one, a neuron update per evaluation, a
subtraction per output spike, a QNN level at ``level_pj``, per message its bits times the
sparse (spikes) or dense (payloads) network-on-chip energy per bit and hop, and weight bits at
the weight memory's energy. A message is what Lava delivers: one per receiving synapse process,
fanned out inside the core (the model's ``noc_messages = "per_event"`` accounting).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnc.errors import UnsupportedError
from snnc.ir.quantized import QuantizedGraph
from snnc.target import Target

from .emit import emit
from .lower import LoihiNet, Population, lower
from .simulate import lava_available, run_artifact

STEPPING = ("lif", "lif_variant", "multilevel")


def _sent(activity: dict[str, np.ndarray], pop: Population, batch: int) -> np.ndarray:
    """What ``pop`` sent, (Lava steps, batch, size) int64."""
    key = "input" if pop.kind == "input" else pop.name
    if key not in activity:
        raise UnsupportedError(f"no record of what {pop.layer} sends (a {pop.kind} process); "
                               "its readers cannot be measured", pop.layer)
    data = activity[key].astype(np.int64)
    return data.reshape(data.shape[0], batch, pop.size)


def _stage_counts(net: LoihiNet, head: Population, activity: dict[str, np.ndarray],
                  batch: int, run_steps: int) -> dict[str, float]:
    counts = dict.fromkeys(("synaptic_ops", "graded_ops", "spike_messages", "graded_messages",
                            "payload_bits", "neuron_updates", "output_spikes"),
                           0.0)
    stored_weights = 0
    for syn in net.incoming(head.name):
        src = net.population(syn.source)
        live = _sent(activity, src, batch) != 0
        stored = syn.values != 0
        fan_out = np.bincount(syn.cols[stored], minlength=src.size).astype(np.int64)
        ops = float((live * fan_out).sum())
        messages = float(live.sum())
        counts["synaptic_ops"] += ops
        stored_weights += int(stored.sum())
        if src.message_bits:
            counts["graded_ops"] += ops
            counts["graded_messages"] += messages
            counts["payload_bits"] += messages * src.message_bits
        else:
            counts["spike_messages"] += messages
    for link in net.links:
        if link.target == head.name:
            src = net.population(link.source)
            messages = float((_sent(activity, src, batch) != 0).sum())
            key = "graded_messages" if src.message_bits else "spike_messages"
            counts[key] += messages
            counts["payload_bits"] += messages * src.message_bits
    updates = head.size * batch
    counts["neuron_updates"] = float(updates if head.kind == "qnn"
                                     else updates * (run_steps - head.offset))
    counts["output_spikes"] = float((_sent(activity, head, batch) != 0).sum())
    return {**{k: v / batch for k, v in counts.items()}, "stored_weights": float(stored_weights)}


def _energy(c: dict[str, float], head: Population, weight_bits: int, target: Target) -> float:
    from snnc.cost.model import params_from_table

    p = params_from_table(target.energy, target.path or target.name)
    payload = c["payload_bits"] / c["graded_messages"] if c["graded_messages"] else 0.0
    graded = c["graded_ops"] * p.mac(max(1, round(payload)), weight_bits) if payload else 0.0
    level = p.cmp_pj if p.level_pj is None else p.level_pj
    neuron = c["neuron_updates"] * (level if head.kind == "qnn" else p.cmp_pj)
    weights = c["stored_weights"] * weight_bits * p.weight_read_pj_per_bit
    if not p.weight_reuse:
        weights = c["synaptic_ops"] * weight_bits * p.weight_read_pj_per_bit
    noc = (c["spike_messages"] * p.noc_sparse_pj_per_bit_hop
           + c["payload_bits"] * p.noc_dense_pj_per_bit_hop) * p.avg_hops
    return ((c["synaptic_ops"] - c["graded_ops"]) * p.synop + graded + neuron
            + c["output_spikes"] * p.sub_pj + weights + noc)


def measure_stages(qg: QuantizedGraph, target: Target, drive: np.ndarray, heads: list[str],
                   work_dir: Path) -> dict[str, dict[str, float]]:
    """Counters and ``energy_pj`` per inference of the stages ``heads`` (module docstring),
    from one Lava run of the emitted network on the float ``drive`` (steps, batch, *shape)."""
    if not lava_available():
        from snnc.errors import ToolchainError

        raise ToolchainError("Lava is not installed (make install adds lava-nc 0.10.0)")
    work_dir = Path(work_dir)
    folder = work_dir / "loihi"
    emit(qg, target, folder)
    net = lower(qg, target.name)
    record = work_dir / "activity.npz"
    run_artifact(folder, qg.quantize_input(drive), work_dir, voltages=False, activity=record)
    with np.load(record, allow_pickle=False) as data:
        activity = {key: data[key] for key in data.files}
    batch = int(drive.shape[1])
    run_steps = int(activity["input"].shape[0])
    pops = net.by_layer()
    out: dict[str, dict[str, float]] = {}
    for name in heads:
        if name not in pops:
            continue
        head = pops[name]
        counts = _stage_counts(net, head, activity, batch, run_steps)
        counts["energy_pj"] = _energy(counts, head, qg.profile.weight_bits, target)
        out[name] = counts
    return out
