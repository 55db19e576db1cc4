"""Integer semantics of bit-shift neurons (``neuron_model = "bitshift"``, SynSense Xylo).

A bit-shift network is a pool of hidden neurons fed by input channels and by each other, and
optionally a read-out layer fed by hidden neurons. In the layer view: neuron layers (LIF or
CubaLIF, in graph order = hidden neuron ids in that order) each fed by one Dense, or an Add of
Dense layers, reading the input or neuron layers (Dense layers reading the same source add up
to one weight per pair of neurons, as on the chip). The output layer is a *read-out* layer when
every source of its synapses is another neuron layer, it is not recurrent and nothing reads it;
otherwise it stays in the hidden pool.

Per step, for every neuron layer with synaptic current ``u`` and membrane ``v`` (int16 each,
saturating to the two's-complement range of ``state_bits``):

1. contributions are added to ``u`` one source neuron at a time, saturating after each: the
   input channels first (this step's event counts, at most ``input_max``), then the hidden
   neurons in id order (their spike counts of the *previous* step). ``n`` spikes through
   weight ``w`` add ``n * w`` (equal to ``n`` saturating additions of ``w``: same sign);
2. ``u -= dec(u, dash_syn)``: the current decays after this step's input arrived;
3. ``v += sat(sat(-dec(v, dash_mem) + u) + bias)`` (saturating), where ``-dec(v, dash_mem)`` is
   an int16 value: for ``v = -2^15`` and ``dash_mem = 0`` it wraps to ``-2^15``;
4. ``n = min(max_spikes, floor(v / vth))`` where ``v >= vth``, and ``v -= n * vth``
   (subtractive multi-spike; ``readout_max_spikes`` for the read-out layer).

``dec(x, s) = x >> s`` (arithmetic), or ``sign(x)`` when that is 0: every non-zero state moves
at least one unit toward zero per step. In the :class:`QuantLayer`, ``du`` and ``dv`` hold the
shift amounts ``dash_syn`` and ``dash_mem`` and ``vth >= 1``. The weights are the effective
integer weights (``w << weight_shift``). A layer's spikes in the trace are its spike counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.errors import UnsupportedError
from snnc.ir.layers import LIF, Add, CubaLIF, Dense, Graph, Input, Layer
from snnc.ir.quantized import NumericProfile, QuantizedGraph
from snnc.reference.simulate import Trace

I64 = np.int64


@dataclass(frozen=True)
class Projection:
    """The weight layers of a neuron layer's synapse that read ``source``: on the chip one
    weight per pair of neurons, their sum (:func:`projection_weight`)."""

    dense: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Population:
    """A neuron layer of a bit-shift network: its projections in delivery order."""

    name: str
    size: int
    projections: tuple[Projection, ...]
    readout: bool


def layer_problem(layer: Layer) -> str | None:
    """Why ``layer`` has no bit-shift form (None when it has one)."""
    if isinstance(layer, Input | Dense | Add | LIF | CubaLIF):
        return None
    if layer.is_neuron:
        return (f"{layer.kind} neurons have no Xylo form: every Xylo neuron is a leaky "
                "integrate-and-fire neuron with a synaptic current (LIF or CubaLIF)")
    return (f"{layer.kind} layers have no Xylo form: Xylo's synapses are dense weight matrices "
            "between 1-D neuron populations")


def populations(graph: Graph) -> list[Population]:
    """The network's neuron layers with their projections, or :class:`UnsupportedError`.

    Projections are ordered as the hardware delivers them: input channels first, then hidden
    neurons by id (neuron layers in graph order)."""
    for lay in graph.layers:
        problem = layer_problem(lay)
        if problem is not None:
            raise UnsupportedError(problem, layer=lay.name)
    if len(graph.input.shape) != 1:
        raise UnsupportedError(f"input shape {graph.input.shape}: Xylo takes a 1-D vector of "
                               "input channels", layer=graph.input.name)
    if not graph.layer(graph.output).is_neuron:
        raise UnsupportedError("a Xylo network's output is a neuron layer (its spikes)",
                               layer=graph.output)
    order = {lay.name: i for i, lay in enumerate(graph.layers) if lay.is_neuron}
    found = {lay.name: _projections(graph, lay) for lay in graph.layers if lay.is_neuron}
    read = {p.source for projections in found.values() for p in projections}
    out: list[Population] = []
    for lay in graph.layers:
        if not lay.is_neuron:
            continue
        merged: dict[str, tuple[str, ...]] = {}
        for p in found[lay.name]:
            merged[p.source] = (*merged.get(p.source, ()), *p.dense)
        projections = [Projection(dense, source) for source, dense in merged.items()]
        keys = [-1 if isinstance(graph.layer(p.source), Input) else order[p.source]
                for p in projections]
        ranked = tuple(p for _, p in sorted(zip(keys, projections, strict=True),
                                             key=lambda kp: kp[0]))
        readout = lay.name == graph.output and lay.name not in read and min(keys) >= 0
        out.append(Population(lay.name, graph.size(lay.name), ranked, readout))
    return out


def _projections(graph: Graph, neuron: Layer) -> list[Projection]:
    head = graph.layer(neuron.inputs[0])
    members = [graph.layer(s) for s in head.inputs] if isinstance(head, Add) else [head]
    found = []
    reader = head.name if isinstance(head, Add) else neuron.name
    for dense in members:
        if not isinstance(dense, Dense):
            raise UnsupportedError(
                f"'{dense.name}' ({dense.kind}) feeds neuron layer '{neuron.name}'; on Xylo a "
                "neuron layer is fed by weight layers (Dense, or an Add of Dense)",
                layer=neuron.name)
        src = graph.layer(dense.inputs[0])
        if not (src.is_neuron or isinstance(src, Input)):
            raise UnsupportedError(f"'{src.name}' ({src.kind}) feeds weight layer "
                                   f"'{dense.name}'; Xylo weights read neurons or inputs",
                                   layer=dense.name)
        if [c.name for c in graph.consumers(dense.name)] != [reader]:
            raise UnsupportedError("a weight layer feeding several layers has no Xylo form",
                                   layer=dense.name)
        found.append(Projection((dense.name,), src.name))
    if isinstance(head, Add) and [c.name for c in graph.consumers(head.name)] != [neuron.name]:
        raise UnsupportedError("a summed synapse feeding several layers has no Xylo form",
                               layer=head.name)
    return found


def projection_weight(qg: QuantizedGraph, proj: Projection) -> np.ndarray:
    """The (targets, sources) integer weights of ``proj``: its weight layers summed."""
    return sum(np.asarray(qg.q(name).weight, I64) for name in proj.dense)


def state_limits(p: NumericProfile) -> tuple[int, int]:
    """The two's-complement range of a ``state_bits`` register: what every add saturates to."""
    half = 1 << (p.state_bits - 1)
    return -half, half - 1


