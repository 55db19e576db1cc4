"""Quantize a float layer view to a target's numeric profile.

Guarantees: every weight is a ``weight_bits`` mantissa (shifted left by the layer's
``weight_exp`` on profiles that have one), every threshold fits ``threshold_bits``, decays lie in
[0, 2^decay_bits]; the weight layers of one synaptic stage that meet in an ``Add`` share one
current unit, so their integer sums are exact. Spikes and spike levels have unit 1. The float and
integer runs agree up to rounding of parameters; :func:`agreement` measures by how much.

Must run after BatchNorm folding and pruning (they change the float weights it reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from snnc.errors import QuantizationError
from snnc.ir import layers as ir
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer, round_clip, storage_type
from snnc.ir.stages import source_peak
from snnc.passes.linear_chains import fuse_dense_chains
from snnc.passes.or_pooling import or_neurons
from snnc.passes.widen import split_wide

_PASS_THROUGH = (ir.Pool2d, ir.Flatten, ir.Reshape, ir.Add)
# Units a threshold should span before a weight exponent stops refining it.
THRESHOLD_LEVELS = 32
ROW_BLOCK = 1 << 20  # weights per float64 block when summing |weights| by row


def stage_neuron(graph: ir.Graph, name: str) -> ir.Layer | None:
    """The neuron layer that a synaptic value ends up driving (through pooling/reshapes/adds)."""
    for consumer in graph.consumers(name):
        if consumer.is_neuron:
            return consumer
        if isinstance(consumer, _PASS_THROUGH):
            found = stage_neuron(graph, consumer.name)
            if found is not None:
                return found
    return None


def _add_groups(graph: ir.Graph) -> dict[str, str]:
    """Map each weight layer to a representative: layers summed by one Add share a unit."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    def weight_roots(name: str) -> list[str]:
        lay = graph.layer(name)
        if isinstance(lay, ir.Dense | ir.Conv2d):
            return [name]
        if isinstance(lay, _PASS_THROUGH):
            return [r for s in lay.inputs for r in weight_roots(s)]
        return []

    for lay in graph.layers:
        if isinstance(lay, ir.Add):
            roots = weight_roots(lay.name)
            for other in roots[1:]:
                parent[find(other)] = find(roots[0])
    return {lay.name: find(lay.name) for lay in graph.layers
            if isinstance(lay, ir.Dense | ir.Conv2d)}


def _max_abs(a: np.ndarray | None) -> float:
    """Largest |value| (from the extremes: no |a| copy of a board-size weight matrix)."""
    if a is None or np.size(a) == 0:
        return 0.0
    return float(max(abs(np.max(a)), abs(np.min(a))))


def _threshold_of(neuron: ir.Layer | None) -> float:
    if isinstance(neuron, ir.LIF | ir.CubaLIF):
        return _max_abs(neuron.threshold)
    if isinstance(neuron, ir.MultiLevelSpike) and neuron.axis is None:
        return abs(neuron.theta or 0.0)
    return 0.0


def _decay_int(rate: np.ndarray, p: NumericProfile, offset: int = 0) -> np.ndarray:
    """A decay rate in [0, 1] as the integer ``d`` with ``(2^D - d - offset) / 2^D ~ 1 - rate``."""
    one = 1 << p.decay_bits
    d = np.rint(np.asarray(rate, np.float64) * one).astype(np.int64) - offset
    return np.clip(d, 0, one - offset)


# Fraction bits kept in an attention output (:func:`attention_fraction_bits`).
ATTENTION_FRACTION_BITS = 8


def _round_clip(x: np.ndarray | None, unit: float, bits: int) -> np.ndarray | None:
    return None if x is None else round_clip(x, unit, (1 << (bits - 1)) - 1)


def _weight_mantissas(weight: np.ndarray, unit: float, lim: int, shift: int) -> np.ndarray:
    """``round_clip(weight / unit, lim) << shift`` in its storage type (int16 for 8-bit weights:
    :func:`snnc.ir.quantized.storage_type`): the integer weights of a board-size network cost
    two bytes per synapse, not eight."""
    q = round_clip(weight, unit, lim, storage_type(lim << shift))
    if shift:
        np.left_shift(q, shift, out=q)
    return q


