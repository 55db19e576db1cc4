"""Lower a :class:`QuantizedGraph` to a Loihi network: populations, synapses and links.

The integer reference (``snnc.reference.integer``) runs *synaptic stages*: all the linear layers
(Dense, Conv2d, sum/average pooling, Flatten, Reshape, Add) between the sources (the input and the
neuron layers) and the next neuron layer. With ``synapse_delay = 1`` a stage reads its sources one
step late, exactly like Lava's ``Dense``, which sends at step t what it accumulated at t-1. So
each stage becomes, per source, one integer matrix (the stage composed into a single linear map
from the layers' own sparse matrices, see ``snnc.backends.common.compose``) plus a constant
bias, and each matrix becomes one or two Lava ``Dense``/``Sparse`` processes:

- Lava's bit-accurate Dense drops the least significant weight bit of mixed-sign matrices. A
  weight ``w`` is therefore stored as ``2*w`` with ``weight_exp = -1``: the doubled weight has a
  zero LSB, and the accumulated sum is shifted right by one, which is exact because it is even.
- Weights that are multiples of ``2^k`` (the quantizer's per-layer weight exponent: 8-bit
  mantissas times ``2^k``) are stored as their mantissas with ``weight_exp = k - 1``.
- A composed weight that still needs more than 8 bits (a Dense after a sum pool, two Dense
  layers in a row) is split as ``w = lo + 128*hi`` into two synapse processes onto the same
  target (Lava sums every connection into an InPort), the high one with ``weight_exp`` 7 higher.

A neuron layer whose input is a source itself (no synapse in between) is read without delay in
the reference, and is connected port to port in Lava. Attention (two dynamic operands) has no
synapse form: its stage runs in a host-side Lava Python process (off-chip).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from snnc.backends.common.compose import compose
from snnc.errors import QuantizationError, UnsupportedError
from snnc.ir import layers as ir
from snnc.ir.names import identifiers
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.ir.stages import Stage, is_source, sends_binary, source_peak, stage_of
from snnc.reference.integer import bias_onsets

I64 = np.int64
PopKind = Literal["input", "lif", "lif_variant", "multilevel", "qnn", "attention", "max_pool",
                  "readout"]

DIGIT_MAX = 127          # one synapse process holds weights in [-127, 127] (stored doubled)
DIGIT_TYPE = np.int16    # holds a digit and its doubled stored form
HIGH_SHIFT = 7           # the second process of a wide weight carries the bits above DIGIT_MAX
SHIFT_MAX = 8            # weight_exp = shift - 1 <= 7 (Lava's Dense)
BIAS_MANT_MIN, BIAS_MANT_MAX = -4096, 4095   # Lava LIF bias_mant: signed 13 bits
BIAS_EXP_BASE = 6        # bias_mant << 6 lines the bias up with input << 6 (act_shift)
DU_MAX = DV_MAX = 4095   # 12-bit unsigned decays
VTH_MAX = (1 << 17) - 1  # 17-bit threshold mantissa
PAYLOAD_BITS = 24        # graded spike payload of Lava's fixed-point ports
U_HALF = 1 << 23         # u and v are 24-bit: u wraps beyond +-2^23
# Lava's stock LIF corrects u by 2^24 once: modular only while |u_decayed + (a << 6)| <= 3 * 2^23,
# which |a| <= 2^18 guarantees for any |u_decayed| <= 2^23.
LAVA_MODULAR_LIMIT = 1 << 18
# Generated names end in "_"; sanitized layer identifiers never do, so they cannot collide.
READOUT = "readout_"

_LINEAR = (ir.Dense, ir.Conv2d, ir.Pool2d, ir.Flatten, ir.Reshape, ir.Add)


@dataclass(frozen=True, eq=False)
class Population:
    """One Lava process holding a layer's neurons (per sample; the simulation tiles the batch).

    ``params`` holds scalars and per-neuron int64 arrays (see :func:`lower` for each kind);
    ``message_bits`` is 0 for binary spikes, else the graded payload width.
    """

    name: str
    layer: str
    kind: PopKind
    shape: tuple[int, ...]
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    message_bits: int = 0
    on_chip: bool = True
    offset: int = 0  # global Lava step of the layer's step 0 (mixed SNN/QNN schedule)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True, eq=False)
class Synapse:
    """One Lava Dense/Sparse process: per-sample integer weights in COO form.

    The current it delivers is ``(W @ s) << shift`` with ``W`` in [-127, 127]; Lava stores
    ``2*W`` with ``weight_exp = shift - 1`` (see the module docstring).
    """

    name: str
    source: str
    target: str
    shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shift: int
    message_bits: int

    @property
    def weight_exp(self) -> int:
        return self.shift - 1

    @property
    def count(self) -> int:
        return int(self.values.size)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, I64)
        out[self.rows, self.cols] = self.values
        return out


@dataclass(frozen=True)
class Link:
    """A direct port connection without delay: ``source.s_out -> target.<port>``."""

    source: str
    target: str
    port: str = "a_in"


@dataclass(frozen=True, eq=False)
class LoihiNet:
    """Everything the emitter, the resource check and the simulation need, in one place."""

    model: str
    populations: tuple[Population, ...]
    synapses: tuple[Synapse, ...]
    links: tuple[Link, ...]
    output: str                      # population whose values are the graph output
    output_layer: str
    input_scale: float
    input_max: int
    encoding: str
    timesteps: int
    run_steps: int = 0  # Lava steps one inference takes (more than T with QNN stages)

    def population(self, name: str) -> Population:
        for pop in self.populations:
            if pop.name == name:
                return pop
        raise KeyError(name)

    def incoming(self, name: str) -> list[Synapse]:
        return [s for s in self.synapses if s.target == name]

    def by_layer(self) -> dict[str, Population]:
        return {p.layer: p for p in self.populations if p.kind != "readout"}


# ---------------------------------------------------------------------------------------------
# What Loihi (via Lava) can run


def unsupported_reason(layer: ir.Layer, target: object = None) -> str | None:
    """Why ``layer`` cannot run on Loihi (any Loihi target), or None.

    Attention and input-aware multi-level thresholds do run, off-chip in host processes; a few
    graph-level restrictions (what feeds an attention layer, max pooling of anything but binary
    spikes) are only found by :func:`lower`.
    """
    del layer, target
    return None


def graph_reason(graph: ir.Graph, layer: ir.Layer) -> str | None:
    """Why ``layer`` cannot run on Loihi where it sits in ``graph``: a max pool of values that
    are neither binary spikes (the quantizer makes max pools of those OR neurons) nor a neuron
    layer's counts or levels (pooled by a host process)."""
    if (isinstance(layer, ir.Pool2d) and layer.pool == "max"
            and not sends_binary(graph, layer.inputs[0])
            and _pooled_source(graph, layer) is None):
        return _max_pool_reason(layer)
    return None


