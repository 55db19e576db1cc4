"""The layout simulator: runs what the emitted files say, on a model of the SpiNNaker 2 machine.

It reads only ``layout.json`` (mesh size, router tables, which PE image is where, population
names and shapes for the trace) and the ``pe_XXX.bin`` images; it never sees the IR. QNN
stages run once per inference (:func:`run_layout` says when). Per step:

1. every PE takes its synaptic input for this step: the ring-buffer slot filled by packets sent
   ``synapse_delay`` steps ago plus its constant input (event PEs), or its MAC program run on the
   input buffers of that step (MAC PEs), plus injected input (direct input injection);
2. it updates its neurons as its image's parameters say, records spikes / membranes / values;
3. every keyed PE sends one multicast packet per non-zero output, key ``key | neuron_index``
   (the value as payload when its image says so). Routers forward packets by first-match
   key/mask lookup, or straight on by the default route; receiving PEs look the key up in their
   master population table and add the synaptic row (times the payload) into the ring-buffer slot
   ``synapse_delay`` steps ahead, or store the payload in the MAC input buffer.

The batch axis runs independent copies of the machine in lockstep. Routers are stateless, so the
route of each key is resolved once and reused; each receiving PE's synaptic rows are expanded once
into a matrix, so adding ``payload @ rows`` is the sum of the rows the individual packets select.
Packets that no entry matches on their source chip, leave the mesh or reach a PE whose table does
not know their key are counted in :class:`Stats` (a correct layout has none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.spinnaker2 import image as img
from snnc.backends.spinnaker2.mac import op_macs, run_op
from snnc.errors import EmitError
from snnc.reference.simulate import Trace

I64 = np.int64
STEPS = ((1, 0), (0, 1), (-1, 0), (0, -1))  # link i of the route word: E, N, W, S
LIF, CUBA, MULTILEVEL, READOUT, SOURCE = 1, 2, 3, 4, 0

Chip = tuple[int, int]


@dataclass
class Stats:
    """Packet accounting of a run. ``packets`` counts packets sent (per batch lane and step);
    hops and faults are counted once per key when its route is resolved (routers are
    stateless, so every later packet with that key takes the same route)."""

    packets: int = 0
    link_hops: int = 0
    dropped_no_route: int = 0
    dropped_off_mesh: int = 0
    unmatched_at_pe: int = 0
    # per receiving population id: what its PEs did (all batch lanes; see :func:`count`)
    work: dict[int, dict[str, int]] = field(default_factory=dict)

    def count(self, population: int, **amounts: int) -> None:
        """Add to a population's counters: ``packets`` received, ``synaptic_events`` (synaptic
        row entries processed), ``macs`` (multiply-accumulates of the MAC array),
        ``sram_bits`` (synapse words and MAC weights read from the PE's SRAM) and
        ``neuron_updates``."""
        mine = self.work.setdefault(population, {"packets": 0, "synaptic_events": 0, "macs": 0,
                                                 "sram_bits": 0, "neuron_updates": 0})
        for key, value in amounts.items():
            mine[key] += int(value)


@dataclass(frozen=True)
class RouterEntry:
    key: int
    mask: int
    links: int
    cores: tuple[int, ...]


class Mesh:
    """The chip mesh and its routers, as ``layout.json`` describes them."""

    def __init__(self, width: int, height: int, tables: Mapping[Chip, list[RouterEntry]]):
        self.width, self.height = width, height
        self.tables = tables

    def _first_match(self, chip: Chip, keys: np.ndarray) -> np.ndarray:
        table = self.tables.get(chip, [])
        out = np.full(keys.size, -1, I64)
        for i in range(len(table) - 1, -1, -1):  # last to first so the first match wins
            e = table[i]
            out[(keys & e.mask) == e.key] = i
        return out

    def deliver(self, chip: Chip, keys: np.ndarray,
                stats: Stats) -> dict[tuple[Chip, int], np.ndarray]:
        """Positions (into ``keys``) of the packets each (chip, core) receives when every key
        is sent once from ``chip``. Raises EmitError on a routing loop."""
        got: dict[tuple[Chip, int], list[np.ndarray]] = {}
        seen: dict[Chip, np.ndarray] = {}
        frontier: list[tuple[Chip, int | None, np.ndarray]] = [
            (chip, None, np.arange(keys.size))]
        while frontier:
            here, arrival, idx = frontier.pop()
            mark = seen.setdefault(here, np.zeros(keys.size, bool))
            if mark[idx].any():
                raise EmitError(f"routing loop: key 0x{int(keys[idx[mark[idx]][0]]):08x} "
                                f"reaches chip {here} twice")
            mark[idx] = True
            match = self._first_match(here, keys[idx])
            for m in np.unique(match):
                sel = idx[match == m]
                if m >= 0:
                    entry = self.tables[here][int(m)]
                    links, cores = entry.links, entry.cores
                elif arrival is None:
                    stats.dropped_no_route += sel.size
                    continue
                else:
                    links, cores = 1 << arrival, ()
                for core in cores:
                    got.setdefault((here, core), []).append(sel)
                for d, (dx, dy) in enumerate(STEPS):
                    if not links >> d & 1:
                        continue
                    nxt = (here[0] + dx, here[1] + dy)
                    if not (0 <= nxt[0] < self.width and 0 <= nxt[1] < self.height):
                        stats.dropped_off_mesh += sel.size
                        continue
                    stats.link_hops += sel.size
                    frontier.append((nxt, d, sel))
        return {k: np.sort(np.concatenate(v)) for k, v in sorted(got.items())}


def _rshift(x: np.ndarray, bits: int, trunc: bool) -> np.ndarray:
    return np.sign(x) * (np.abs(x) >> bits) if trunc else x >> bits


def _overflow(x: np.ndarray, bits: int, wrap: bool) -> np.ndarray:
    half = 1 << (bits - 1)
    if wrap:
        return ((x - 1 + half) % (1 << bits)) - half + 1
    return np.clip(x, -(half - 1), half - 1)


class PeRuntime:
    """One PE: its image (parameters, state loaded from STAT) plus the working memory the
    runtime keeps (ring buffers or MAC buffers, output buffer)."""

    def __init__(self, image: img.PeImage, batch: int, source_sizes: Mapping[int, int]):
        self.image = image
        self.parm = image.parm
        self.slots = int(self.parm["synapse_delay"]) + 1
        n = image.n
        zeros = np.zeros(n, I64)
        self.u = np.tile(image.state.get("u", zeros), (batch, 1))
        self.v = np.tile(image.state.get("v", zeros), (batch, 1))
        self.ring = np.zeros((self.slots, batch, n), I64)
        self.buffers: list[np.ndarray] = []
        if image.program is not None:
            self.buffers = [np.zeros((self.slots, batch, source_sizes[pop]), I64)
                            for pop, _ in image.program.sources]
        self.out = np.zeros((batch, n), I64)
        self.biased = True

    @property
    def model(self) -> int:
        return int(self.parm["model"])

    def synaptic_input(self, t: int, injected: Mapping[int, np.ndarray]) -> np.ndarray:
        slot = t % self.slots
        im = self.image
        # the stage's biases and the neuron's own are on from the PE's bias onset (PARM)
        self.biased = t >= int(self.parm.get("bias_on", 0))
        if im.program is not None:
            current = self._run_program(im.program, slot)
        else:
            current = self.ring[slot].copy()
            self.ring[slot] = 0
            if im.bias is not None and self.biased:
                current = current + im.bias
        if im.flags & img.INJECT:
            src = injected[int(self.parm["inject_population"])]
            off = int(self.parm["inject_offset"])
            current = current + src[:, off:off + im.n]
        return current

    def _run_program(self, program: img.Program, slot: int) -> np.ndarray:
        batch = self.out.shape[0]
        tensors = [buf[slot].reshape((batch, *shape))
                   for buf, (_, shape) in zip(self.buffers, program.sources, strict=True)]
        for op in program.ops:
            tensors.append(run_op(op, [tensors[i] for i in op.inputs], self.biased))
        for buf in self.buffers:
            buf[slot] = 0
        flat = tensors[-1].reshape(batch, -1)
        return flat[:, program.out_lo:program.out_lo + self.image.n]

    def update(self, current: np.ndarray) -> None:
        """The neuron model of the image on this step's input (sets ``out``, ``u``, ``v``)."""
        if self.model in (LIF, CUBA):
            self._lif(current)
        elif self.model == MULTILEVEL:
            self.out = self._levels(current)
        elif self.model == READOUT:
            self.out = current

    def _lif(self, current: np.ndarray) -> None:
        p, prm = self.parm, self.image.nprm
        bits, trunc = int(p["decay_bits"]), bool(p["rounding"])
        one = 1 << bits
        a = current << int(p["input_shift"])
        if self.model == CUBA:
            du = prm["du"] + int(p["current_decay_offset"])
            u = _rshift(self.u * (one - du), bits, trunc) + a
            self.u = _overflow(u, int(p["current_bits"]), bool(p["u_overflow"]))
        elif p["lif_current_register"]:
            self.u = _overflow(a, int(p["current_bits"]), bool(p["u_overflow"]))
        else:
            self.u = a
        drive = _rshift(self.v * (one - prm["dv"]), bits, trunc) + self.u
        if self.biased:
            drive = drive + (prm["bias"] << int(p["input_shift"]))
        drive = _overflow(drive, int(p["state_bits"]), bool(p["v_overflow"]))
        theta = prm["vth"] << int(p["threshold_shift"])

        def fires(x: np.ndarray) -> np.ndarray:
            return x >= theta if p["compare"] else x > theta

        def reset(x: np.ndarray, fired: np.ndarray) -> np.ndarray:
            if p["reset"] == 0:
                return np.where(fired, 0, x)
            if p["reset"] == 1:
                return x - theta * fired
            return x

        if p.get("levels", 0) > 0:  # graded: the spike count, sent as the payload
            counts = np.clip(np.floor_divide(drive, theta), 0, int(p["levels"]))
            self.v = drive - theta * counts
            self.out = counts.astype(I64)
            return
        if p["timing"] == 1:
            self.v = reset(drive, fires(self.v))
            fired = fires(self.v)
        else:
            fired = fires(drive)
            self.v = reset(drive, fired)
        self.out = fired.astype(I64)

    def _levels(self, current: np.ndarray) -> np.ndarray:
        p = self.parm
        levels = int(p["levels"])
        if not p["adaptive"]:
            theta2 = 2 * int(p["vth"])
            num = np.full_like(current, theta2)
            top = 2 * current + theta2 // 2
        else:
            glen, inner = int(p["group_len"]), int(p["group_inner"])
            batch = current.shape[0]
            grouped = current.reshape(batch, -1, glen, inner)
            total = np.abs(grouped).sum(axis=2, keepdims=True)
            theta_num = int(p["alpha_mant"]) * total
            scale = glen * (1 << int(p["alpha_frac_bits"]))
            top = (2 * grouped * scale + theta_num).reshape(batch, -1)
            num = np.broadcast_to(2 * theta_num, grouped.shape).reshape(batch, -1)
        safe = np.where(num > 0, num, 1)
        level = np.clip(np.floor_divide(top, safe), 0, levels)
        return np.where(num > 0, level, 0).astype(I64)


@dataclass(frozen=True, eq=False)
class Link:
    """What packets from source PE ``src`` do at destination PE ``dst``: add ``rows`` (event) or
    store into buffer ``slot`` at ``positions`` (MAC), for the source neurons ``neurons``."""

    src: int
    dst: int
    neurons: np.ndarray
    rows: np.ndarray | None = None
    slot: int = -1
    positions: np.ndarray | None = None


def _master_lookup(image: img.PeImage, key: int) -> int:
    for i, e in enumerate(image.mpop):
        if key & e.mask == e.key:
            return i
    return -1


def _links_for(src_i: int, src: img.PeImage, dst_i: int, dst: img.PeImage,
               neurons: np.ndarray, stats: Stats) -> list[Link]:
    """Decode, for each key ``src`` sends to ``dst``, the row or buffer slot it selects."""
    block_of = {}
    for i, e in enumerate(m for m in dst.mpop if m.kind == img.KIND_ROWS):
        block_of[e] = dst.blocks[i]
    rows = np.zeros((neurons.size, dst.n), I64)
    slots: dict[int, tuple[list[int], list[int]]] = {}
    keep = np.zeros(neurons.size, bool)
    for j, idx in enumerate(neurons):
        key = src.key | int(idx)
        hit = _master_lookup(dst, key)
        if hit < 0:
            stats.unmatched_at_pe += 1
            continue
        entry = dst.mpop[hit]
        local = key & ~entry.mask & 0xFFFFFFFF
        if entry.kind == img.KIND_ROWS:
            block = block_of[entry]
            if local >= block.offsets.size:
                raise EmitError(f"PE {dst.pe_id}: key 0x{key:08x} selects row {local} of a "
                                f"block with {block.offsets.size} rows")
            words = block.words[block.offsets[local]:block.offsets[local] + block.lengths[local]]
            weights = ((words >> 16) & 0xFFFF).astype(I64)
            weights = np.where(weights >= 1 << 15, weights - (1 << 16), weights)
            targets = words & 0xFFFF
            if targets.size and int(targets.max()) >= dst.n:
                raise EmitError(f"PE {dst.pe_id}: a synapse targets neuron {int(targets.max())}"
                                f" of a {dst.n}-neuron slice")
            np.add.at(rows[j], targets, weights)
            keep[j] = True
        else:
            pos, srcs = slots.setdefault(entry.arg, ([], []))
            pos.append(entry.address + local)
            srcs.append(int(idx))
    links = []
    if keep.any():
        links.append(Link(src_i, dst_i, neurons[keep], rows=rows[keep]))
    for slot, (pos, srcs) in sorted(slots.items()):
        links.append(Link(src_i, dst_i, np.array(srcs), slot=slot, positions=np.array(pos)))
    return links


@dataclass(frozen=True, eq=False)
class LoadedLayout:
    """The parsed artifact: layout description, images in PE order, and the mesh."""

    doc: Mapping[str, Any]
    images: tuple[img.PeImage, ...]
    mesh: Mesh


def load_layout(folder: Path) -> LoadedLayout:
    """Read ``layout.json`` and every PE image it lists; EmitError if anything is missing."""
    folder = Path(folder)
    try:
        doc = json.loads((folder / "layout.json").read_text())
    except (OSError, ValueError) as exc:
        raise EmitError(f"cannot read {folder / 'layout.json'}: {exc}") from None
    images = []
    for pe in doc["pes"]:
        path = folder / pe["file"]
        if not path.is_file():
            raise EmitError(f"PE image {path} is missing")
        images.append(img.decode_image(path.read_bytes()))
    tables = {}
    for chip in doc["chips"]:
        tables[tuple(chip["chip"])] = [
            RouterEntry(int(e["key"], 16), int(e["mask"], 16),
                        sum(1 << "ENWS".index(link) for link in e["links"]), tuple(e["cores"]))
            for e in chip["routing_table"]]
    mesh = Mesh(doc["machine"]["mesh_width"], doc["machine"]["mesh_height"], tables)
    return LoadedLayout(doc, tuple(images), mesh)


def _links(layout: LoadedLayout, stats: Stats) -> list[Link]:
    where = {(im.chip, im.core): i for i, im in enumerate(layout.images)}
    links: list[Link] = []
    for i, im in enumerate(layout.images):
        if not im.flags & img.HAS_KEY:
            continue
        keys = im.key + np.arange(im.n, dtype=I64)
        for (chip, core), got in layout.mesh.deliver(im.chip, keys, stats).items():
            j = where.get((chip, core))
            if j is None:
                stats.unmatched_at_pe += got.size
                continue
            links.extend(_links_for(i, im, j, layout.images[j], got, stats))
    return links


def run_layout(folder: Path, x_int: np.ndarray) -> tuple[Trace, Stats]:
    """Run the artifact in ``folder`` on integer input (steps, batch, *input_shape).

    A layout with QNN stages runs the mixed schedule its images describe (``phase``, ``once``
    in PARM): phase 0's PEs step through the input; then the ``once`` PEs of phase 0 run their
    MAC program on input buffers that summed every packet of those steps and send one packet per
    non-zero level; PEs of phase 1 then run their steps, each receiving PE adding its share of
    a level at every step (``floor((t+1) c / T) - floor(t c / T)``, ``synapse_delay`` steps
    late like any packet), and so on.
    """
    layout = load_layout(folder)
    doc = layout.doc
    steps, batch = x_int.shape[:2]
    pops = {p["id"]: p for p in doc["populations"]}
    sizes = {pid: int(p["size"]) for pid, p in pops.items()}
    flat_x = np.asarray(x_int, I64).reshape(steps, batch, -1)
    sources = [pid for pid, p in pops.items() if p["model"] == "source"]
    stats = Stats()
    pes = [PeRuntime(im, batch, sizes) for im in layout.images]
    links = _links(layout, stats)
    record = {pid: np.zeros((steps, batch, sizes[pid]), I64) for pid in pops}
    record_v = {pid: np.zeros((steps, batch, sizes[pid]), I64) for pid in pops}
    phase_count = 1 + max((_phase(pe) for pe in pes), default=0)
    levels: dict[int, np.ndarray] = {}  # link index -> the levels its source sent once
    for phase in range(phase_count):
        stepping = [i for i, pe in enumerate(pes) if _phase(pe) == phase and not _once(pe)]
        for t in range(steps):
            injected = {pid: flat_x[t] for pid in sources}
            for i in stepping:
                pe, im = pes[i], pes[i].image
                if pe.model == SOURCE:
                    pe.out = flat_x[t][:, im.lo:im.lo + im.n]
                else:
                    pe.update(pe.synaptic_input(t, injected))
                    _count_update(stats, pe, batch)
                record[im.population][t, :, im.lo:im.lo + im.n] = pe.out
                if im.flags & img.RECORD_V:
                    record_v[im.population][t, :, im.lo:im.lo + im.n] = pe.v
            for k, link in enumerate(links):
                src, dst = pes[link.src], pes[link.dst]
                if k in levels:  # a level received once, its share of this step
                    if _phase(dst) == phase:
                        share = _spread_step(levels[k], t, steps)
                        _deliver(dst, link, share, t, False)
                        if link.rows is not None:  # the rows it selects are processed
                            events = int(((share != 0) * np.count_nonzero(link.rows, axis=1))
                                         .sum())
                            stats.count(dst.image.population, synaptic_events=events,
                                        sram_bits=32 * events)
                    continue
                if link.src not in stepping or _once(src):
                    continue
                payload = src.out[:, link.neurons]
                if not src.image.flags & img.PAYLOAD:
                    payload = (payload != 0).astype(I64)
                stats.packets += int(np.count_nonzero(payload))
                _deliver(dst, link, payload, t, _once(dst), stats)
        for i, pe in enumerate(pes):
            if _phase(pe) != phase or not _once(pe):
                continue
            im = pe.image
            pe.update(pe.synaptic_input(0, {}))
            _count_update(stats, pe, batch)
            record[im.population][:, :, im.lo:im.lo + im.n] = _spread(pe.out, steps)
            for k, link in enumerate(links):
                if link.src != i:
                    continue
                payload = pe.out[:, link.neurons]
                stats.packets += int(np.count_nonzero(payload))
                if _once(pes[link.dst]):
                    _deliver(pes[link.dst], link, payload, 0, True, stats)
                else:
                    stats.count(pes[link.dst].image.population,
                                packets=int(np.count_nonzero(payload)))
                    levels[k] = payload
    return _trace(doc, pops, record, record_v, steps, batch), stats


def _phase(pe: PeRuntime) -> int:
    return int(pe.parm.get("phase", 0))


def _once(pe: PeRuntime) -> bool:
    return bool(pe.parm.get("once", 0))


def _count_update(stats: Stats, pe: PeRuntime, batch: int) -> None:
    """One step (or the one run) of a PE: its neuron updates and its MAC program."""
    macs = sum(op_macs(op) for op in pe.image.program.ops) if pe.image.program else 0
    stats.count(pe.image.population, neuron_updates=batch * pe.image.n, macs=batch * macs,
                sram_bits=8 * batch * macs)


def _deliver(dst: PeRuntime, link: Link, payload: np.ndarray, t: int, count: bool,
             stats: Stats | None = None) -> None:
    """Packets of step ``t`` at ``dst``: into the ring slot ``synapse_delay`` steps ahead, the
    MAC buffer of that step, or (``count``: a once-per-inference PE) summed into its buffer."""
    slot = 0 if count else (t + dst.slots - 1) % dst.slots
    if stats is not None:
        sent = payload != 0
        events = int((sent * np.count_nonzero(link.rows, axis=1)).sum()) \
            if link.rows is not None else 0
        stats.count(dst.image.population, packets=int(sent.sum()), synaptic_events=events,
                    sram_bits=32 * events)
    if link.rows is not None:
        dst.ring[slot] += payload @ link.rows
    elif link.positions is not None:
        if count:
            dst.buffers[link.slot][slot][:, link.positions] += payload
        else:
            dst.buffers[link.slot][slot][:, link.positions] = payload


def _spread_step(level: np.ndarray, t: int, steps: int) -> np.ndarray:
    return ((t + 1) * level) // steps - (t * level) // steps


def _spread(level: np.ndarray, steps: int) -> np.ndarray:
    return np.stack([_spread_step(level, t, steps) for t in range(steps)])


def _trace(doc: Mapping[str, Any], pops: Mapping[int, Any], record: dict[int, np.ndarray],
           record_v: dict[int, np.ndarray], steps: int, batch: int) -> Trace:
    def shaped(arr: np.ndarray, pid: int) -> np.ndarray:
        return arr.reshape((steps, batch, *pops[pid]["shape"]))

    spikes = {p["name"]: shaped(record[pid], pid) for pid, p in pops.items()
              if "spikes" in p["record"]}
    v = {p["name"]: shaped(record_v[pid], pid) for pid, p in pops.items() if "v" in p["record"]}
    out = doc["output"]["population"]
    return Trace(output=shaped(record[out], out), spikes=spikes, v=v)