@dataclass(frozen=True)
class StageScale:
    """How one group of weight layers (those summed into one current) is scaled.

    ``coarsen``: the weight unit is ``coarsen`` times the smallest one that fits every weight
    into ``weight_bits`` (>= 1: fewer weight levels, a finer threshold relative to them);
    ``power_of_two``: then rounded up to a power of two (dyadic weights, as trained models
    often export, become exact integers);
    ``exponent``: the weight exponent ``k`` (integer weights are 8-bit mantissas times
    ``2^k``, so the current, threshold and bias have ``2^k`` times finer units than the
    weights; only on profiles with ``weight_exp_max > 0``), None for the range-based choice;
    ``widen``: ``e`` more mantissa bits for the group's weights (a ``2^e`` times finer unit),
    each member then running as two ``weight_bits`` members summed into the current
    (:mod:`snnc.passes.widen`; the high member's exponent ``k + e`` stays within
    ``weight_exp_max``, and ``e`` is lowered where the finer unit would overflow the
    threshold, bias or current registers).
    """

    coarsen: float = 1.0
    power_of_two: bool = False
    exponent: int | None = None
    widen: int = 0


@dataclass(frozen=True)
class QuantizeOptions:
    """``input_scale``: real value of one integer input unit; None picks 1 for spike inputs
    (rate encoding) and ``max|calib| / input_max`` (or ``1 / input_max``) for real inputs.
    ``stages``: a :class:`StageScale` per weight layer leading a group (the first weight layer
    of an ``Add`` group, in graph order; see :func:`stage_groups`); missing groups get the
    range-based choice. :mod:`snnc.passes.fidelity` chooses them on calibration data.
    ``input_bits``: the graph input's width, when wider than the profile's (at most its
    ``wide_input_bits``); the quantized graph's profile then carries it."""

    input_scale: float | None = None
    stages: Mapping[str, StageScale] = field(default_factory=dict)
    input_bits: int | None = None


def stage_groups(graph: ir.Graph) -> dict[str, list[str]]:
    """The weight layers of each current, keyed by the group's first weight layer."""
    groups = _add_groups(graph)
    out: dict[str, list[str]] = {}
    for name, root in groups.items():
        out.setdefault(root, []).append(name)
    return out


def _pool_gain(graph: ir.Graph, name: str) -> int:
    """How many times a constant (a bias) of ``name`` is summed on its way to the neuron:
    the window areas of the pools in between (an integer average pool sums)."""
    best = 1
    for consumer in graph.consumers(name):
        if isinstance(consumer, _PASS_THROUGH) and not consumer.is_neuron:
            area = (consumer.kernel[0] * consumer.kernel[1]
                    if isinstance(consumer, ir.Pool2d) else 1)
            best = max(best, area * _pool_gain(graph, consumer.name))
    return best


