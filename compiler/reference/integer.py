"""The integer reference executor: fixed-point semantics of a :class:`QuantizedGraph`.

This is the specification every backend reproduces bit for bit. The arithmetic is int64 numpy
(:func:`run_stepwise`, the definition); the layerwise fast path
(:mod:`snnc.reference.layerwise`) computes the same integers in float32/float64 wherever a
bound proves every value an exactly represented integer. States are
wrapped or saturated to the profile's widths after every update. Per step, for a
neuron layer fed by the synaptic current ``a`` (integer, one stage = the weight layers between
two neuron layers):

- ``a`` is read from the sources' values ``synapse_delay`` steps ago (zero before that);
- every bias (of a weight layer, or a neuron's own) is added from its stage's latency step on
  (:func:`bias_onsets`), when the stage's input arrives, and is zero before;
- LIF: ``u = a << input_shift``; CubaLIF: ``u = ovf_u(decay(u, du + offset) + (a << input_shift))``
- ``v = ovf_v(decay(v, dv) + u + (bias << input_shift))``, ``decay(x, d) = rnd(x * (2^D - d), D)``
  where ``rnd`` is an arithmetic shift (``floor``) or a shift of the magnitude (``trunc``);
- spike ``s = v > (vth << threshold_shift)`` (``>=`` for ``compare="ge"``), reset as in the float
  model with ``theta = vth << threshold_shift``; a graded LIF sends the spike count
  ``s = clip(floor(v / theta), 0, max_spikes)`` and subtracts ``theta * s`` (:func:`graded_fire`);
- MultiLevelSpike: ``s = clip(floor(I/theta + 1/2), 0, D)`` with the exact rational
  ``theta = alpha_mant * sum|I| / (n * 2^alpha_frac_bits)`` (or ``theta = vth``);
- attention: ``out = (sum_m (Q K^T)[n,m] * mask[h,n,m] * V[m]) >> mask_frac_bits``.

Profiles with ``neuron_model = "bitshift"`` run :mod:`snnc.reference.bitshift` (Xylo's neuron),
and those with ``execution = "qnn"`` run every stage as its QNN twin (:mod:`.mapped`).
"""

from __future__ import annotations

import numpy as np

from snnc.errors import UnsupportedError
from snnc.ir import layers as ir
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.ir.stages import is_source, read_lag
from snnc.reference import kernels
from snnc.reference.simulate import Trace

I64 = np.int64