def _max_pool_reason(layer: ir.Pool2d) -> str:
    """Why a max pool cannot run: it pools a synaptic current or a real-valued input, which
    only exists inside a synapse (a maximum has no synapse form)."""
    return (f"max pooling runs on Loihi as an OR neuron on binary spikes or as a host process "
            f"on a neuron layer's spike counts, but its input '{layer.inputs[0]}' is a synaptic "
            f"current or a real-valued input; pool spikes, or use average or sum pooling")


def _pooled_source(graph: ir.Graph, pool: ir.Pool2d) -> str | None:
    """The neuron layer whose values a max pool reads through reshapes only (its spike counts
    or levels, which a host process can pool), or None."""
    name = pool.inputs[0]
    while isinstance(graph.layer(name), ir.Flatten | ir.Reshape):
        name = graph.layer(name).inputs[0]
    return name if graph.layer(name).is_neuron else None


def _check_layer(layer: ir.Layer, target: str) -> None:
    reason = unsupported_reason(layer, target)
    if reason:
        raise UnsupportedError(reason, layer.name, target)


# ---------------------------------------------------------------------------------------------
# Stages: the walk of snnc.ir.stages, stopped at attention layers and max pools (they run
# off-chip)


@dataclass(frozen=True)
class _Stage:
    """The frontier of a stage: where the walk back from its value stopped."""

    sources: tuple[str, ...]          # source layers (input / neurons), sorted
    attention: tuple[str, ...]        # host layers met on the way (attention, max pools), sorted


def _stops(layer: ir.Layer) -> bool:
    """Where a stage walk ends: sources, and the layers a host process computes (attention;
    max pools left after the OR-neuron rewrite, which pool more than binary spikes)."""
    return (is_source(layer) or isinstance(layer, ir.SpikingSelfAttention)
            or (isinstance(layer, ir.Pool2d) and layer.pool == "max"))


