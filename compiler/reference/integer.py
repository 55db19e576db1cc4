"""The integer reference executor: fixed-point semantics of a :class:`QuantizedGraph`.

This is the specification every backend reproduces bit for bit. All arithmetic is int64 numpy;
states are wrapped or saturated to the profile's widths after every update. Per step, for a
neuron layer fed by the synaptic current ``a`` (integer, one stage = the weight layers between
two neuron layers):

- ``a`` is read from the sources' values ``synapse_delay`` steps ago (zero before that);
- LIF: ``u = a << input_shift``; CubaLIF: ``u = ovf_u(decay(u, du + offset) + (a << input_shift))``
- ``v = ovf_v(decay(v, dv) + u + (bias << input_shift))``, ``decay(x, d) = rnd(x * (2^D - d), D)``
  where ``rnd`` is an arithmetic shift (``floor``) or a shift of the magnitude (``trunc``);
- spike ``s = v > (vth << threshold_shift)`` (``>=`` for ``compare="ge"``), reset as in the float
  model with ``theta = vth << threshold_shift``;
- MultiLevelSpike: ``s = clip(floor(I/theta + 1/2), 0, D)`` with the exact rational
  ``theta = alpha_mant * sum|I| / (n * 2^alpha_frac_bits)`` (or ``theta = vth``);
- attention: ``out = (sum_m (Q K^T)[n,m] * mask[h,n,m] * V[m]) >> mask_frac_bits``.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import numpy as np

from snnc.ir.layers import (
    LIF,
    Add,
    Conv2d,
    CubaLIF,
    Dense,
    Flatten,
    Graph,
    Input,
    Layer,
    MultiLevelSpike,
    Pool2d,
    Reshape,
    SpikingSelfAttention,
)
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.reference import kernels
from snnc.reference.encode import encode
from snnc.reference.simulate import Trace

I64 = np.int64
# Values per layer in one block of run_layerwise (a few hundred KB of int64 per array).
BLOCK_ELEMENTS = 1 << 16


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


def _fire(v: np.ndarray, theta: np.ndarray, compare: str) -> np.ndarray:
    return v >= theta if compare == "ge" else v > theta


def _reset(v: np.ndarray, fired: np.ndarray, theta: np.ndarray, kind: str) -> np.ndarray:
    if kind == "zero":
        return np.where(fired, 0, v)
    if kind == "subtract":
        return v - theta * fired
    return v


def neuron_step(layer: LIF | CubaLIF, q: QuantLayer, p: NumericProfile, a: np.ndarray,
                u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One integer LIF/CubaLIF step; returns (spikes 0/1, new u, new v) as int64."""
    a = a << p.input_shift
    if isinstance(layer, CubaLIF):
        du = np.asarray(q.du, I64) + p.current_decay_offset
        u = overflow(decay(u, du, p.decay_bits, p.rounding) + a, p.current_bits,
                     p.current_overflow)
    else:
        u = a
        if p.lif_current_register:
            u = overflow(u, p.current_bits, p.current_overflow)
    drive = decay(v, q.dv, p.decay_bits, p.rounding) + u
    if q.bias is not None:
        drive = drive + (np.asarray(q.bias, I64) << p.input_shift)
    drive = overflow(drive, p.state_bits, p.voltage_overflow)
    theta = np.asarray(q.vth, I64) << p.threshold_shift
    if layer.reset_timing == "next":
        was = _fire(v, theta, layer.compare)
        v = _reset(drive, was, theta, layer.reset)
        fired = _fire(v, theta, layer.compare)
    else:
        fired = _fire(drive, theta, layer.compare)
        v = _reset(drive, fired, theta, layer.reset)
    return fired.astype(I64), u, v