def shift_decay(x: np.ndarray, dash: np.ndarray) -> np.ndarray:
    """``x >> dash``, or ``sign(x)`` where that is 0: the amount a state loses in one step."""
    d = x >> dash
    return np.where(d == 0, np.sign(x), d)


def accumulate(u: np.ndarray, counts: np.ndarray, weight: np.ndarray, lo: int,
               hi: int) -> np.ndarray:
    """``u`` plus each source's ``counts[:, j] * weight[:, j]``, saturating after every source.

    When no partial sum can leave ``[lo, hi]`` (``|u| + sum |n w| <= min(-lo, hi)``) the
    saturations change nothing and one product gives the same integers."""
    w_t = weight.T  # (sources, targets)
    reach = np.abs(u) + np.abs(counts) @ np.abs(w_t)
    if int(reach.max(initial=0)) <= min(-lo, hi):
        return u + counts @ w_t
    for j in range(w_t.shape[0]):
        u = np.clip(u + counts[:, j:j + 1] * w_t[j], lo, hi)
    return u


def neuron_update(u: np.ndarray, v: np.ndarray, dash_syn: np.ndarray, dash_mem: np.ndarray,
                  bias: np.ndarray | None, vth: np.ndarray, max_spikes: int, lo: int,
                  hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps 2-4 of the module docstring for ``u`` after this step's input; (counts, u, v)."""
    u = u - shift_decay(u, dash_syn)
    # -dec(v) is formed in the state register: -(-2^15) (v = -2^15 with dash_mem = 0) wraps
    # back to -2^15, so such a membrane stays at the bottom instead of leaking to 0
    leak = -shift_decay(v, dash_mem)
    leak = np.where(leak > hi, lo, leak)
    dv = np.clip(u + leak, lo, hi)
    if bias is not None:
        dv = np.clip(dv + bias, lo, hi)
    v = np.clip(v + dv, lo, hi)
    n = np.where(v >= vth, np.minimum(max_spikes, v // vth), 0)
    return n, u, v - n * vth


def run_bitshift(qg: QuantizedGraph, drive: np.ndarray, record: bool = True) -> Trace:
    """The trace of a bit-shift network on a float drive (steps, batch, inputs)."""
    graph, p = qg.graph, qg.profile
    pops = populations(graph)
    lo, hi = state_limits(p)
    x_int = qg.quantize_input(drive)
    steps, batch = drive.shape[:2]
    consts = {}
    for pop in pops:
        q = qg.q(pop.name)
        consts[pop.name] = (np.asarray(q.du, I64), np.asarray(q.dv, I64),
                            None if q.bias is None else np.asarray(q.bias, I64),
                            np.asarray(q.vth, I64))
    weights = {proj.dense: projection_weight(qg, proj) for pop in pops
               for proj in pop.projections}
    u = {pop.name: np.zeros((batch, pop.size), I64) for pop in pops}
    v = {pop.name: np.zeros((batch, pop.size), I64) for pop in pops}
    last = {pop.name: np.zeros((batch, pop.size), I64) for pop in pops}
    spikes = {pop.name: np.zeros((steps, batch, pop.size), I64) for pop in pops}
    volts = {pop.name: np.zeros((steps, batch, pop.size), I64) for pop in pops}
    for t in range(steps):
        now = {}
        for pop in pops:
            cur = u[pop.name]
            for proj in pop.projections:
                src = x_int[t] if isinstance(graph.layer(proj.source), Input) else last[proj.source]
                cur = accumulate(cur, src, weights[proj.dense], lo, hi)
            limit = p.readout_max_spikes if pop.readout else p.max_spikes
            now[pop.name], u[pop.name], v[pop.name] = neuron_update(
                cur, v[pop.name], *consts[pop.name], limit, lo, hi)
            spikes[pop.name][t] = now[pop.name]
            volts[pop.name][t] = v[pop.name]
        last = now
    return Trace(output=spikes[graph.output].reshape(steps, batch, *graph.shape(graph.output)),
                 spikes=spikes if record else {}, v=volts if record else {})


def layer_latencies(graph: Graph) -> dict[str, int]:
    """Per layer, the steps from an input to its first effect on the layer: inputs reach the
    first neurons in the same step, every hop from a neuron to the next takes one step."""
    depth: dict[str, int] = {}
    for lay in graph.layers:
        if isinstance(lay, Input):
            depth[lay.name] = 0
            continue
        best = 0
        for src in lay.inputs:
            if getattr(lay, "recurrent", False):
                continue
            hop = 1 if graph.layer(src).is_neuron and not lay.is_neuron else 0
            best = max(best, depth[src] + hop)
        depth[lay.name] = best
    return depth