def _row_peak(layer: ir.Dense | ir.Conv2d) -> float:
    """Largest sum of |weights| into one output value."""
    w = np.asarray(layer.weight).reshape(layer.weight.shape[0], -1)
    peak = 0.0
    rows = max(1, ROW_BLOCK // max(1, w.shape[1]))
    for start in range(0, w.shape[0], rows):  # float64 |w| of a block of rows at a time
        block = np.abs(w[start:start + rows].astype(np.float64))
        peak = max(peak, float(block.sum(axis=1).max(initial=0.0)))
    return peak


@dataclass(frozen=True)
class _GroupScale:
    weight_unit: float      # real value of one unit of the weight mantissas, times unit_in
    exponent: int           # the current unit is weight_unit / 2^exponent
    widen: int = 0          # extra mantissa bits: weight_unit is 2^widen times finer

    @property
    def current_unit(self) -> float:
        return self.weight_unit / (1 << self.exponent)


def _group_scale(graph: ir.Graph, members: list[str], unit: dict[str, float], p: NumericProfile,
                 choice: StageScale | None) -> _GroupScale:
    """The weight unit and exponent of one group (see :class:`StageScale`).

    The range-based unit is the smallest that fits the weights into ``weight_bits``, the
    threshold into ``threshold_bits`` and the stage's biases (its own and the neuron's, summed
    over pooling windows) into ``bias_bits``. The weight exponent is the smallest ``k`` that
    gives the threshold :data:`THRESHOLD_LEVELS` units (a rounding error below 1.6 %) while the
    threshold and bias stay within their widths and the peak current within the current
    register; most layers need none (their threshold is many weight units), and a layer
    without one stays closest to what other tools (netx) can load.
    """
    layers = [graph.layer(m) for m in members]
    neuron = stage_neuron(graph, members[0])
    need = max(_max_abs(lay.weight) * unit.get(lay.inputs[0], 1.0) for lay in layers)
    theta = _threshold_of(neuron)
    vth_max = (1 << p.threshold_bits) - 1
    bias_max = (1 << (p.bias_bits - 1)) - 1
    own = (_max_abs(getattr(neuron, "bias", None)) if isinstance(neuron, ir.LIF | ir.CubaLIF)
           else 0.0)
    bias = own + sum(_max_abs(lay.bias) * _pool_gain(graph, lay.name) for lay in layers)
    s = max(need / p.weight_max, theta / vth_max, bias / bias_max)
    if p.neuron_model == "bitshift":
        s = max(s, _summed_need(graph, members, unit, p.weight_max))
    s = (s if s > 0 else 1.0) * (choice.coarsen if choice else 1.0)
    if choice is not None and choice.power_of_two:
        s = float(2.0 ** np.ceil(np.log2(s)))
    if p.weight_exp_max <= 0:
        return _GroupScale(s, 0)
    rows = [_row_peak(lay) * unit.get(lay.inputs[0], 1.0) for lay in layers]
    current_max = 1 << (p.current_bits - 1 - p.input_shift)

    def current(shift: int) -> float:  # worst-case current (real) at the unit s / 2^shift
        return bias + sum(row * _source_peak(graph, lay, p, unit, (neuron, s / 2 ** shift))
                          for row, lay in zip(rows, layers, strict=True))

    def fits(shift: int) -> bool:  # threshold, bias and current at the unit s / 2^shift
        return (theta * 2 ** shift / s <= vth_max and bias * 2 ** shift / s <= bias_max
                and current(shift) * 2 ** shift / s < current_max)

    widen = min(choice.widen if choice is not None else 0, p.weight_exp_max)
    while widen > 0 and not fits(widen):
        widen -= 1
    s /= 2 ** widen
    top = 0  # the largest exponent keeping threshold, bias and current within their registers
    while top < p.weight_exp_max - widen and fits(top + 1):
        top += 1
    if choice is not None and choice.exponent is not None:
        return _GroupScale(s, min(max(choice.exponent, 0), top), widen)
    k = 0
    while k < top and theta / s * 2 ** k < THRESHOLD_LEVELS:
        k += 1
    return _GroupScale(s, k, widen)


def _member_exponent(need: float, scale: _GroupScale, lim: int) -> int:
    """The weight exponent of one member of a group: the smallest (finest weights) that still
    holds its largest weight ``need`` (in current units times the input unit) in mantissas
    of at most ``lim``. Members summed into one current share its unit but not their exponents:
    a recurrent projection of spikes and a feed-forward one of an 8-bit input differ in
    magnitude by far more than 8 bits allow one grid to cover."""
    for k in range(scale.exponent + 1):
        if need <= lim * scale.current_unit * 2 ** k * (1 + 1e-9):
            return k
    return scale.exponent


def _source_peak(graph: ir.Graph, layer: ir.Layer, p: NumericProfile,
                 unit: Mapping[str, float] | None = None,
                 own: tuple[ir.Layer | None, float] | None = None) -> int:
    """Largest integer value the layer's input takes in one step: what its source sends (1 for
    spikes, up to ``max_spikes`` for graded counts, ``levels``, ``input_max``), through
    reshapes and max pools, times the window area of each sum or average pool (an integer
    average pool sums). A graded source's count is also bounded by its membrane register
    over its integer threshold (:func:`snnc.ir.stages.source_peak`), known from its input's
    unit: ``unit`` (the units chosen so far) or, for the neuron of the group being scaled
    (a recurrent projection of its own counts), ``own`` = (that neuron, the candidate unit)."""
    name, gain = layer.inputs[0], 1
    while isinstance(graph.layer(name), ir.Flatten | ir.Reshape | ir.Pool2d):
        pool = graph.layer(name)
        if isinstance(pool, ir.Pool2d) and pool.pool != "max":
            gain *= pool.kernel[0] * pool.kernel[1]
        name = pool.inputs[0]
    src = graph.layer(name)
    src_unit = None
    if isinstance(src, ir.LIF) and src.graded:
        if own is not None and own[0] is src:
            src_unit = own[1]
        elif unit is not None:
            src_unit = unit.get(src.inputs[0])
    return gain * source_peak(src, p, graph.encoding, _graded_vth(src, src_unit, p))


def _graded_vth(layer: ir.Layer, unit_in: float | None, p: NumericProfile) -> int | None:
    """The smallest integer threshold a graded LIF gets at the input unit ``unit_in`` (as
    :func:`_quantize_neuron` rounds it, at least one unit); None when the unit is unknown."""
    if unit_in is None or not isinstance(layer, ir.LIF):
        return None
    theta = float(np.min(np.asarray(layer.threshold, np.float64)))
    return max(1, min(int(np.rint(theta / unit_in)), (1 << p.threshold_bits) - 1))


def attention_fraction_bits(graph: ir.Graph, lay: ir.SpikingSelfAttention,
                            p: NumericProfile) -> int:
    """Fraction bits the attention output keeps below one unit of ``sum Q K^T mask V``.

    The output is ``(sum_m (Q K^T)[n,m] * mask[h,n,m] * V[m]) >> mask_frac_bits``: with a mask
    of ``mask_frac_bits`` fraction bits every output is floored to a whole unit of the
    unscaled sum, an error of up to one unit on values of a few tens (on the spikeformer's
    first block about 2 % of the current, and 1.7 % of the next layer's levels). Scaling the
    mask by ``2^k`` keeps ``k`` fraction bits in the output (its unit ``2^k`` times finer)
    with the same integer semantics on every backend. ``k`` is ``ATTENTION_FRACTION_BITS``,
    less where the mask would leave int32 or the worst-case output (every Q, K, V at its
    peak level) would leave 31 bits; inputs that are not spike layers keep ``k = 0``."""
    peaks = []
    for name in lay.inputs:
        src = graph.layer(name)
        if isinstance(src, ir.MultiLevelSpike):
            peaks.append(int(src.levels))
        elif isinstance(src, ir.LIF | ir.CubaLIF):
            peaks.append(1)
        else:
            return 0
    length, dim = graph.shape(lay.inputs[0])
    bound = length * (dim // lay.heads) * int(np.prod(peaks))  # sum Q K^T V, mask 1
    limit = (1 << 31) - 1
    k = ATTENTION_FRACTION_BITS
    while k > 0 and ((1 << (p.mask_frac_bits + k)) > limit or bound << k > limit):
        k -= 1
    return k


def choose_input_scale(graph: ir.Graph, p: NumericProfile, calib: np.ndarray | None) -> float:
    if graph.encoding == "rate":
        return 1.0
    peak = _max_abs(calib) if calib is not None else 1.0
    return (peak or 1.0) / p.input_max


def quantize(graph: ir.Graph, profile: NumericProfile, calib: np.ndarray | None = None,
             options: QuantizeOptions | None = None, target: str = "generic") -> QuantizedGraph:
    """Float layer view -> :class:`QuantizedGraph` for ``profile``.

    The quantized graph's view has chains of dense layers as one
    (:func:`snnc.passes.linear_chains.fuse_dense_chains`) and, with ``profile.max_pool_neuron``,
    max pools of spikes as OR neurons (:func:`snnc.passes.or_pooling.or_neurons`): what the
    integer reference and the backend then both run."""
    options = options or QuantizeOptions()
    p = profile
    if options.input_bits is not None and options.input_bits != p.input_bits:
        p = replace(p, input_bits=options.input_bits)
    graph = fuse_dense_chains(graph)
    if p.max_pool_neuron:
        graph = or_neurons(graph)
    in_scale = options.input_scale or choose_input_scale(graph, p, calib)
    groups = _add_groups(graph)
    members_of = stage_groups(graph)
    unit: dict[str, float] = {}
    group_scale: dict[str, _GroupScale] = {}
    out: dict[str, QuantLayer] = {}
    widened: dict[str, int] = {}
    for lay in graph.layers:
        if isinstance(lay, ir.Input):
            unit[lay.name] = in_scale
            out[lay.name] = QuantLayer(unit=in_scale)
        elif isinstance(lay, ir.Dense | ir.Conv2d):
            root = groups[lay.name]
            if root not in group_scale:
                group_scale[root] = _group_scale(graph, members_of[root], unit, p,
                                                 options.stages.get(root))
            scale = group_scale[root]
            s_out = scale.current_unit
            unit_in = unit.get(lay.inputs[0], 1.0)  # recurrent: a later neuron, unit 1
            lim = p.weight_max << scale.widen
            k = _member_exponent(_max_abs(lay.weight) * unit_in, scale, lim)
            weight = _weight_mantissas(lay.weight, s_out * 2 ** k / unit_in, lim, k)
            if scale.widen:
                widened[lay.name] = scale.widen
            out[lay.name] = QuantLayer(unit=s_out, weight=weight,
                                       bias=_round_clip(lay.bias, s_out, 32), weight_exp=k)
            unit[lay.name] = s_out
        elif isinstance(lay, ir.Pool2d):
            area = lay.kernel[0] * lay.kernel[1]
            unit[lay.name] = unit[lay.inputs[0]] / (area if lay.pool == "avg" else 1)
            out[lay.name] = QuantLayer(unit=unit[lay.name])
        elif isinstance(lay, ir.Flatten | ir.Reshape):
            unit[lay.name] = unit[lay.inputs[0]]
            out[lay.name] = QuantLayer(unit=unit[lay.name])
        elif isinstance(lay, ir.Add):
            units = {unit[s] for s in lay.inputs}
            if len(units) > 1 and not np.allclose(list(units), next(iter(units)), rtol=1e-9):
                raise QuantizationError(
                    f"layer '{lay.name}': Add of values in different fixed-point units "
                    f"({sorted(units)}); put weights on every branch")
            unit[lay.name] = unit[lay.inputs[0]]
            out[lay.name] = QuantLayer(unit=unit[lay.name])
        elif isinstance(lay, ir.LIF | ir.CubaLIF):
            out[lay.name] = _quantize_neuron(lay, unit[lay.inputs[0]], p)
            unit[lay.name] = 1.0
        elif isinstance(lay, ir.MultiLevelSpike):
            s_in = unit[lay.inputs[0]]
            out[lay.name] = QuantLayer(
                unit=1.0, alpha_mant=round(lay.alpha * (1 << p.alpha_frac_bits)),
                vth=None if lay.axis is not None else
                np.asarray(max(1, round((lay.theta or 1.0) / s_in)), np.int64))
            unit[lay.name] = 1.0
        elif isinstance(lay, ir.SpikingSelfAttention):
            length = graph.shape(lay.inputs[0])[0]
            k = attention_fraction_bits(graph, lay, p)
            mask = np.rint(lay.decay_mask(length).astype(np.float64)
                           * (1 << (p.mask_frac_bits + k)))
            s = float(np.prod([unit[x] for x in lay.inputs])) * lay.scale / 2 ** k
            out[lay.name] = QuantLayer(unit=s, mask=mask.astype(np.int64))
            unit[lay.name] = s
        else:  # pragma: no cover - every layer type is handled above
            raise QuantizationError(f"no quantization rule for {type(lay).__name__}")
    if p.neuron_model == "bitshift":
        out = _bitshift_neurons(graph, out, p)
    graph, out = split_wide(graph, out, widened)
    return QuantizedGraph(graph=graph, profile=p, layers=out, input_scale=in_scale,
                          target=target,
                          widened={name: p.weight_bits + e for name, e in widened.items()})


def _summed_need(graph: ir.Graph, members: list[str], unit: dict[str, float],
                 weight_max: int) -> float:
    """The smallest unit for which the weight layers of one ir.Add that read the same source
    still fit ``weight_max`` once summed (bit-shift targets hold one weight per pair of
    neurons). Each of ``k`` rounded terms may add 1/2, hence ``weight_max - k/2``."""
    by_source: dict[str, list[np.ndarray]] = {}
    for name in members:
        lay = graph.layer(name)
        by_source.setdefault(lay.inputs[0], []).append(np.asarray(lay.weight, np.float64))
    need = 0.0
    for source, weights in by_source.items():
        if len(weights) > 1:
            total = _max_abs(np.sum(weights, axis=0)) * unit.get(source, 1.0)
            need = max(need, total / (weight_max - len(weights) / 2))
    return need


def _dash(rate: np.ndarray, lowest: int) -> np.ndarray:
    """A decay rate in [0, 1] as the shift ``s`` whose rate ``2^-s`` is nearest in log scale,
    in ``[lowest, 15]`` (a rate of 0, no leak, becomes the slowest decay, 15)."""
    r = np.asarray(rate, np.float64)
    with np.errstate(divide="ignore"):
        s = np.where(r > 0, np.rint(-np.log2(np.where(r > 0, r, 1.0))), 15)
    return np.clip(s, lowest, 15).astype(np.int64)


def _bitshift_neurons(graph: ir.Graph, out: dict[str, QuantLayer],
                      p: NumericProfile) -> dict[str, QuantLayer]:
    """Scaled-decay integers -> bit-shift neuron integers (``snnc.reference.bitshift``).

    The current decays after the input is added, ``u = (u + a)(1 - r)`` with ``r = 2^-dash_syn``:
    a pulse ``a`` moves ``a (1 - r) / r`` into ``v`` over time, where the float ir.CubaLIF moves
    ``a / du`` (a ir.LIF: ``a``, and its current gets ``r = 1/2``, the fastest decay that still
    passes input). Thresholds and biases are scaled by the ratio so that ``v`` keeps its scale;
    a ir.Dense bias (a constant current) becomes the membrane bias of its steady state,
    ``b (1 - r) / r``. Thresholds stay in ``1..2^threshold_bits - 1`` (``v >= vth`` fires)."""
    result = dict(out)
    for lay in graph.layers:
        if not isinstance(lay, ir.LIF | ir.CubaLIF):
            continue
        q = out[lay.name]
        if isinstance(lay, ir.CubaLIF):
            float_rate = np.asarray(lay.current_decay, np.float64)
            dash_syn = _dash(float_rate, 1)
        else:
            float_rate = np.ones(())
            dash_syn = np.ones((), np.int64)
        beta_rate = (np.asarray(lay.voltage_decay, np.float64) if isinstance(lay, ir.CubaLIF)
                     else 1.0 - np.asarray(lay.beta, np.float64))
        r = np.ldexp(1.0, -dash_syn)
        transfer = (1.0 - r) / r
        scale = transfer * np.where(float_rate > 0, float_rate, r)
        vth_max = (1 << p.threshold_bits) - 1
        vth = np.clip(np.rint(np.asarray(q.vth, np.float64) * scale), 1, vth_max).astype(np.int64)
        bias = np.zeros(()) if q.bias is None else np.asarray(q.bias, np.float64) * scale
        steady = _dense_bias(graph, lay, out)
        if steady is not None:
            bias = bias + steady * transfer
            for name in _stage_dense(graph, lay):
                result[name] = QuantLayer(unit=out[name].unit, weight=out[name].weight)
        has_bias = q.bias is not None or steady is not None
        result[lay.name] = QuantLayer(
            unit=1.0, du=dash_syn, dv=_dash(beta_rate, 0), vth=vth,
            bias=np.clip(np.rint(bias), -(1 << 15), (1 << 15) - 1).astype(np.int64)
            if has_bias else None)
    return result


def _stage_dense(graph: ir.Graph, neuron: ir.Layer) -> list[str]:
    head = graph.layer(neuron.inputs[0])
    members = [graph.layer(s) for s in head.inputs] if isinstance(head, ir.Add) else [head]
    return [m.name for m in members if isinstance(m, ir.Dense)]


def _dense_bias(graph: ir.Graph, neuron: ir.Layer, out: dict[str, QuantLayer]) -> np.ndarray | None:
    """The summed integer biases of the ir.Dense layers feeding ``neuron`` (None: no bias)."""
    total = None
    for name in _stage_dense(graph, neuron):
        b = out[name].bias
        if b is not None:
            total = np.asarray(b, np.float64) if total is None else total + b
    return total


def _graded_threshold(lay: ir.LIF, vth: np.ndarray, p: NumericProfile) -> np.ndarray:
    """A graded layer's threshold: at least one unit (its spike count divides by it). A target
    whose neurons send one spike per step (``max_spikes`` 1) cannot send its counts."""
    if p.max_spikes < 2:
        raise QuantizationError(
            f"layer '{lay.name}': graded spikes (a spike count per step) need a target whose "
            f"neurons send counts; this one sends at most {p.max_spikes} (max_spikes)")
    return np.maximum(vth, 1)


def _quantize_neuron(lay: ir.LIF | ir.CubaLIF, s_in: float, p: NumericProfile) -> QuantLayer:
    vth_max = (1 << p.threshold_bits) - 1
    theta = np.asarray(lay.threshold, np.float64)
    if np.any(theta < 0):
        raise QuantizationError(f"layer '{lay.name}': negative threshold")
    vth = np.clip(np.rint(theta / s_in), 0, vth_max).astype(np.int64)
    bias = _round_clip(lay.bias, s_in, p.bias_bits)
    if isinstance(lay, ir.LIF) and lay.graded:
        vth = _graded_threshold(lay, vth, p)
    if isinstance(lay, ir.LIF):
        dv = _decay_int(1.0 - np.asarray(lay.beta, np.float64), p)
        return QuantLayer(unit=1.0, dv=dv, vth=vth, bias=bias)
    du = _decay_int(lay.current_decay, p, p.current_decay_offset)
    dv = _decay_int(lay.voltage_decay, p)
    return QuantLayer(unit=1.0, du=du, dv=dv, vth=vth, bias=bias)
