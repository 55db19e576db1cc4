"""The integer reference's fast path: :func:`run_layerwise`, the same trace as
:func:`snnc.reference.integer.run_stepwise` (the definition) for graphs without recurrent
synapses, computed one layer at a time over blocks of steps.

Synapses, multi-level spikes and attention run once per block with the steps folded into the
batch (one BLAS product instead of one per step); only neuron states step through time. Where a
bound proves every value an integer below 2^52, neurons run in float64 (or float32) instead of
int64, which numpy vectorises better; the bounds are checked, never assumed.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from snnc.ir import layers as ir
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.ir.stages import read_lag
from snnc.reference import kernels
from snnc.reference.blas import one_blas_thread
from snnc.reference.integer import (
    I64,
    bias_onsets,
    fire,
    graded_fire,
    multilevel_step,
    overflow,
    reset,
    round_shift,
    synapse_value,
)
from snnc.reference.simulate import Trace

F64 = np.float64
# Values per layer in one block of run_layerwise (a few hundred KB of int64 per array).
BLOCK_ELEMENTS = 1 << 16
# float64 holds every integer below 2^53; the float paths keep all values below half of that.
_FLOAT_EXACT = 1 << 52


def block_steps(graph: ir.Graph, batch: int) -> int:
    """Steps per block of :func:`run_layerwise`: about ``BLOCK_ELEMENTS`` values of the widest
    layer, so a block's arrays stay in cache while each large enough for one BLAS product."""
    widest = max(graph.size(lay.name) for lay in graph.layers) * max(batch, 1)
    return max(1, BLOCK_ELEMENTS // widest)


class _Block(NamedTuple):
    """A layer's values over a block of steps, (steps, batch, ...), and a bound on their
    magnitude (None: not known without looking at them).

    The values are integers in any of bool (spikes), int64, float32 or float64; a float array
    only ever holds integers below 2^52, so every conversion between them is exact, and the
    trace's int64 arrays receive them unchanged. Fast paths keep the values in the dtype the
    next layer computes in, instead of converting to int64 and back at every layer."""

    values: np.ndarray
    peak: int | None

    def bound(self) -> int:
        return _peak(self.values) if self.peak is None else self.peak


@dataclass
class _Run:
    """What :func:`run_layerwise`'s block loop reads (the graph's prepared constants) and
    fills (the trace arrays) or carries from block to block (delayed values, neuron states)."""

    qg: QuantizedGraph
    lags: dict[tuple[str, str], int]
    depth: dict[str, int]
    onset: dict[str, int]
    # per layer: its constants with the bias on (True) and, for a bias that starts later, off
    products: dict[tuple[str, bool], kernels.ExactDense]
    neurons: dict[tuple[str, bool], _NeuronConsts]
    full: dict[str, np.ndarray]
    volts: dict[str, np.ndarray]
    states: dict[str, tuple[np.ndarray, np.ndarray]]
    tails: dict[str, _Block] = field(default_factory=dict)


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
    lags = {(lay.name, src): read_lag(lay, graph.layer(src), p)
            for lay in graph.layers for src in lay.inputs}
    depth: dict[str, int] = {}
    for (_, src), lag in lags.items():
        depth[src] = max(depth.get(src, 0), lag)
    neurons = [lay.name for lay in graph.layers if lay.is_neuron]
    kept = {graph.output, *(neurons if record else ())}
    onset = bias_onsets(graph, p)
    phases = {(lay.name, on) for lay in graph.layers for on in (True, False)
              if on or onset[lay.name] > 0}
    run = _Run(
        qg, lags, {src: d for src, d in depth.items() if d > 0}, onset,
        products={(name, on): kernels.ExactDense(_layer(qg, lay).weight,
                                                 _layer(qg, lay).bias if on else None)
                  for lay in graph.layers if isinstance(lay, ir.Dense)
                  for name, on in phases if name == lay.name},
        neurons={(name, on): _neuron_consts(lay, _unbiased(_layer(qg, lay), on), p)
                 for lay in graph.layers if isinstance(lay, ir.LIF | ir.CubaLIF)
                 for name, on in phases if name == lay.name},
        full={name: np.empty((steps, batch, *graph.shape(name)), I64) for name in kept},
        volts={lay.name: np.empty((steps, batch, *graph.shape(lay.name)), I64)
               for lay in graph.layers if record and isinstance(lay, ir.LIF | ir.CubaLIF)},
        states={lay.name: (np.zeros((batch, *graph.shape(lay.name)), I64),
                           np.zeros((batch, *graph.shape(lay.name)), I64))
                for lay in graph.layers if isinstance(lay, ir.LIF | ir.CubaLIF)})
    with one_blas_thread():
        _run_blocks(run, drive, block or block_steps(graph, batch))
    return Trace(
        output=run.full[graph.output].copy() if graph.output in neurons
        else run.full[graph.output],
        spikes={k: run.full[k] for k in neurons} if record else {},
        v=run.volts,
    )


def _layer(qg: QuantizedGraph, lay: ir.Layer) -> QuantLayer:
    return qg.layers.get(lay.name, QuantLayer())


def _unbiased(q: QuantLayer, on: bool) -> QuantLayer:
    """``q`` as it acts before its bias onset (no bias) or after (``on``)."""
    return q if on or q.bias is None else replace(q, bias=None)


def _blocks(steps: int, block: int, onsets: set[int]) -> list[tuple[int, int]]:
    """Step ranges of at most ``block`` steps that no bias onset falls inside, so a layer's
    bias is on for all of a block's steps or for none."""
    cuts = sorted({0, steps, *(t for t in onsets if 0 < t < steps)})
    return [(t0, min(end, t0 + block)) for start, end in itertools.pairwise(cuts)
            for t0 in range(start, end, block)]


def _run_blocks(run: _Run, drive: np.ndarray, block: int) -> None:
    """The block loop of :func:`run_layerwise`, filling ``run.full`` and ``run.volts``. The
    input is quantized a block at a time, like everything else, so that it stays in cache."""
    graph = run.qg.graph
    steps = drive.shape[0]
    for t0, t1 in _blocks(steps, block, set(run.onset.values())):
        now: dict[str, _Block] = {}
        for lay in graph.layers:
            if isinstance(lay, ir.Input):
                out = _Block(run.qg.quantize_input(drive[t0:t1]), None)
            else:
                out = _block_values(run, lay, [_read(run, lay.name, s, now[s])
                                               for s in lay.inputs], t0)
            now[lay.name] = out
            if lay.name in run.full:
                np.copyto(run.full[lay.name][t0:t1], out.values, casting="unsafe")
        for src, d in run.depth.items():
            run.tails[src] = _keep_last(_tail(run, src, now[src]), now[src], d)


def _tail(run: _Run, src: str, now: _Block) -> _Block:
    """The last ``depth`` values of ``src`` before the block (zeros before step 0)."""
    if src not in run.tails:
        values = now.values
        return _Block(np.zeros((run.depth[src], *values.shape[1:]), values.dtype), 0)
    return run.tails[src]


def _read(run: _Run, consumer: str, src: str, now: _Block) -> _Block:
    """What ``consumer`` sees of ``src`` during a block whose values are ``now``: for a lag
    ``> 0``, the last ``lag`` values before the block, then the block's."""
    lag = run.lags[consumer, src]
    if not lag:
        return now
    tail = _tail(run, src, now)
    steps = now.values.shape[0]
    values = _join(tail.values[tail.values.shape[0] - lag:], now.values[:steps])[:steps]
    return _Block(values, _max_peak(tail.peak, now.peak))


def _keep_last(tail: _Block, now: _Block, depth: int) -> _Block:
    if now.values.shape[0] >= depth:
        return _Block(now.values[now.values.shape[0] - depth:].copy(), now.peak)
    return _Block(_join(tail.values, now.values)[-depth:], _max_peak(tail.peak, now.peak))


def _max_peak(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


def _join(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``np.concatenate`` of two integer-valued arrays, exact for any mix of dtypes: floats
    meet int64 in int64 (a float holds integers below 2^52), every other mix widens exactly."""
    kinds = {first.dtype.kind, second.dtype.kind}
    if "f" in kinds and kinds & {"i", "u"}:
        first, second = first.astype(I64, copy=False), second.astype(I64, copy=False)
    return np.concatenate((first, second))


def _as_int(block: _Block) -> np.ndarray:
    return block.values.astype(I64, copy=False)


def _block_values(run: _Run, lay: ir.Layer, args: list[_Block], t0: int) -> _Block:
    """One non-input layer's values over a block (steps, batch, ...); neuron states advance."""
    p = run.qg.profile
    on = t0 >= run.onset[lay.name]
    if isinstance(lay, ir.LIF | ir.CubaLIF):
        spikes, v_block, run.states[lay.name] = _neuron_history(
            lay, run.neurons[lay.name, on], p, args[0], *run.states[lay.name])
        if lay.name in run.volts:
            np.copyto(run.volts[lay.name][t0:t0 + v_block.shape[0]], v_block, casting="unsafe")
        return _Block(spikes, p.max_spikes if _graded(lay) else 1)
    if isinstance(lay, ir.Dense):
        return _Block(*run.products[lay.name, on].apply(args[0].values, args[0].peak))
    if isinstance(lay, ir.Flatten | ir.Reshape):  # a reshape keeps the values, dtype and bound
        out = synapse_value(lay, QuantLayer(), p, [_fold(args[0].values)])
        return _Block(out.reshape(*args[0].values.shape[:2], *out.shape[1:]), args[0].peak)
    q = _unbiased(_layer(run.qg, lay), on)
    folded = [_fold(_as_int(a)) for a in args]
    if isinstance(lay, ir.MultiLevelSpike):
        out, peak = multilevel_step(lay, q, p, folded[0]), lay.levels
    else:
        out, peak = synapse_value(lay, q, p, folded), None
    return _Block(out.reshape(*args[0].values.shape[:2], *out.shape[1:]), peak)


def _fold(x: np.ndarray) -> np.ndarray:
    """(steps, batch, ...) -> (steps * batch, ...): the steps of a block as more samples."""
    return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])


@dataclass(frozen=True)
class _NeuronConsts:
    """A LIF/CubaLIF layer's integer constants (int64): decay factors ``keep = 2^D - d``
    (``keep_u`` only for a CubaLIF), the shifted membrane bias, ``theta = vth <<
    threshold_shift``; and what :func:`_float_plan` bounds with."""

    cuba: bool
    keep_u: np.ndarray | None
    keep_v: np.ndarray
    bias: np.ndarray | None
    theta: np.ndarray
    decay_bits: int

    @functools.cached_property
    def peaks(self) -> tuple[int, int, int, int]:
        """``max |keep_u|``, ``max |keep_v|``, ``max |bias|``, ``max(0, -min theta)``."""
        return (_peak(self.keep_u), _peak(self.keep_v), _peak(self.bias),
                max(0, -int(self.theta.min())))

    @functools.cached_property
    def floats(self) -> _FloatConsts:
        """The constants as :func:`_float_history` uses them, made once per run: float64,
        0-d where uniform (broadcasting a row costs more than a scalar), the decay factors
        divided by 2^D (exact: a power of two)."""
        scale = 1.0 / (1 << self.decay_bits)
        keep_u = None if self.keep_u is None else _compact(self.keep_u * scale)
        keep_v = _compact(self.keep_v * scale)
        return _FloatConsts(
            keep_u, keep_v, _compact(self.theta.astype(F64)),
            None if self.bias is None or not self.cuba else _compact(self.bias.astype(F64)),
            keep_u is not None and not np.all(keep_u == 1), not np.all(keep_v == 1))


class _FloatConsts(NamedTuple):
    """:class:`_NeuronConsts` in float64; ``leak_u``/``leak_v``: whether a decay is more than
    the identity (keep = 2^D, an IF neuron: no product, no rounding)."""

    keep_u: np.ndarray | None
    keep_v: np.ndarray
    theta: np.ndarray
    bias: np.ndarray | None
    leak_u: bool
    leak_v: bool


def _neuron_consts(layer: ir.LIF | ir.CubaLIF, q: QuantLayer, p: NumericProfile) -> _NeuronConsts:
    cuba = isinstance(layer, ir.CubaLIF)
    keep_u = ((1 << p.decay_bits) - (np.asarray(q.du, I64) + p.current_decay_offset)
              if cuba else None)
    return _NeuronConsts(
        cuba, keep_u, (1 << p.decay_bits) - np.asarray(q.dv, I64),
        None if q.bias is None else np.asarray(q.bias, I64) << p.input_shift,
        np.asarray(q.vth, I64) << p.threshold_shift, p.decay_bits)


def _neuron_history(layer: ir.LIF | ir.CubaLIF, consts: _NeuronConsts, p: NumericProfile,
                    current: _Block, u: np.ndarray,
                    v: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Spikes (bool) and membranes (int64 or float64 integers) of every step for the input
    currents of every step, from the int64 state ``(u, v)``; and the final state.

    :func:`neuron_step`'s arithmetic with what does not depend on the state done once: the
    constants, and for a LIF the input shift, current register and bias of all steps at once
    (integer sums are associative, so adding the bias first changes nothing). The steps run in
    float64 when :func:`_float_plan` proves that exact (:func:`_float_history`), else in int64
    (:func:`_int_history`). A bound that asks for overflow handling is tightened by looking at
    the block's values first: most blocks then need none. Graded layers (spike counts, a
    division per step) run in int64.
    """
    if _graded(layer):
        return _int_history(layer, consts, p, _int_input(consts, p, _as_int(current)), u, v)
    steps = current.values.shape[0]
    peak = current.bound()
    plan = _float_plan(consts, p, layer.reset, peak, steps, u, v)
    if plan is not None and plan.overflows and current.peak is not None:
        seen = _peak(current.values)
        if seen < peak:
            plan = _float_plan(consts, p, layer.reset, seen, steps, u, v)
    if plan is None:
        return _int_history(layer, consts, p, _int_input(consts, p, _as_int(current)), u, v)
    return _float_history(layer, consts, p, plan, _float_input(consts, p, plan, current.values),
                          u, v)


def _int_input(consts: _NeuronConsts, p: NumericProfile, current: np.ndarray) -> np.ndarray:
    """What enters ``u`` at every step (int64): the shifted current, and for a LIF its
    current register and bias."""
    a = current << p.input_shift
    if consts.cuba:
        return a
    if p.lif_current_register:
        a = overflow(a, p.current_bits, p.current_overflow)
    return a if consts.bias is None else a + consts.bias


def _int_history(layer: ir.LIF | ir.CubaLIF, consts: _NeuronConsts, p: NumericProfile,
                 a: np.ndarray, u: np.ndarray,
                 v: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """:func:`_neuron_history` in int64, for values too wide for float64's exact integers."""
    keep_u, keep_v, theta = consts.keep_u, consts.keep_v, consts.theta
    graded = _graded(layer)
    spikes = np.empty(a.shape, I64 if graded else bool)
    volts = np.empty(a.shape, I64)
    for t in range(a.shape[0]):
        drive = round_shift(v * keep_v, p.decay_bits, p.rounding)
        if keep_u is not None:
            u = overflow(round_shift(u * keep_u, p.decay_bits, p.rounding) + a[t],
                         p.current_bits, p.current_overflow)
            drive += u
            if consts.bias is not None:
                drive += consts.bias
        else:
            drive += a[t]
        drive = overflow(drive, p.state_bits, p.voltage_overflow)
        if graded:
            fired, v = graded_fire(drive, theta, p.max_spikes)
        elif layer.reset_timing == "next":
            v = reset(drive, fire(v, theta, layer.compare), theta, layer.reset)
            fired = fire(v, theta, layer.compare)
        else:
            fired = fire(drive, theta, layer.compare)
            v = reset(drive, fired, theta, layer.reset)
        spikes[t] = fired
        volts[t] = v
    return spikes, volts, (u, v)


@dataclass(frozen=True)
class _FloatPlan:
    """Which overflows :func:`_float_history` applies: the LIF current register (on the
    input, before the steps), the CubaLIF current, the membrane. One is left out only when a
    bound proves that it cannot change a value during the block."""

    register: bool
    wrap_u: bool
    wrap_v: bool

    @property
    def overflows(self) -> bool:
        return self.register or self.wrap_u or self.wrap_v


def _peak(x: np.ndarray | None) -> int:
    """``max |x|`` as a Python integer (0 for None or an empty array)."""
    if x is None or x.size == 0:
        return 0
    return max(abs(int(x.max())), abs(int(x.min())))


def _decayed_bound(start: int, keep: int, push: int, steps: int, bits: int) -> int | None:
    """A bound on ``|x_t|`` over ``steps`` steps of ``x_t = rnd(x_{t-1} * k / 2^D) + e_t`` with
    ``|x_0| <= start``, ``|k| <= keep`` and ``|e_t| <= push``; None if it grows without one.

    ``|rnd(y)| <= |y| + 1`` for both roundings, so ``|x_t| <= |x_{t-1}| * K + c`` with
    ``K = keep / 2^D`` and ``c = push + 1``. For ``K < 1`` the bound ``M = c / (1 - K)`` is a
    fixed point (``M K + c = M``) that no step crosses upward, so ``max(start, M)`` bounds every
    ``x_t``; for ``K = 1`` (no decay, and no rounding either) it grows by ``push`` a step.
    """
    unity = 1 << bits
    if keep < unity:
        return max(start, -(-(push + 1) * unity // (unity - keep)))
    if keep == unity:
        return start + steps * push
    return None


def _graded(layer: ir.LIF | ir.CubaLIF) -> bool:
    return getattr(layer, "graded", False)


def _float_plan(consts: _NeuronConsts, p: NumericProfile, reset: str, peak: int, steps: int,
                u: np.ndarray, v: np.ndarray) -> _FloatPlan | None:
    """The overflows that float64 steps need for a block whose currents are at most ``peak``
    in magnitude, if float64 gives :func:`_int_history`'s results exactly; else None.

    float64 holds every integer below 2^53 exactly, and ``rnd(x * k / 2^D)`` computed as
    ``rnd(x * (k / 2^D))`` is exact while ``|x * k| < 2^53`` (``k / 2^D`` is exact, and the
    product needs no more bits than ``x * k``). Sums of integers below 2^53 are exact. So the
    float steps equal the int64 ones when every product and pre-overflow sum stays below 2^52
    (a factor 2 margin): bounded by the registers' widths after an overflow, by
    :func:`_decayed_bound` when no overflow can happen in the block. A subtractive reset with a
    negative threshold moves ``v`` by up to ``|theta|``, counted as part of ``v``'s input.
    """
    keep_u, keep_v, bias, theta_neg = consts.peaks
    unity, limit = 1 << p.decay_bits, _FLOAT_EXACT
    push = peak << p.input_shift
    register = wrap_u = False
    if push + bias >= limit or _peak(consts.theta) >= limit:
        return None
    if consts.cuba:
        half_u, start = 1 << (p.current_bits - 1), _peak(u)
        grown = _decayed_bound(start, keep_u, push, steps, p.decay_bits)
        wrap_u = grown is None or grown > half_u - 1
        peak_u = max(start, half_u) if wrap_u else grown
        if peak_u * max(keep_u, unity) + push >= limit:
            return None
        push = peak_u + bias
    else:
        if p.lif_current_register and push > (1 << (p.current_bits - 1)) - 1:
            register, push = True, 1 << (p.current_bits - 1)
        push += bias
    if reset == "subtract":
        push += theta_neg
    half_v, start = 1 << (p.state_bits - 1), _peak(v)
    grown = _decayed_bound(start, keep_v, push, steps, p.decay_bits)
    wrap_v = grown is None or grown > half_v - 1
    peak_v = max(start, half_v + push) if wrap_v else grown
    if peak_v * max(keep_v, unity) + push >= limit:
        return None
    return _FloatPlan(register, wrap_u, wrap_v)


def _float_input(consts: _NeuronConsts, p: NumericProfile, plan: _FloatPlan,
                 current: np.ndarray) -> np.ndarray:
    """:func:`_int_input` in float64, exact by :func:`_float_plan`'s bounds."""
    a = current.astype(F64)  # then scaled in place: a cast inside the multiply is slower
    if p.input_shift:
        a *= np.asarray(1 << p.input_shift, F64)
    if consts.cuba:
        return a
    if plan.register:
        _float_overflow(a, p.current_bits, p.current_overflow)
    if consts.bias is not None:
        a += consts.bias
    return a


def _float_overflow(x: np.ndarray, bits: int, mode: str) -> None:
    """:func:`overflow` in place on float64 integers (exact: every value stays an integer below
    2^53, and the float remainder by a power of two is exact)."""
    half = 1 << (bits - 1)
    if mode == "saturate":
        np.minimum(x, np.asarray(half - 1, F64), out=x)
        np.maximum(x, np.asarray(1 - half, F64), out=x)
        return
    x += np.asarray(half - 1, F64)
    np.remainder(x, np.asarray(2 * half, F64), out=x)
    x -= np.asarray(half - 1, F64)


def _float_history(layer: ir.LIF | ir.CubaLIF, consts: _NeuronConsts, p: NumericProfile,
                   plan: _FloatPlan, a: np.ndarray, u: np.ndarray,
                   v: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """:func:`_int_history` in float64 (exact by :func:`_float_plan`), each step a few ufuncs
    writing in place: the membrane of step ``t`` is computed in the output row ``t``, the
    comparison straight into its row of a (steps, ...) mask.

    Resets are arithmetic, not masked writes (whose branches mispredict on irregular
    spikes): a zero reset multiplies by the "not fired" mask, whose complement, taken once
    for the block, is the spikes; a subtractive one subtracts ``theta`` times the spikes. A
    reset at the next step uses the previous step's comparison: the same membrane against
    the same threshold.
    """
    keep_u, keep_v, theta, bias, leak_u, leak_v = consts.floats
    rnd = np.trunc if p.rounding == "trunc" else np.floor
    zero = layer.reset == "zero"
    # a zero reset keeps "not fired": v > theta fires, so v <= theta is kept (>= : v < theta)
    if layer.compare == "ge":
        compare = np.less if zero else np.greater_equal
    else:
        compare = np.less_equal if zero else np.greater
    masks = np.empty(a.shape, bool)
    volts = np.empty(a.shape, F64)
    spare = np.empty(a.shape[1:], F64)
    uf = u.astype(F64) if consts.cuba else u
    vf = v.astype(F64)
    later = layer.reset_timing == "next"
    before = compare(vf, theta) if later else None
    for x, at, mask in zip(volts, a, masks, strict=True):
        inflow = at
        if keep_u is not None:
            if leak_u:
                np.multiply(uf, keep_u, out=uf)
                rnd(uf, out=uf)
            uf += at
            if plan.wrap_u:
                _float_overflow(uf, p.current_bits, p.current_overflow)
            inflow = uf
        if leak_v:
            np.multiply(vf, keep_v, out=x)
            rnd(x, out=x)
            x += inflow
        else:
            np.add(vf, inflow, out=x)
        if bias is not None:
            x += bias
        if plan.wrap_v:
            _float_overflow(x, p.state_bits, p.voltage_overflow)
        if later:
            _float_reset(x, before, theta, layer.reset, spare)
            before = compare(x, theta, out=mask)
        else:
            _float_reset(x, compare(x, theta, out=mask), theta, layer.reset, spare)
        vf = x
    spikes = np.logical_not(masks, out=masks) if zero else masks
    return spikes, volts, (uf.astype(I64) if consts.cuba else u, vf.astype(I64))


def _compact(x: np.ndarray) -> np.ndarray:
    """A 0-d array for an array of equal values (the common per-layer constant)."""
    flat = x.reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        return np.asarray(flat[0])
    return x


def _float_reset(x: np.ndarray, mask: np.ndarray, theta: np.ndarray, kind: str,
                 spare: np.ndarray) -> None:
    """:func:`reset` in place; ``mask`` is "not fired" for a zero reset, else "fired"."""
    if kind == "zero":
        np.multiply(x, mask, out=x)
    elif kind == "subtract":
        x -= np.multiply(mask, theta, out=spare)