def multilevel_step(layer: MultiLevelSpike, q: QuantLayer, p: NumericProfile,
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


def attention(layer: SpikingSelfAttention, q: QuantLayer, p: NumericProfile,
              qs: np.ndarray, ks: np.ndarray, vs: np.ndarray) -> np.ndarray:
    b, length, d = qs.shape
    h = layer.heads
    split = (b, length, h, d // h)
    qh, kh, vh = (t.reshape(split).transpose(0, 2, 1, 3) for t in (qs, ks, vs))
    scores = np.matmul(qh, kh.transpose(0, 1, 3, 2)) * np.asarray(q.mask, I64)[None]
    out = np.matmul(scores, vh) >> p.mask_frac_bits
    return out.transpose(0, 2, 1, 3).reshape(b, length, d)


def _synapse(layer: Layer, q: QuantLayer, p: NumericProfile, args: list[np.ndarray]) -> np.ndarray:
    if isinstance(layer, Dense):
        return kernels.dense(args[0], np.asarray(q.weight, I64), _i64(q.bias))
    if isinstance(layer, Conv2d):
        return kernels.conv2d(args[0], np.asarray(q.weight, I64), _i64(q.bias), layer.stride,
                              layer.padding, layer.dilation, layer.groups)
    if isinstance(layer, Pool2d):
        return kernels.pool2d(args[0], layer.pool, layer.kernel, layer.stride, layer.padding,
                              integer=True)
    if isinstance(layer, Flatten):
        return args[0].reshape(args[0].shape[0], -1)
    if isinstance(layer, Reshape):
        return args[0].reshape((args[0].shape[0], *layer.shape))
    if isinstance(layer, Add):
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total
    if isinstance(layer, SpikingSelfAttention):
        return attention(layer, q, p, *args)
    raise TypeError(f"no integer kernel for layer type {type(layer).__name__}")


def _i64(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a, I64)


def _is_source(layer: Layer) -> bool:
    """Layers whose outputs travel through a synaptic stage (and its delay)."""
    return layer.is_neuron or isinstance(layer, Input)


def latency(graph: Graph, profile: NumericProfile) -> int:
    """Steps between an input and its first effect on the output (synaptic stages x delay)."""
    depth: dict[str, int] = {}
    for lay in graph.layers:
        if isinstance(lay, Input):
            depth[lay.name] = 0
            continue
        best = 0
        for src in lay.inputs:
            if getattr(lay, "recurrent", False):
                continue
            hop = profile.synapse_delay if (_is_source(graph.layer(src))
                                            and not lay.is_neuron) else 0
            best = max(best, depth[src] + hop)
        depth[lay.name] = best
    return depth[graph.output]


def run_quantized(qg: QuantizedGraph, drive: np.ndarray, record: bool = True) -> Trace:
    """Run on a float drive (steps, batch, *input_shape); values in the trace are integers.

    Graphs without recurrent synapses run layer by layer over all steps at once
    (:func:`run_layerwise`), others step by step (:func:`run_stepwise`, the definition); both
    give the same trace, bit for bit.
    """
    if any(getattr(lay, "recurrent", False) for lay in qg.graph.layers):
        return run_stepwise(qg, drive, record)
    return run_layerwise(qg, drive, record)


def _lag(graph: Graph, consumer: Layer, src: str, delay: int) -> int:
    """Steps between ``src``'s value and what ``consumer`` reads of it."""
    if getattr(consumer, "recurrent", False):
        return max(1, delay)
    return delay if _is_source(graph.layer(src)) and not consumer.is_neuron else 0


def _late(now: np.ndarray, tail: np.ndarray, lag: int) -> np.ndarray:
    """What a reader ``lag`` (> 0) steps late sees during a block whose values are ``now``: the
    last ``lag`` values before the block (``tail``, zeros before step 0), then the block's."""
    return np.concatenate((tail[tail.shape[0] - lag:], now))[:now.shape[0]]


def block_steps(graph: Graph, batch: int) -> int:
    """Steps per block of :func:`run_layerwise`: about ``BLOCK_ELEMENTS`` values of the widest
    layer, so a block's arrays stay in cache while each large enough for one BLAS product."""
    widest = max(graph.size(lay.name) for lay in graph.layers) * max(batch, 1)
    return max(1, BLOCK_ELEMENTS // widest)


def run_layerwise(qg: QuantizedGraph, drive: np.ndarray, record: bool = True,
                  block: int | None = None) -> Trace:
    """:func:`run_stepwise`'s trace for a graph without recurrent synapses, computed one layer
    at a time over a block of steps.

    Without a recurrent synapse no layer reads a later one, so a layer's values over a block of
    steps follow from its inputs' values over the block (and, for delayed reads, the last few
    values before it): synapses, multi-level spikes and attention (no state) run once on the
    block's steps folded into the batch (one BLAS product instead of one per step), and only
    the neuron states step through time, carried from block to block. ``block`` defaults to
    :func:`block_steps`.
    """
    graph, p = qg.graph, qg.profile
    if any(getattr(lay, "recurrent", False) for lay in graph.layers):
        raise ValueError("run_layerwise needs a graph without recurrent synapses")
    steps, batch = drive.shape[:2]
    block = block or block_steps(graph, batch)
    x_int = qg.quantize_input(drive)
    lags = {(lay.name, src): _lag(graph, lay, src, p.synapse_delay)
            for lay in graph.layers for src in lay.inputs}
    depth: dict[str, int] = {}
    for (_, src), lag in lags.items():
        depth[src] = max(depth.get(src, 0), lag)
    neurons = [lay.name for lay in graph.layers if lay.is_neuron]
    kept = {graph.output, *(neurons if record else ())}
    full = {name: np.empty((steps, batch, *graph.shape(name)), I64) for name in kept}
    volts = {lay.name: np.empty((steps, batch, *graph.shape(lay.name)), I64)
             for lay in graph.layers if record and isinstance(lay, LIF | CubaLIF)}
    tails = {src: np.zeros((d, batch, *graph.shape(src)), I64)
             for src, d in depth.items() if d > 0}
    states = {lay.name: tuple(np.zeros((batch, *graph.shape(lay.name)), I64) for _ in "uv")
              for lay in graph.layers if isinstance(lay, LIF | CubaLIF)}
    controller = _blas_controller()
    with (contextlib.nullcontext() if controller is None
          else controller.limit(limits=1, user_api="blas")):
        _run_blocks(qg, x_int, block, lags, depth, full, volts, tails, states)
    return Trace(
        output=full[graph.output].copy() if graph.output in neurons else full[graph.output],
        spikes={k: full[k] for k in neurons} if record else {},
        v=volts,
    )


@functools.cache
def _blas_controller() -> Any:
    """BLAS thread control for :func:`run_layerwise`, whose products are small (one block of
    steps each): a second BLAS thread gains little on idle cores, and on busy ones (other
    processes, pytest-xdist workers) every product waits for it, which doubled the run time
    in ``benchmarks/simulate.py``. The reference runs its products on one thread; without
    threadpoolctl (a scikit-learn dependency) they run as BLAS decides, with equal results."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - installed with the test and Lava dependencies
        return None
    return ThreadpoolController()


def _run_blocks(qg: QuantizedGraph, x_int: np.ndarray, block: int,
                lags: dict[tuple[str, str], int], depth: dict[str, int],
                full: dict[str, np.ndarray], volts: dict[str, np.ndarray],
                tails: dict[str, np.ndarray], states: dict[str, tuple[np.ndarray, ...]]) -> None:
    """The block loop of :func:`run_layerwise`, filling ``full`` and ``volts``."""
    graph = qg.graph
    steps = x_int.shape[0]
    for t0 in range(0, steps, block):
        t1 = min(steps, t0 + block)
        now: dict[str, np.ndarray] = {}
        for lay in graph.layers:
            if isinstance(lay, Input):
                now[lay.name] = x_int[t0:t1]
            else:
                args = [_late(now[s], tails[s], lags[lay.name, s]) if lags[lay.name, s]
                        else now[s] for s in lay.inputs]
                now[lay.name] = _block_values(lay, qg, args, states, volts, t0)
            if lay.name in full:
                full[lay.name][t0:t1] = now[lay.name]
        for src, tail in tails.items():
            tails[src] = np.concatenate((tail, now[src][-depth[src]:]))[-depth[src]:]


def _block_values(lay: Layer, qg: QuantizedGraph, args: list[np.ndarray],
                  states: dict[str, tuple[np.ndarray, ...]], volts: dict[str, np.ndarray],
                  t0: int) -> np.ndarray:
    """One non-input layer's values over a block (steps, batch, ...); neuron states advance."""
    q = qg.layers.get(lay.name, QuantLayer())
    if isinstance(lay, LIF | CubaLIF):
        spikes, v_block, states[lay.name] = _neuron_history(lay, q, qg.profile, args[0],
                                                            *states[lay.name])
        if lay.name in volts:
            volts[lay.name][t0:t0 + v_block.shape[0]] = v_block
        return spikes
    n, batch = args[0].shape[:2]
    folded = [a.reshape(n * batch, *a.shape[2:]) for a in args]
    if isinstance(lay, MultiLevelSpike):
        out = multilevel_step(lay, q, qg.profile, folded[0])
    else:
        out = _synapse(lay, q, qg.profile, folded)
    return out.reshape(n, batch, *out.shape[1:])


def _neuron_history(layer: LIF | CubaLIF, q: QuantLayer, p: NumericProfile,
                    current: np.ndarray, u: np.ndarray,
                    v: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Spikes and membranes of every step for the input currents of every step, from the
    state ``(u, v)``; returns them and the final state.

    :func:`neuron_step`'s arithmetic with what does not depend on the state done once: the
    constants, and for a LIF the input shift, current register and bias of all steps at once
    (integer sums are associative, so adding the bias first changes nothing).
    """
    a = current << p.input_shift
    cuba = isinstance(layer, CubaLIF)
    bias = None if q.bias is None else np.asarray(q.bias, I64) << p.input_shift
    if cuba:
        keep_u = (1 << p.decay_bits) - (np.asarray(q.du, I64) + p.current_decay_offset)
    else:
        if p.lif_current_register:
            a = overflow(a, p.current_bits, p.current_overflow)
        if bias is not None:
            a = a + bias
    keep_v = (1 << p.decay_bits) - np.asarray(q.dv, I64)
    theta = np.asarray(q.vth, I64) << p.threshold_shift
    spikes = np.empty(current.shape, bool)
    volts = np.empty(current.shape, I64)
    for t in range(current.shape[0]):
        drive = round_shift(v * keep_v, p.decay_bits, p.rounding)
        if cuba:
            u = overflow(round_shift(u * keep_u, p.decay_bits, p.rounding) + a[t],
                         p.current_bits, p.current_overflow)
            drive += u
            if bias is not None:
                drive += bias
        else:
            drive += a[t]
        drive = overflow(drive, p.state_bits, p.voltage_overflow)
        if layer.reset_timing == "next":
            v = _reset(drive, _fire(v, theta, layer.compare), theta, layer.reset)
            fired = _fire(v, theta, layer.compare)
        else:
            fired = _fire(drive, theta, layer.compare)
            v = _reset(drive, fired, theta, layer.reset)
        spikes[t] = fired
        volts[t] = v
    return spikes.astype(I64), volts, (u, v)


def run_stepwise(qg: QuantizedGraph, drive: np.ndarray, record: bool = True) -> Trace:
    """The definition: every layer of the graph once per step, in layer order."""
    graph, p = qg.graph, qg.profile
    steps, batch = drive.shape[:2]
    x_int = qg.quantize_input(drive)
    delay = p.synapse_delay
    values: dict[str, np.ndarray] = {}
    history: dict[str, list[np.ndarray]] = {}
    state_u: dict[str, np.ndarray] = {}
    state_v: dict[str, np.ndarray] = {}
    rec_s: dict[str, list[np.ndarray]] = {}
    rec_v: dict[str, list[np.ndarray]] = {}
    outputs = []
    for lay in graph.layers:
        shape = (batch, *graph.shape(lay.name))
        if _is_source(lay):
            history[lay.name] = []
        if isinstance(lay, LIF | CubaLIF):
            state_u[lay.name] = np.zeros(shape, I64)
            state_v[lay.name] = np.zeros(shape, I64)
            rec_v[lay.name] = []
        if lay.is_neuron:
            rec_s[lay.name] = []

    def seen(consumer: Layer, src: str, t: int) -> np.ndarray:
        src_layer = graph.layer(src)
        late = getattr(consumer, "recurrent", False)
        lag = max(1, delay) if late else (delay if _is_source(src_layer)
                                          and not consumer.is_neuron else 0)
        if lag == 0:
            return values[src]
        hist = history[src]
        if t - lag < 0:
            return np.zeros((batch, *graph.shape(src)), I64)
        return hist[t - lag]

    for t in range(steps):
        for lay in graph.layers:
            if isinstance(lay, Input):
                out = x_int[t]
            else:
                args = [seen(lay, s, t) for s in lay.inputs]
                q = qg.layers.get(lay.name, QuantLayer())
                if isinstance(lay, LIF | CubaLIF):
                    out, state_u[lay.name], state_v[lay.name] = neuron_step(
                        lay, q, p, args[0], state_u[lay.name], state_v[lay.name])
                elif isinstance(lay, MultiLevelSpike):
                    out = multilevel_step(lay, q, p, args[0])
                else:
                    out = _synapse(lay, q, p, args)
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


def simulate_quantized(qg: QuantizedGraph, x: np.ndarray, steps: int | None = None,
                       record: bool = True) -> Trace:
    steps = steps or qg.graph.timesteps
    drive = encode(x, steps, qg.graph.encoding, qg.graph.input.shape)
    return run_quantized(qg, drive, record=record)