def _frontier(graph: ir.Graph, node: str, target: str) -> _Stage:
    if _stops(graph.layer(node)):
        stage = Stage(node, (), (node,))
    else:
        stage = stage_of(graph, node, stop=_stops)
    for name in stage.members:
        layer = graph.layer(name)
        _check_layer(layer, target)
        if not isinstance(layer, _LINEAR):  # pragma: no cover - every layer type is handled
            raise UnsupportedError(f"no Loihi mapping for {type(layer).__name__}", name, target)
        for src in layer.inputs:
            if getattr(layer, "recurrent", False) and not is_source(graph.layer(src)):
                raise UnsupportedError(
                    f"a recurrent synapse must read a neuron layer, not '{src}'",
                    layer.name, target)
    attention = [name for name in stage.sources if not is_source(graph.layer(name))]
    sources = [name for name in stage.sources if is_source(graph.layer(name))]
    return _Stage(tuple(sorted(sources)), tuple(sorted(attention)))


def _common_shift(values: np.ndarray, limit: int) -> int:
    """The largest ``t <= limit`` with every value a multiple of ``2^t``."""
    t = 0
    while t < limit and not np.any(values & ((1 << (t + 1)) - 1)):
        t += 1
    return t


def split_digits(values: np.ndarray, what: str, layer: str,
                 target: str) -> list[tuple[int, np.ndarray]]:
    """``values = sum (digit << shift)``, every digit in [-127, 127]: the weight exponent.

    A stage's weights are 8-bit mantissas times a shared power of two (the quantizer's per-layer
    weight exponent, or sums of such weights composed through pooling): the common power of two
    becomes the synapse's ``weight_exp``. What still needs more than 8 bits is split as
    ``lo + 2^h * hi`` over two synapse processes onto the same neurons, ``h`` =
    :data:`HIGH_SHIFT` where the shifts allow it, else the smallest ``h`` whose high digits fit
    (a layer widened to ``8 + e`` bits, :mod:`snnc.passes.widen`, composes to mantissas of
    ``8 + e`` bits at its low member's exponent: ``h = e``). Lava's ``weight_exp`` stops at 7,
    one of which the doubled storage uses, so shifts stop at :data:`SHIFT_MAX`.
    """
    if values.size == 0 or max(-int(values.min()), int(values.max())) <= DIGIT_MAX:
        return [(0, values)]
    values = np.asarray(values, I64)  # the digit arithmetic below is int64
    base = _common_shift(values, SHIFT_MAX)
    mant = values >> base
    if np.max(np.abs(mant)) <= DIGIT_MAX:
        return [(base, mant.astype(DIGIT_TYPE))]
    shift = _high_shift(int(np.max(np.abs(mant))), base)
    high = np.sign(mant) * (np.abs(mant) >> shift)
    low = mant - (high << shift)
    if np.max(np.abs(high)) > DIGIT_MAX or base + shift > SHIFT_MAX:
        worst = int(values.reshape(-1)[np.argmax(np.abs(values))])
        raise QuantizationError(
            f"layer '{layer}': composed {what} weight {worst} fits no Loihi weight exponent "
            f"(8-bit mantissas, weight_exp <= {SHIFT_MAX - 1}, at most two synapse processes) "
            f"on target '{target}'")
    return [(base, low.astype(DIGIT_TYPE)),
            (base + shift, high.astype(DIGIT_TYPE))]


def _high_shift(peak: int, base: int) -> int:
    """The shift of a wide weight's high digits: :data:`HIGH_SHIFT` (low digits of 7 bits)
    where ``base + HIGH_SHIFT`` is a weight exponent Lava has, else the smallest shift whose
    high digits hold ``peak`` (its low digits are then narrower)."""
    if base + HIGH_SHIFT <= SHIFT_MAX:
        return HIGH_SHIFT
    shift = 1
    while shift < HIGH_SHIFT and peak >> shift > DIGIT_MAX:
        shift += 1
    return shift


# ---------------------------------------------------------------------------------------------
# Populations


def _uniform(a: np.ndarray) -> bool:
    return bool(np.all(a == a.reshape(-1)[0])) if a.size else True


def _per_neuron(value: Any, shape: tuple[int, ...], default: int = 0) -> np.ndarray:
    if value is None:
        return np.full(math.prod(shape), default, I64)
    return np.broadcast_to(np.asarray(value, I64), shape).reshape(-1).copy()