def round_shift(x: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """``x / 2^shift`` rounded toward -inf (``floor``) or toward zero (``trunc``)."""
    if rounding == "trunc":
        return np.sign(x) * (np.abs(x) >> shift)
    return x >> shift


def decay(x: np.ndarray, d: np.ndarray, bits: int, rounding: str) -> np.ndarray:
    return round_shift(x * ((1 << bits) - np.asarray(d, I64)), bits, rounding)


def overflow(x: np.ndarray, bits: int, mode: str) -> np.ndarray:
    """Saturate to ``±(2^(bits-1) - 1)`` or wrap into ``(-2^(bits-1), 2^(bits-1)]`` (Lava)."""
    half = 1 << (bits - 1)
    if mode == "saturate":  # minimum/maximum: np.clip's Python wrapper costs more per step
        return np.minimum(np.maximum(x, -(half - 1)), half - 1)
    # & (2^bits - 1) is % 2^bits for two's-complement int64, without a division per element
    return ((x - 1 + half) & ((1 << bits) - 1)) - half + 1


def fire(v: np.ndarray, theta: np.ndarray, compare: str) -> np.ndarray:
    return v >= theta if compare == "ge" else v > theta


def reset(v: np.ndarray, fired: np.ndarray, theta: np.ndarray, kind: str) -> np.ndarray:
    if kind == "zero":
        return np.where(fired, 0, v)
    if kind == "subtract":
        return v - theta * fired
    return v


def graded_fire(drive: np.ndarray, theta: np.ndarray,
                max_level: int) -> tuple[np.ndarray, np.ndarray]:
    """Graded spikes of a membrane ``drive`` (int64): the count ``clip(floor(drive / theta), 0,
    max_level)`` and the membrane less ``theta`` per spike; returns (counts, new v).

    The float model's count ``floor(v / theta)`` for ``v > 0`` has no bound, a target's spike
    message does (the profile's ``max_spikes``), so the count saturates there and the charge it
    could not send stays on the membrane, sent at the next steps, instead of being lost.
    ``theta >= 1`` (the quantizer gives graded layers at least one unit).
    """
    counts = np.minimum(np.maximum(drive // theta, 0), max_level)
    return counts, drive - theta * counts


def neuron_step(layer: ir.LIF | ir.CubaLIF, q: QuantLayer, p: NumericProfile, a: np.ndarray,
                u: np.ndarray, v: np.ndarray,
                biased: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One integer LIF/CubaLIF step; returns (spikes 0/1 or graded counts, new u, new v) as
    int64. ``biased``: whether the bias is on at this step (:func:`bias_onsets`)."""
    a = a << p.input_shift
    if isinstance(layer, ir.CubaLIF):
        du = np.asarray(q.du, I64) + p.current_decay_offset
        u = overflow(decay(u, du, p.decay_bits, p.rounding) + a, p.current_bits,
                     p.current_overflow)
    else:
        u = a
        if p.lif_current_register:
            u = overflow(u, p.current_bits, p.current_overflow)
    drive = decay(v, q.dv, p.decay_bits, p.rounding) + u
    if q.bias is not None and biased:
        drive = drive + (np.asarray(q.bias, I64) << p.input_shift)
    drive = overflow(drive, p.state_bits, p.voltage_overflow)
    theta = np.asarray(q.vth, I64) << p.threshold_shift
    if getattr(layer, "graded", False):
        counts, v = graded_fire(drive, theta, p.max_spikes)
        return counts, u, v
    if layer.reset_timing == "next":
        was = fire(v, theta, layer.compare)
        v = reset(drive, was, theta, layer.reset)
        fired = fire(v, theta, layer.compare)
    else:
        fired = fire(drive, theta, layer.compare)
        v = reset(drive, fired, theta, layer.reset)
    return fired.astype(I64), u, v


def multilevel_step(layer: ir.MultiLevelSpike, q: QuantLayer, p: NumericProfile,
                    current: np.ndarray) -> np.ndarray:
    """Integer IMLS levels, exact rational threshold (see module docstring)."""
    if layer.axis is None:
        num = np.full_like(current, 2 * int(np.asarray(q.vth)))
        top = 2 * current + num // 2
    else:
        axis = layer.axis if layer.axis < 0 else layer.axis + 1
        n = current.shape[axis]
        total = np.abs(current).sum(axis=axis, keepdims=True)
        theta_num = int(q.alpha_mant) * total  # theta = theta_num / (n * 2^k)
        scale = n * (1 << p.alpha_frac_bits)
        top = 2 * current * scale + theta_num
        num = np.broadcast_to(2 * theta_num, current.shape)
    safe = np.where(num > 0, num, 1)
    level = np.clip(np.floor_divide(top, safe), 0, layer.levels)
    return np.where(num > 0, level, 0).astype(I64)


def attention(layer: ir.SpikingSelfAttention, q: QuantLayer, p: NumericProfile,
              qs: np.ndarray, ks: np.ndarray, vs: np.ndarray) -> np.ndarray:
    b, length, d = qs.shape
    h = layer.heads
    split = (b, length, h, d // h)
    qh, kh, vh = (t.reshape(split).transpose(0, 2, 1, 3) for t in (qs, ks, vs))
    scores = np.matmul(qh, kh.transpose(0, 1, 3, 2)) * np.asarray(q.mask, I64)[None]
    out = np.matmul(scores, vh) >> p.mask_frac_bits
    return out.transpose(0, 2, 1, 3).reshape(b, length, d)


def synapse_value(layer: ir.Layer, q: QuantLayer, p: NumericProfile,
                  args: list[np.ndarray], biased: bool = True) -> np.ndarray:
    """A synaptic layer's integer value; ``biased``: whether its bias is on yet
    (:func:`bias_onsets`)."""
    bias = _i64(q.bias) if biased else None
    if isinstance(layer, ir.Dense):
        return kernels.dense(args[0], np.asarray(q.weight, I64), bias)
    if isinstance(layer, ir.Conv2d):
        return kernels.conv2d(args[0], np.asarray(q.weight, I64), bias, layer.stride,
                              layer.padding, layer.dilation, layer.groups)
    if isinstance(layer, ir.Pool2d):
        return kernels.pool2d(args[0], layer.pool, layer.kernel, layer.stride, layer.padding,
                              integer=True)
    if isinstance(layer, ir.Flatten):
        return args[0].reshape(args[0].shape[0], -1)
    if isinstance(layer, ir.Reshape):
        return args[0].reshape((args[0].shape[0], *layer.shape))
    if isinstance(layer, ir.Add):
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total
    if isinstance(layer, ir.SpikingSelfAttention):
        return attention(layer, q, p, *args)
    raise TypeError(f"no integer kernel for layer type {type(layer).__name__}")


def _i64(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a, I64)


def layer_latencies(graph: ir.Graph, profile: NumericProfile) -> dict[str, int]:
    """Per layer, the steps between an input and its first effect on that layer's values (the
    synaptic stages on the longest path times the target's delay): where the layer's trace
    starts to follow model step 0. Stateless targets have none; bit-shift targets their own
    rule (:func:`snnc.reference.bitshift.layer_latencies`)."""
    if profile.execution == "qnn":
        return dict.fromkeys((lay.name for lay in graph.layers), 0)
    if profile.neuron_model == "bitshift":
        from snnc.reference.bitshift import layer_latencies as bitshift_latencies

        return bitshift_latencies(graph)
    depth: dict[str, int] = {}
    for lay in graph.layers:
        if isinstance(lay, ir.Input):
            depth[lay.name] = 0
            continue
        best = 0
        for src in lay.inputs:
            if getattr(lay, "recurrent", False):
                continue
            best = max(best, depth[src] + read_lag(lay, graph.layer(src), profile))
        depth[lay.name] = best
    return depth


def bias_onsets(graph: ir.Graph, profile: NumericProfile) -> dict[str, int]:
    """Per layer, the first step at which its bias (a weight layer's, a neuron's own) is added:
    the latency of the neuron stage it belongs to, the step at which that stage's input first
    arrives. Before it the bias is zero.

    A float model's neuron sees its bias and its first input in the same step. On a target with
    synaptic delays the input of a stage ``lag`` steps deep arrives ``lag`` steps late; a bias
    on from step 0 would be integrated ``lag`` extra times before the first input (and, on a
    leak-free neuron, never leave the membrane). Switching it on with the input keeps the
    integer run the float run delayed by ``lag``. Every executor and backend reads this one
    function. Stateless and bit-shift targets (no model time) and graphs with QNN-mapped
    stages (run as scheduled, not in model time) keep every bias on from step 0.
    """
    names = [lay.name for lay in graph.layers]
    if (profile.execution == "qnn" or profile.neuron_model == "bitshift"
            or any("twin_of" in lay.attrs for lay in graph.layers)):
        return dict.fromkeys(names, 0)
    lat = layer_latencies(graph, profile)
    readers: dict[str, list[str]] = {}
    for lay in graph.layers:
        for src in lay.inputs:
            readers.setdefault(src, []).append(lay.name)
    onset: dict[str, int] = {}
    for lay in reversed(graph.layers):
        start = lat[lay.name]
        if not is_source(lay):  # a stage's layers feed its neuron at once: its onset is theirs
            start = max([start, *(onset[r] for r in readers.get(lay.name, []))])
        onset[lay.name] = start
    return onset


def latency(graph: ir.Graph, profile: NumericProfile) -> int:
    """Steps between an input and its first effect on the output (synaptic stages x delay)."""
    return layer_latencies(graph, profile)[graph.output]


def run_quantized(qg: QuantizedGraph, drive: np.ndarray, record: bool = True) -> Trace:
    """Run on a float drive (steps, batch, *input_shape); values in the trace are integers.

    Graphs without recurrent synapses run layer by layer over all steps at once
    (:func:`snnc.reference.layerwise.run_layerwise`), others step by step
    (:func:`run_stepwise`, the definition); both give the same trace, bit for bit. A graph with
    QNN-mapped stages runs the mixed schedule of :mod:`snnc.reference.mapped` (those stages once
    per inference).
    """
    if qg.profile.execution == "qnn":
        return _run_stateless(qg, drive)
    if any("twin_of" in lay.attrs for lay in qg.graph.layers):
        from snnc.reference.mapped import mapped_trace, run_mapped_quantized

        return mapped_trace(run_mapped_quantized(qg, drive))
    if qg.profile.neuron_model == "bitshift":
        from snnc.reference.bitshift import run_bitshift

        return run_bitshift(qg, drive, record)
    if any(getattr(lay, "recurrent", False) for lay in qg.graph.layers):
        return run_stepwise(qg, drive, record)
    from snnc.reference.layerwise import run_layerwise  # the fast path builds on this module

    return run_layerwise(qg, drive, record)


def _run_stateless(qg: QuantizedGraph, drive: np.ndarray) -> Trace:
    """A graph whose neuron stages are QNN twins (``execution = "qnn"``), run once per
    inference on the drive's counts: a trace of one step holding every layer's levels."""
    from snnc.reference.mapped import run_mapped_quantized

    if drive.shape[0] != qg.graph.timesteps:
        raise UnsupportedError(
            f"the QNN twins were built for T = {qg.graph.timesteps} steps; a run of "
            f"{drive.shape[0]} steps would give them other counts", target=qg.target)
    run = run_mapped_quantized(qg, drive)
    return Trace(output=run.output[None], spikes={k: c[None] for k, c in run.counts.items()})


def run_stepwise(qg: QuantizedGraph, drive: np.ndarray, record: bool = True) -> Trace:
    """The definition: every layer of the graph once per step, in layer order."""
    graph, p = qg.graph, qg.profile
    steps, batch = drive.shape[:2]
    x_int = qg.quantize_input(drive)
    values: dict[str, np.ndarray] = {}
    history: dict[str, list[np.ndarray]] = {}
    state_u: dict[str, np.ndarray] = {}
    state_v: dict[str, np.ndarray] = {}
    rec_s: dict[str, list[np.ndarray]] = {}
    rec_v: dict[str, list[np.ndarray]] = {}
    onset = bias_onsets(graph, p)
    outputs = []
    for lay in graph.layers:
        shape = (batch, *graph.shape(lay.name))
        if is_source(lay):
            history[lay.name] = []
        if isinstance(lay, ir.LIF | ir.CubaLIF):
            state_u[lay.name] = np.zeros(shape, I64)
            state_v[lay.name] = np.zeros(shape, I64)
            rec_v[lay.name] = []
        if lay.is_neuron:
            rec_s[lay.name] = []

    def seen(consumer: ir.Layer, src: str, t: int) -> np.ndarray:
        lag = read_lag(consumer, graph.layer(src), p)
        if lag == 0:
            return values[src]
        hist = history[src]
        if t - lag < 0:
            return np.zeros((batch, *graph.shape(src)), I64)
        return hist[t - lag]

    for t in range(steps):
        for lay in graph.layers:
            if isinstance(lay, ir.Input):
                out = x_int[t]
            else:
                args = [seen(lay, s, t) for s in lay.inputs]
                q = qg.layers.get(lay.name, QuantLayer())
                biased = t >= onset[lay.name]
                if isinstance(lay, ir.LIF | ir.CubaLIF):
                    out, state_u[lay.name], state_v[lay.name] = neuron_step(
                        lay, q, p, args[0], state_u[lay.name], state_v[lay.name], biased)
                elif isinstance(lay, ir.MultiLevelSpike):
                    out = multilevel_step(lay, q, p, args[0])
                else:
                    out = synapse_value(lay, q, p, args, biased)
            values[lay.name] = out
            if lay.name in history:
                history[lay.name].append(out)
            if record and lay.is_neuron:
                rec_s[lay.name].append(out)
                if lay.name in rec_v:
                    rec_v[lay.name].append(state_v[lay.name].copy())
        outputs.append(values[graph.output])
    return Trace(
        output=np.stack(outputs),
        spikes={k: np.stack(v) for k, v in rec_s.items()} if record else {},
        v={k: np.stack(v) for k, v in rec_v.items()} if record else {},
    )