def _bias_parts(total: np.ndarray, layer: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """``bias_mant << bias_exp == total << 6`` with bias_exp in {6, 7} (13-bit mantissa)."""
    exp = np.full(total.shape, BIAS_EXP_BASE, I64)
    mant = total.copy()
    wide = (total < BIAS_MANT_MIN) | (total > BIAS_MANT_MAX)
    halvable = wide & (total % 2 == 0)
    mant[halvable] //= 2
    exp[halvable] += 1
    bad = (mant < BIAS_MANT_MIN) | (mant > BIAS_MANT_MAX)
    if np.any(bad):
        worst = int(total[bad][np.argmax(np.abs(total[bad]))])
        raise QuantizationError(
            f"layer '{layer}': bias {worst} does not fit Loihi's 13-bit bias mantissa "
            f"[{BIAS_MANT_MIN}, {BIAS_MANT_MAX}] on target '{target}'")
    return mant, exp


def _check_range(name: str, values: np.ndarray, low: int, high: int, layer: str,
                 target: str) -> None:
    if values.size and (values.min() < low or values.max() > high):
        bad = int(values.min() if values.min() < low else values.max())
        raise QuantizationError(
            f"layer '{layer}': {name} = {bad} is outside Loihi's range [{low}, {high}] "
            f"on target '{target}'")


def _neuron_population(layer: ir.LIF | ir.CubaLIF, q: QuantLayer, ident: str,
                       shape: tuple[int, ...], stage_bias: np.ndarray,
                       bound: np.ndarray | None, target: str, gated: bool = False,
                       bias_on: int = 0, graded: int = 0,
                       exact_wrap: bool = False) -> Population:
    """A LIF/CubaLIF layer as Lava's LIF (stock, when it can) or the variant process model.

    Lava's LIF has one du/dv/vth per process, resets v to 0 when ``v > vth << 6``, at the same
    step. Anything else (per-neuron decays or thresholds, reset by subtraction or none, ``>=``,
    snnTorch's reset from the previous membrane, a constant synaptic current into a CUBA
    current) uses ``VariantLIF`` from ``snnc_processes.py``: Lava's own fixed-point dynamics
    with those choices made explicit. ``gated``: the layer starts after step 0 of the run (behind
    a QNN stage), which only the variant's ``start`` can wait for. ``bias_on``: the step from
    which its biases are added (``snnc.reference.integer.bias_onsets``); only the variant waits.
    ``graded`` > 0: a graded LIF sending spike counts up to ``graded`` as graded spikes (the
    variant's custom program). ``exact_wrap``: the layer's input may pass Lava's modular limit
    (it reads spike counts or a host process), so it runs as the variant, whose current wraps
    modulo 2^24 for any input.
    """
    du = _per_neuron(q.du, shape, DU_MAX) if isinstance(layer, ir.CubaLIF) else \
        np.full(math.prod(shape), DU_MAX, I64)
    dv = _per_neuron(q.dv, shape)
    vth = _per_neuron(q.vth, shape)
    _check_range("du", du, 0, DU_MAX, layer.name, target)
    _check_range("dv", dv, 0, DV_MAX, layer.name, target)
    _check_range("vth", vth, 0, VTH_MAX, layer.name, target)
    own_bias = _per_neuron(q.bias, shape)
    # A constant stage current b is a membrane bias when u has no memory (du = 4095) and
    # cannot wrap: then wrap((a + b) << 6) == (a << 6) + (b << 6). Otherwise it must enter u.
    current_bias = np.zeros_like(stage_bias)
    no_wrap = bound is not None and bool(np.all((bound + np.abs(stage_bias)) << 6 < U_HALF))
    if np.all(du == DU_MAX) and (no_wrap or not np.any(stage_bias)):
        total_bias = own_bias + stage_bias
    else:
        total_bias = own_bias
        current_bias = stage_bias
    mant, exp = _bias_parts(total_bias, layer.name, target)
    biased = bool(np.any(total_bias) or np.any(current_bias))
    if graded and int(vth.min(initial=1)) < 1:
        raise UnsupportedError("graded spikes need a threshold of at least 1", layer.name, target)
    stock = (not graded and not gated and not exact_wrap and not (bias_on and biased)
             and _uniform(du) and _uniform(dv) and _uniform(vth) and layer.reset == "zero"
             and layer.reset_timing == "same" and layer.compare == "gt"
             and not np.any(current_bias))
    if stock:
        params = {"du": int(du[0]), "dv": int(dv[0]), "vth": int(vth[0]), "bias_mant": mant,
                  "bias_exp": exp}
        return Population(ident, layer.name, "lif", shape, MappingProxyType(params))
    params = {"du": du, "dv": dv, "vth": vth, "bias_mant": mant, "bias_exp": exp,
              "current_bias": current_bias, "reset": layer.reset,
              "reset_timing": layer.reset_timing, "compare": layer.compare, "graded": graded,
              "bias_on": bias_on if biased else 0}
    return Population(ident, layer.name, "lif_variant", shape, MappingProxyType(params),
                      message_bits=_level_bits(graded) if graded else 0)


@dataclass(frozen=True)
class Schedule:
    """When each layer runs in one Lava run of ``run_steps`` steps (the mixed schedule of
    ``snnc.reference.mapped`` on Loihi's one-step synapses).

    ``offset[layer]``: for a stepping layer the global step of its step 0; for a QNN twin the
    step it computes its level in, after the last packet of its sources arrived; ``level[twin]``
    says whether it sends that level once as one graded spike (all its readers are twins) or its
    even spike train over the next T steps (an SNN stage reads it).
    """

    steps: int
    run_steps: int
    offset: Mapping[str, int]
    level: Mapping[str, bool]


def schedule(graph: ir.Graph, target: str) -> Schedule:
    twins = {lay.name for lay in graph.layers if "twin_of" in lay.attrs}
    steps = next((int(graph.layer(n).attrs["twin_timesteps"]) for n in twins), graph.timesteps)
    if not twins:
        return Schedule(steps, steps, {lay.name: 0 for lay in graph.layers},
                        MappingProxyType({}))
    heads = [lay.name for lay in graph.layers if lay.is_neuron]
    if not graph.layer(graph.output).is_neuron:
        heads.append(graph.output)
    sources = {h: stage_of(graph, h).sources for h in heads}
    readers: dict[str, list[str]] = {}
    for h, srcs in sources.items():
        for src in srcs:
            readers.setdefault(src, []).append(h)
    level = {t: all(r in twins for r in readers.get(t, [])) and bool(readers.get(t))
             for t in twins}
    offset: dict[str, int] = {graph.input.name: 0}
    for h in heads:
        srcs = sources[h]
        if h in twins:  # computes once the last packet of every source has arrived
            offset[h] = max((offset[s] + (1 if level.get(s) else steps) if s in twins
                             else offset[s] + steps) for s in srcs)
            continue
        starts = {offset[s] for s in srcs}
        if len(starts) > 1:
            raise UnsupportedError("reads stages that run at different times (a QNN stage and "
                                   "the steps before it); Loihi keeps no step history", h, target)
        offset[h] = starts.pop()
    for lay in graph.layers:  # members of a stage run with its head
        offset.setdefault(lay.name, 0)
    end = max(offset[h] + (1 if level.get(h) else steps) for h in heads)
    return Schedule(steps, end, MappingProxyType(offset), MappingProxyType(level))


def _twin_population(layer: ir.MultiLevelSpike, q: QuantLayer, ident: str, shape: tuple[int, ...],
                     stage_bias: np.ndarray, bound: np.ndarray | None,
                     plan: Schedule) -> Population:
    """A QNN twin: sums its input over the steps that feed it, computes its level in one step
    and sends it (graded payload) or its spike train. On a neurocore when the summed input fits
    the 24-bit current register and the level the payload; otherwise a host process."""
    total = None if bound is None else int(np.max(np.abs(stage_bias) + plan.steps * bound,
                                                  initial=0))
    bits = _level_bits(layer.levels)
    fits = total is not None and total < U_HALF and bits <= PAYLOAD_BITS
    why = ("" if fits else "the summed input over the run exceeds the 24-bit current register"
           if bits <= PAYLOAD_BITS else f"the level needs {bits} bits, more than the payload")
    params = {"levels": int(layer.levels), "vth": int(np.asarray(q.vth)),
              "bias": stage_bias.astype(I64), "compute": plan.offset[layer.name],
              "steps": plan.steps, "send_level": int(plan.level[layer.name]),
              "host_reason": why}
    return Population(ident, layer.name, "qnn", shape, MappingProxyType(params),
                      message_bits=bits, on_chip=fits)


def _graded_max(layer: ir.Layer, p: NumericProfile) -> int:
    """The largest spike count a graded LIF sends in one step (0: binary spikes)."""
    return p.max_spikes if isinstance(layer, ir.LIF) and layer.graded else 0


def _level_bits(levels: int) -> int:
    return max(1, int(levels).bit_length())


def _multilevel_population(layer: ir.MultiLevelSpike, q: QuantLayer, p: NumericProfile,
                           ident: str, shape: tuple[int, ...],
                           stage_bias: np.ndarray, bias_on: int = 0) -> Population:
    axis = None if layer.axis is None else layer.axis % len(shape)
    params = {"levels": int(layer.levels), "axis": -1 if axis is None else axis,
              "alpha_mant": int(q.alpha_mant or 0), "alpha_frac_bits": p.alpha_frac_bits,
              "vth": 0 if q.vth is None else int(np.asarray(q.vth)),
              "bias": stage_bias.astype(I64), "bias_on": bias_on}
    return Population(ident, layer.name, "multilevel", shape, MappingProxyType(params),
                      message_bits=_level_bits(layer.levels), on_chip=axis is None)


# ---------------------------------------------------------------------------------------------
# The whole network


@dataclass
class _Builder:
    graph: ir.Graph
    qg: QuantizedGraph
    target: str
    idents: dict[str, str]
    populations: dict[str, Population] = field(default_factory=dict)
    synapses: list[Synapse] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    counted: set[str] = field(default_factory=set)  # targets reading a neuron's counts/levels

    def message_bits(self, layer: str) -> int:
        return self.populations[self.idents[layer]].message_bits

    def peak(self, layer: str) -> int:
        """Largest |value| a source sends per step (a rate-coded input sends spikes)."""
        q = self.qg.layers.get(layer)
        return source_peak(self.graph.layer(layer), self.qg.profile, self.graph.encoding,
                           None if q is None else q.vth)

    def note_counts(self, source: str, target_pop: str) -> None:
        """Record that ``target_pop`` reads more than one unit a step from ``source``: a neuron
        layer's spike counts or levels, or a real-valued graph input. Their worst case is
        reached (a graded layer at its limit, an input at ``input_max``: widened inputs and
        full-scale weights take a stage past Lava's modular limit)."""
        layer = self.graph.layer(source)
        if (layer.is_neuron or isinstance(layer, ir.Input)) and self.peak(source) > 1:
            self.counted.add(target_pop)

    def stage(self, value_node: str, target_pop: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Wire the stage producing ``value_node`` into ``target_pop``.

        Returns the stage's constant bias and, per target neuron, the largest possible
        |input| of one step without that bias (None when a host process feeds it).
        """
        graph = self.graph
        value_layer = graph.layer(value_node)
        size = graph.size(value_node)
        if is_source(value_layer):
            self.note_counts(value_node, target_pop)
            self.links.append(Link(self.idents[value_node], target_pop))
            return np.zeros(size, I64), np.full(size, self.peak(value_node), I64)
        front = _frontier(graph, value_node, self.target)
        if front.attention and isinstance(graph.layer(front.attention[0]), ir.Pool2d):
            return self.max_pool_stage(value_node, front, target_pop), None
        if front.attention:
            return self.attention_stage(value_node, front, target_pop), None
        maps, bias = compose(self.qg, value_node, front.sources)
        bound = np.zeros(size, I64)
        for src in front.sources:
            self.note_counts(src, target_pop)
            mat = maps.pop(src)  # the synapses below keep its arrays, not copies
            bound += mat.abs_sums(axis=1) * self.peak(src)
            digits = split_digits(mat.vals, "synaptic", value_node, self.target)
            for shift, digit in digits:
                rows, cols = mat.rows, mat.cols
                if len(digits) > 1:  # a split digit may be zero where its weight is not
                    keep = digit != 0
                    rows, cols, digit = rows[keep], cols[keep], digit[keep]
                self.synapses.append(Synapse(
                    name=f"syn{len(self.synapses)}_",
                    source=self.idents[src], target=target_pop,
                    shape=(size, graph.size(src)), rows=rows, cols=cols,
                    values=digit, shift=shift, message_bits=self.message_bits(src)))
        return bias, bound

    def max_pool_stage(self, value_node: str, front: _Stage, target_pop: str) -> np.ndarray:
        """A stage through a max pool of a neuron layer's counts or levels: a host process pools
        the layer's values and applies the linear layers after the pool (a maximum has no
        synapse form), one step late like the synapse it replaces."""
        graph = self.graph
        pool_name = front.attention[0]
        pool = graph.layer(pool_name)
        assert isinstance(pool, ir.Pool2d)
        if len(front.attention) > 1 or front.sources:
            raise UnsupportedError(
                "a max pool of spike counts must reach the next neuron layer through linear "
                "layers only (one pool, no other sources); put a neuron layer in between",
                pool_name, self.target)
        source = _pooled_source(graph, pool)
        if source is None:
            raise UnsupportedError(_max_pool_reason(pool), pool_name, self.target)
        maps, bias = compose(self.qg, value_node, (pool_name,))
        post = maps[pool_name]
        ident = f"{self.idents[pool_name]}_host_{target_pop}"
        params = {"in_shape": tuple(graph.shape(pool.inputs[0])), "kernel": tuple(pool.kernel),
                  "stride": tuple(pool.stride), "padding": tuple(pool.padding),
                  "post_rows": post.rows, "post_cols": post.cols, "post_values": post.vals,
                  "post_shape": (graph.size(value_node), graph.size(pool_name)),
                  "post_bias": bias,
                  "bias_on": bias_onsets(graph, self.qg.profile)[value_node]}
        self.populations[ident] = Population(ident, pool_name, "max_pool",
                                             graph.shape(value_node), MappingProxyType(params),
                                             message_bits=PAYLOAD_BITS, on_chip=False)
        self.links.append(Link(self.idents[source], ident))
        self.links.append(Link(ident, target_pop))
        return np.zeros(graph.size(value_node), I64)

    def attention_stage(self, value_node: str, front: _Stage, target_pop: str) -> np.ndarray:
        graph = self.graph
        if len(front.attention) > 1 or front.sources:
            raise UnsupportedError(
                "an attention stage must reach the next neuron layer through linear layers "
                "only (one attention, no other sources); put a neuron layer in between",
                front.attention[0], self.target)
        attn_name = front.attention[0]
        attn = graph.layer(attn_name)
        assert isinstance(attn, ir.SpikingSelfAttention)
        for operand in attn.inputs:
            if not is_source(graph.layer(operand)):
                raise UnsupportedError(
                    f"attention operand '{operand}' must be a neuron layer (spikes) on Loihi",
                    attn_name, self.target)
        maps, bias = compose(self.qg, value_node, (attn_name,))
        rows, cols, vals = maps[attn_name].rows, maps[attn_name].cols, maps[attn_name].vals
        q = self.qg.layers[attn_name]
        length, dim = graph.shape(attn.inputs[0])
        ident = f"{self.idents[attn_name]}_host_"
        params = {"heads": int(attn.heads), "length": int(length), "dim": int(dim),
                  "mask": np.asarray(q.mask, I64), "mask_frac_bits": self.qg.profile.mask_frac_bits,
                  "post_rows": rows, "post_cols": cols, "post_values": vals,
                  "post_shape": (graph.size(value_node), graph.size(attn_name)),
                  "post_bias": bias,
                  "bias_on": bias_onsets(graph, self.qg.profile)[value_node]}
        self.populations[ident] = Population(ident, attn_name, "attention",
                                             graph.shape(value_node), MappingProxyType(params),
                                             message_bits=PAYLOAD_BITS, on_chip=False)
        for operand, port in zip(attn.inputs, ("q_in", "k_in", "v_in"), strict=True):
            self.links.append(Link(self.idents[operand], ident, port))
        self.links.append(Link(ident, target_pop))
        return np.zeros(graph.size(value_node), I64)


def lower(qg: QuantizedGraph, target: str = "loihi2") -> LoihiNet:
    """Map every layer of ``qg`` onto Lava processes; raise before anything is written.

    Population params by kind: ``lif`` {du, dv, vth (ints), bias_mant, bias_exp (arrays)};
    ``lif_variant`` adds per-neuron du/dv/vth, ``current_bias`` and the reset/compare/timing
    choices; ``multilevel`` {levels, axis (-1 = constant threshold), alpha_mant,
    alpha_frac_bits, vth, bias}; ``attention`` {heads, length, dim, mask, mask_frac_bits,
    post_* (the linear map after attention) }; ``max_pool`` {in_shape, kernel, stride, padding,
    post_*} (a host process pooling a neuron layer's counts); ``readout`` {bias}: the graph
    output when it is a synaptic value rather than spikes.
    """
    graph = qg.graph
    for layer in graph.layers:
        _check_layer(layer, target)
        reason = graph_reason(graph, layer)
        if reason:
            raise UnsupportedError(reason, layer.name, target)
    if qg.profile.synapse_delay != 1:
        raise UnsupportedError(
            f"Loihi synapses add exactly one step, the profile says {qg.profile.synapse_delay}",
            target=target)
    names = [lay.name for lay in graph.layers]
    idents = identifiers(names, prefix="p")
    b = _Builder(graph, qg, target, idents)
    first = graph.input
    graded_input = graph.encoding != "rate"
    b.populations[idents[first.name]] = Population(
        idents[first.name], first.name, "input", graph.shape(first.name),
        message_bits=qg.profile.input_bits if graded_input else 0, on_chip=False)
    neurons = [lay for lay in graph.layers if lay.is_neuron]
    # Populations first (a recurrent stage may read a later layer), then the stages.
    placeholders: dict[str, Population] = {}
    for lay in neurons:
        bits = (_level_bits(lay.levels) if isinstance(lay, ir.MultiLevelSpike)
                else _level_bits(_graded_max(lay, qg.profile)) if _graded_max(lay, qg.profile)
                else 0)
        placeholders[lay.name] = Population(idents[lay.name], lay.name, "lif",
                                            graph.shape(lay.name), message_bits=bits)
    b.populations.update({p.name: p for p in placeholders.values()})
    plan = schedule(graph, target)
    onset = bias_onsets(graph, qg.profile)
    for lay in neurons:
        ident = idents[lay.name]
        shape = graph.shape(lay.name)
        stage_bias, bound = b.stage(lay.inputs[0], ident)
        q = qg.layers.get(lay.name, QuantLayer())
        if "twin_of" in lay.attrs:
            assert isinstance(lay, ir.MultiLevelSpike)
            pop = _twin_population(lay, q, ident, shape, stage_bias, bound, plan)
        elif isinstance(lay, ir.LIF | ir.CubaLIF):
            worst = None if bound is None else int(np.max(bound + np.abs(stage_bias),
                                                           initial=0))
            pop = _neuron_population(lay, q, ident, shape, stage_bias, bound, target,
                                     gated=plan.offset[lay.name] > 0, bias_on=onset[lay.name],
                                     graded=_graded_max(lay, qg.profile),
                                     exact_wrap=worst is None or (
                                         ident in b.counted and worst > LAVA_MODULAR_LIMIT))
        else:
            assert isinstance(lay, ir.MultiLevelSpike)
            pop = _multilevel_population(lay, q, qg.profile, ident, shape, stage_bias,
                                         onset[lay.name])
        peak = None if bound is None else int(np.max(bound + np.abs(stage_bias), initial=0))
        b.populations[ident] = replace(pop, offset=plan.offset[lay.name], params=MappingProxyType(
            {**pop.params, "max_input": peak, "start": plan.offset[lay.name]}))
    out_layer = graph.layer(graph.output)
    if isinstance(out_layer, ir.Input):
        raise UnsupportedError("the graph output is its input; nothing runs on the chip",
                               graph.output, target)
    if out_layer.is_neuron:
        output = idents[graph.output]
    else:
        output = READOUT
        bias, _ = b.stage(graph.output, output)
        b.populations[output] = Population(output, graph.output, "readout",
                                           graph.shape(graph.output),
                                           MappingProxyType({"bias": bias,
                                                             "bias_on": onset[graph.output]}),
                                           on_chip=False,
                                           offset=plan.offset[graph.output])
    order = {lay.name: i for i, lay in enumerate(graph.layers)}
    pops = sorted(b.populations.values(),
                  key=lambda p: (order[p.layer], p.kind == "readout", p.name))
    return LoihiNet(
        model=graph.name, populations=tuple(pops), synapses=tuple(b.synapses),
        links=tuple(b.links), output=output, output_layer=graph.output,
        input_scale=float(qg.input_scale), input_max=qg.profile.input_max,
        encoding=graph.encoding, timesteps=plan.steps, run_steps=plan.run_steps)
