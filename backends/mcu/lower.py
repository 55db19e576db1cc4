"""Lower a :class:`QuantizedGraph` to a static C program: types, kernels, buffers, constants.

The lowering is where every number of the generated project is computed; the templates only lay
the result out. It guarantees bit-exactness with ``snnc.reference.integer`` by construction:

- **Range analysis** (:mod:`snnc.backends.mcu.ranges`): every tensor's C type holds every value
  and every partial sum the reference can produce.
- **Delays.** A value read ``lag > 0`` steps late (recurrent synapses, ``synapse_delay``) comes
  from a ring of the source's past outputs, written at the end of each step: exactly the
  reference's ``history[src][t - lag]`` with zeros before step ``lag``.
- **Kernels.** Synapses reading int8 spike tensors use the event-driven kernels (address-event
  list, then weight columns; dense or CSR columns), others the dense kernels. The choice honours
  the ``kernel`` / ``storage`` layer attributes of the optimisation passes where they apply.
  Weight layouts and kernel variants follow the core's kernel set (:mod:`.layouts`): SMLAD
  blocks of four rows on DSP cores, 16-bit event sums where the weights prove them exact.
- **Memory** (:mod:`snnc.backends.mcu.memory`): arena buffers packed by live ranges.
- **Mixed schedule.** QNN-mapped stages (``snnc.passes.snn_to_qnn``) follow
  ``snnc.reference.mapped``: the values they read are summed over the steps into static count
  buffers, they run once per inference in ``snnc_finish`` (the dense int8 kernel on the
  multi-bit counts), and SNN stages behind them run their steps there on the deterministic
  spread of the levels (:func:`snnc.reference.mapped.phases` gives every call its segment).

Anything the C runtime cannot reproduce exactly raises :class:`UnsupportedError` naming the layer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from snnc.backends.mcu.layouts import (
    CSR_WORD_PADDING,
    blocked4,
    dense_scratch_words,
    event16_scratch_words,
    partial_sums_fit_int16,
)
from snnc.backends.mcu.memory import plan_memory
from snnc.backends.mcu.program import (
    Arg,
    Buffer,
    Call,
    ConstArray,
    ConstStruct,
    LayerInfo,
    Probe,
    Program,
    Tensor,
    View,
    segment,
)
from snnc.backends.mcu.ranges import (
    I64_MAX,
    S8,
    S32,
    S64,
    U16,
    CType,
    Range,
    fit,
    linear_bounds,
    source_range,
    widest,
)
from snnc.errors import UnsupportedError
from snnc.ir import layers as ir
from snnc.ir.names import identifiers
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.ir.stages import is_source, read_lag
from snnc.reference.integer import bias_onsets
from snnc.reference.mapped import phases

EVENT_INDEX_LIMIT = 1 << 16  # event lists hold uint16 indices
MAX_STATE_BITS = 32


# Layer type -> the _Lowering method that emits its kernel calls.
_KERNELS: dict[type[ir.Layer], str] = {
    ir.Input: "input", ir.Dense: "dense", ir.Conv2d: "conv", ir.Pool2d: "pool",
    ir.Flatten: "view_as", ir.Reshape: "view_as", ir.Add: "add", ir.LIF: "neuron",
    ir.CubaLIF: "neuron", ir.MultiLevelSpike: "multilevel", ir.SpikingSelfAttention: "attention",
}


def unsupported_reason(layer: ir.Layer) -> str | None:
    """Why ``layer`` has no C kernel whatever its values, or None (refusals that depend on the
    quantized values are raised by :func:`lower`)."""
    if type(layer) not in _KERNELS:
        return f"no MCU kernel for layer type {type(layer).__name__}"
    if isinstance(layer, ir.Pool2d):
        top, left, bottom, right = layer.padding
        if max(top, bottom) >= layer.kernel[0] or max(left, right) >= layer.kernel[1]:
            return (f"padding {layer.padding} is not smaller than the window {layer.kernel}: "
                    "a window could hold only padding")
    if isinstance(layer, ir.MultiLevelSpike) and not 0 <= int(layer.levels) <= S32.hi:
        return f"levels = {int(layer.levels)} is out of range"
    return None


def _unsupported(layer: str, target: str, message: str) -> UnsupportedError:
    return UnsupportedError(message, layer=layer, target=target)



def _flat_param(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A neuron parameter as one value (scalar) or one per neuron (broadcast, row-major)."""
    arr = np.asarray(values, dtype=np.int64)
    if arr.size == 1:
        return arr.reshape(1)
    return np.broadcast_to(arr, shape).reshape(-1).copy()



def _event_values(x: Tensor) -> Arg:
    """The value pointer of an event kernel: NULL for binary spikes (no multiplications)."""
    return "NULL" if x.rng.lo >= 0 and x.rng.hi <= 1 else x.view


class _Lowering:
    """Walks the layers once, in order, appending calls and creating buffers."""

    def __init__(self, qg: QuantizedGraph, target: str, kernels: str) -> None:
        self.qg, self.graph, self.p, self.target = qg, qg.graph, qg.profile, target
        self.kernels = kernels
        self.ids = identifiers([lay.name for lay in self.graph.layers])
        self.values: dict[str, Tensor] = {}
        self.rings: dict[str, Buffer] = {}
        self.events: dict[tuple[int, int], tuple[str, View]] = {}
        self.calls: list[Call] = []
        self.arrays: list[ConstArray] = []
        self.structs: list[ConstStruct] = []
        self.buffers: list[Buffer] = []
        self.layers: list[LayerInfo] = []
        self.when = phases(self.graph)
        self.segment = 0
        self.counts: dict[str, Tensor] = {}
        self.spreads: dict[tuple[str, int], Tensor] = {}
        self.mixed = any(once for _, once in self.when.values())
        self.steps = next((int(lay.attrs["twin_timesteps"]) for lay in self.graph.layers
                           if "twin_timesteps" in lay.attrs), self.graph.timesteps)
        # steps from which each layer's biases are added (snnc.reference.integer.bias_onsets);
        # model.c counts steps up to the latest onset of a layer that has a bias
        self.onset = bias_onsets(self.graph, self.p)
        self.bias_wait = 0
        self._check_profile()
        self._make_rings()
        if self.mixed and self.rings:
            raise _unsupported(self.graph.name, target, "QNN-mapped stages with delayed reads "
                               "(synapse_delay > 0 or recurrence): the MCU runs them only "
                               "without delay lines")

    # ----------------------------------------------------------------- helpers
    def fail(self, layer: str, message: str) -> UnsupportedError:
        return _unsupported(layer, self.target, message)

    def _check_profile(self) -> None:
        p = self.p
        for name, bits in (("state_bits", p.state_bits), ("current_bits", p.current_bits)):
            if not 2 <= bits <= MAX_STATE_BITS:
                raise _unsupported(self.graph.name, self.target,
                                   f"{name} = {bits}; the C runtime keeps states in at most "
                                   f"{MAX_STATE_BITS} bits")
        if not 1 <= p.input_bits <= 32:
            raise _unsupported(self.graph.name, self.target,
                               f"input_bits = {p.input_bits}; choose 1..32")

    def _make_rings(self) -> None:
        depth: dict[str, int] = {}
        for lay in self.graph.layers:
            for src in lay.inputs:
                lag = read_lag(lay, self.graph.layer(src), self.p)
                if lag == 0:
                    continue
                if not is_source(self.graph.layer(src)):
                    raise self.fail(lay.name, f"reads '{src}' one step late, but only neuron "
                                    "layers and the input can be read late")
                depth[src] = max(depth.get(src, 0), lag)
        for src in sorted(depth, key=lambda s: [x.name for x in self.graph.layers].index(s)):
            lay = self.graph.layer(src)
            ct = fit(source_range(lay, self.p))
            if ct is None:  # pragma: no cover - source ranges always fit int64
                raise self.fail(src, "value range does not fit int64")
            buf = Buffer(f"snnc_ring_{self.ids[src]}", ct, self.graph.size(src), "ring",
                         depth=depth[src])
            self.rings[src] = buf
            self.buffers.append(buf)

    def arena(self, key: str, ct: CType, size: int, keep: bool = False) -> Buffer:
        buf = Buffer(key, ct, size, "arena", keep=keep)
        self.buffers.append(buf)
        return buf

    def state(self, key: str, ct: CType, size: int) -> Buffer:
        buf = Buffer(key, ct, size, "state")
        self.buffers.append(buf)
        return buf

    def const(self, name: str, ct: CType, values: np.ndarray, word_aligned: bool = False) -> str:
        flat = np.asarray(values, np.int64).reshape(-1)
        if flat.size == 0:  # C has no zero-length arrays; nothing ever reads this element
            flat = np.zeros(1, np.int64)
        if flat.min() < ct.lo or flat.max() > ct.hi:
            raise ValueError(f"{name}: values outside {ct.c}")  # guarded by the callers
        self.arrays.append(ConstArray(name, ct, flat, word_aligned))
        return name

    def struct(self, name: str, ctype: str, fields: list[tuple[str, Any]]) -> str:
        self.structs.append(ConstStruct(name, ctype, tuple((k, str(v)) for k, v in fields)))
        return f"&{name}"

    def call(self, layer: str, fn: str, *args: Arg, result: str | None = None,
             at: int | None = None) -> None:
        seg = self.segment if at is None else at
        self.calls.append(Call(self.ids[layer], fn, tuple(args), result, seg))

    def count_of(self, consumer: ir.Layer, src: str) -> Tensor:
        """``src``'s value summed over its phase's steps (a static buffer, cleared by
        snnc_init, added to right after ``src`` is computed every step)."""
        if src not in self.counts:
            x = self.values[src]
            lo, hi = x.rng.lo, x.rng.hi
            if isinstance(self.graph.layer(src), ir.Input) and self.graph.encoding == "rate":
                lo, hi = 0, 1  # the rate code's contract (model.h): 0/1 spikes
            rng = Range(self.steps * min(lo, 0), self.steps * max(hi, 0))
            ct = widest(self.out_type(consumer.name, rng, S8), x.ctype)
            acc = self.state(f"snnc_count_{self.ids[src]}", ct, x.size)
            self.call(src, f"snnc_add_{x.ctype.suffix}_{ct.suffix}", x.view, View(acc),
                      str(x.size), at=segment(self.when[src][0], False))
            self.counts[src] = Tensor(View(acc), x.shape, rng, spiking=False)
        return self.counts[src]

    def spread_of(self, consumer: ir.Layer, src: str) -> Tensor:
        """A count read as steps: this step's share of it, ``t`` being the phase's step."""
        key = (src, self.when[consumer.name][0])
        if key not in self.spreads:
            c = self.values[src]
            # read at every step of a later phase: it must outlive the whole loop, not just
            # the first spread call the live ranges see
            c.view.buffer.keep = True
            if self.p.synapse_delay and not consumer.is_neuron:
                raise self.fail(consumer.name, "reads a QNN stage late (synapse_delay > 0)")
            out = self.arena(f"{self.ids[src]}_steps", c.ctype, c.size)
            self.call(src, f"snnc_spread_{c.ctype.suffix}_{c.ctype.suffix}", c.view, View(out),
                      str(c.size), "t", str(self.steps))
            top = -(-max(c.rng.hi, 0) // self.steps)
            low = -(-max(-c.rng.lo, 0) // self.steps)
            self.spreads[key] = Tensor(View(out), c.shape, Range(-low, top), c.spiking)
        return self.spreads[key]

    def read(self, consumer: ir.Layer, src: str) -> Tensor:
        if self.mixed:
            reader_once, src_once = self.when[consumer.name][1], self.when[src][1]
            if reader_once and not src_once:
                return self.count_of(consumer, src)
            if src_once and not reader_once:
                return self.spread_of(consumer, src)
            if self.when[src][0] < self.when[consumer.name][0]:
                raise self.fail(consumer.name, f"reads the steps of '{src}', which ran before "
                                "a QNN stage it also waits for; the MCU keeps no step history")
        source = self.graph.layer(src)
        lag = read_lag(consumer, source, self.p)
        if lag == 0:
            return self.values[src]
        ring = self.rings[src]
        spiking = source.is_neuron or self.graph.encoding == "rate"
        return Tensor(View(ring, lag), self.graph.shape(src), source_range(source, self.p),
                      spiking)

    def event_list(self, layer: str, x: Tensor) -> tuple[str, View]:
        """The address-event list of ``x`` this step (computed once, shared by consumers)."""
        key = (id(x.view.buffer), x.view.lag)
        if key not in self.events:
            idx = self.arena(f"events_{len(self.events)}", U16, x.size)
            count = f"snnc_ev_{len(self.events)}"
            self.call(layer, "snnc_events_s8", x.view, str(x.size), View(idx),
                      result=f"const int32_t {count}")
            self.events[key] = (count, View(idx))
        return self.events[key]

    def weights_int8(self, layer: str, q: QuantLayer) -> tuple[np.ndarray, int]:
        """The int8 weight mantissas and the layer's weight exponent ``k`` (weights are
        ``mantissa << k``; the kernel runs on the mantissas, :meth:`scale` shifts the sums)."""
        k = int(q.weight_exp or 0)
        w = np.asarray(q.weight, np.int64) >> k
        if w.size and (w.min() < S8.lo or w.max() > S8.hi):
            raise self.fail(layer, f"weight mantissas span [{w.min()}, {w.max()}]; the MCU "
                            "kernels take int8 weights (weight_bits <= 8)")
        return w, k

    def scale(self, lay: ir.Layer, out: View, dims: tuple[int, int, int], k: int,
              bias: np.ndarray | None) -> None:
        """``out = out * 2^k + bias`` after a kernel ran on weight mantissas without the bias
        (a layer with weight exponent ``k``); ``dims``: (outer, channels, inner)."""
        yt = out.buffer.ctype
        self.call(lay.name, f"snnc_scale_{yt.suffix}_{yt.suffix}", out, *map(str, dims), str(k),
                  self.bias_const(self.ids[lay.name], bias))

    def bias_const(self, ident: str, bias: np.ndarray | None) -> str:
        """The synapse bias array (after the weights in weights.c), or NULL; before the layer's
        bias onset NULL (the argument tests the step counter)."""
        if bias is None:
            return "NULL"
        return self.after_onset(ident, self.const(f"snnc_b_{ident}", S32, bias), "NULL")

    def after_onset(self, ident: str, on: str, off: str) -> str:
        """``on`` from the bias onset of the layer ``ident`` names, ``off`` before it."""
        layer = next(name for name, i in self.ids.items() if i == ident)
        start = self.onset[layer]
        if not start:
            return on
        self.bias_wait = max(self.bias_wait, start)
        return f"(snnc_bias_step >= {start}u ? {on} : {off})"

    def bias_int32(self, layer: str, bias: Any) -> np.ndarray | None:
        if bias is None:
            return None
        b = np.asarray(bias, np.int64).reshape(-1)
        if b.size and (b.min() < S32.lo or b.max() > S32.hi):
            raise self.fail(layer, "bias does not fit int32")
        return b

    def out_type(self, layer: str, rng: Range, smallest: CType = S32) -> CType:
        ct = fit(rng, smallest)
        if ct is None:
            raise self.fail(layer, f"values may reach {rng.mag:.3g}, beyond int64; the "
                            "reference would overflow too (reduce weights or fan-in)")
        return ct

    def check_i64(self, layer: str, magnitude: int, what: str) -> None:
        if magnitude > I64_MAX:
            raise self.fail(layer, f"{what} may reach {magnitude:.3g}, beyond int64")

    def info(self, lay: ir.Layer, kernel: str, out: CType, detail: str = "",
             weight_bytes: int = 0) -> None:
        self.layers.append(LayerInfo(lay.name, self.ids[lay.name], lay.kind, kernel, out.c,
                                     detail, weight_bytes))

    # ----------------------------------------------------------------- layers
    def lower(self) -> None:
        for lay in self.graph.layers:
            reason = unsupported_reason(lay)
            if reason:
                raise self.fail(lay.name, reason)
            self.segment = segment(*self.when[lay.name])
            self.values[lay.name] = getattr(self, _KERNELS[type(lay)])(lay)

    def input(self, lay: ir.Input) -> Tensor:
        rng = source_range(lay, self.p)
        ct = fit(rng)
        if ct is None:  # pragma: no cover - input_bits <= 32 checked above
            raise self.fail(lay.name, "input range does not fit int64")
        buf = Buffer("x", ct, self.graph.size(lay.name), "input")
        self.info(lay, "input", ct)
        return Tensor(View(buf), self.graph.shape(lay.name), rng,
                      spiking=self.graph.encoding == "rate")

    def _choose_event(self, lay: ir.Layer, x: Tensor) -> tuple[bool, str]:
        if lay.attrs.get("mapping") == "qnn":  # a QNN layer is a dense int8 layer
            return False, "QNN mapping"
        want = lay.attrs.get("kernel")
        possible = x.ctype is S8 and x.size <= EVENT_INDEX_LIMIT
        if want == "event" and not possible:
            return False, "event-driven requested, but its input is not an int8 spike tensor"
        if want in ("event", "dense"):
            return want == "event", f"kernel attribute '{want}'"
        if possible and x.spiking:
            return True, "spike input"
        return False, "non-spike input" if not x.spiking else "input too wide for events"

    def dense(self, lay: ir.Dense) -> Tensor:
        q = self.qg.q(lay.name)
        x = self.read(lay, lay.inputs[0])
        w, k = self.weights_int8(lay.name, q)
        bias = self.bias_int32(lay.name, q.bias)
        n_out, n_in = w.shape
        rows = x.size // n_in
        rng, acc = linear_bounds(w << k, bias, x.rng)
        yt = self.out_type(lay.name, Range(-acc, acc))
        out = self.arena(self.ids[lay.name], yt, rows * n_out)
        event, why = self._choose_event(lay, x)
        sizes = (str(rows), str(n_in), str(n_out))
        kernel_bias = None if k else bias
        if event:
            self._dense_events(lay, x, w, kernel_bias, View(out), sizes, why)
        else:
            self._dense_direct(lay, x, w, kernel_bias, View(out), sizes, why)
        if k:
            self.scale(lay, View(out), (rows, n_out, 1), k, bias)
        return Tensor(View(out), self.graph.shape(lay.name), rng, spiking=False)

    def _dense_direct(self, lay: ir.Dense, x: Tensor, w: np.ndarray, bias: np.ndarray | None,
                      out: View, sizes: tuple[str, str, str], why: str) -> None:
        ident, yt = self.ids[lay.name], out.buffer.ctype
        fn = f"snnc_dense_{x.ctype.suffix}_{yt.suffix}"
        if x.ctype is S8 and yt is S32 and self.kernels == "dsp":  # SMLAD on 4-row blocks
            fn = "snnc_dense_blk4_s8_s32"
            name = self.const(f"snnc_w_{ident}", S8, blocked4(w), word_aligned=True)
        else:
            name = self.const(f"snnc_w_{ident}", S8, w)
        args: list[Arg] = [x.view, name, self.bias_const(ident, bias), out, *sizes]
        if x.ctype is S8 and yt is S32:  # SMLAD widens the input once (Helium needs nothing)
            scratch = dense_scratch_words(w.shape[1])
            args.append("NULL" if self.kernels == "mve"
                        else View(self.arena(f"{ident}_scratch", S32, scratch)))
        self.call(lay.name, fn, *args)
        self.info(lay, "dense", yt, f"{sizes[1]}->{sizes[2]}, {why}", w.size)

    def _dense_events(self, lay: ir.Dense, x: Tensor, w: np.ndarray, bias: np.ndarray | None,
                      out: View, sizes: tuple[str, str, str], why: str) -> None:
        """Event-driven: weight columns stored densely (W transposed) or as CSR, whichever the
        ``storage`` attribute asks for or, without it, whichever is smaller."""
        ident, yt = self.ids[lay.name], out.buffer.ctype
        count, idx = self.event_list(lay.name, x)
        n_out, n_in = w.shape
        wt = w.T  # (n_in, n_out): one input's fan-out is contiguous
        nz = wt != 0
        csr_bytes = int(nz.sum()) * 3 + (n_in + 1) * 4
        storage = lay.attrs.get("storage")
        if storage not in ("csr", "dense"):
            storage = "csr" if csr_bytes < w.size else "dense"
        detail = f"{n_in}->{n_out}, {why}"
        if storage == "csr" and n_out < EVENT_INDEX_LIMIT:
            row_ptr = np.concatenate([[0], np.cumsum(nz.sum(axis=1))])
            vals = wt[nz]
            if self.kernels == "dsp":  # the DSP kernel reads a row's n % 4 weights as a word
                vals = np.concatenate([vals, np.zeros(CSR_WORD_PADDING, vals.dtype)])
            arrays = (self.const(f"snnc_rp_{ident}", S32, row_ptr),
                      self.const(f"snnc_ci_{ident}", U16, np.nonzero(nz)[1]),
                      self.const(f"snnc_wv_{ident}", S8, vals))
            self.call(lay.name, f"snnc_event_csr_{yt.suffix}", idx, count, _event_values(x),
                      *arrays, self.bias_const(ident, bias), out, *sizes)
            self.info(lay, "event-csr", yt, detail, csr_bytes)
        elif (self.kernels != "c" and yt is S32 and _event_values(x) == "NULL"
              and partial_sums_fit_int16(w)):
            # binary events whose sums fit int16: two sums per word (SXTAB16, Helium int16)
            name = self.const(f"snnc_wt_{ident}", S8, wt)
            acc = self.arena(f"{ident}_acc16", S32, event16_scratch_words(n_out))
            self.call(lay.name, "snnc_event_dense16_s32", idx, count, name,
                      self.bias_const(ident, bias), out, *sizes, View(acc))
            self.info(lay, "event", yt, f"{detail}, 16-bit sums", w.size)
        else:
            name = self.const(f"snnc_wt_{ident}", S8, wt)
            self.call(lay.name, f"snnc_event_dense_{yt.suffix}", idx, count, _event_values(x),
                      name, self.bias_const(ident, bias), out, *sizes)
            self.info(lay, "event", yt, detail, w.size)

    def _geom(self, name: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
              kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, ...],
              dilation: tuple[int, int], groups: int) -> str:
        fields = [("in_c", in_shape[0]), ("in_h", in_shape[1]), ("in_w", in_shape[2]),
                  ("out_c", out_shape[0]), ("out_h", out_shape[1]), ("out_w", out_shape[2]),
                  ("k_h", kernel[0]), ("k_w", kernel[1]), ("stride_h", stride[0]),
                  ("stride_w", stride[1]), ("pad_top", padding[0]), ("pad_left", padding[1]),
                  ("dil_h", dilation[0]), ("dil_w", dilation[1]), ("groups", groups)]
        return self.struct(name, "snnc_geom", fields)

    def conv(self, lay: ir.Conv2d) -> Tensor:
        q = self.qg.q(lay.name)
        x = self.read(lay, lay.inputs[0])
        w, k = self.weights_int8(lay.name, q)
        full_bias = self.bias_int32(lay.name, q.bias)
        bias = None if k else full_bias  # with an exponent: added by scale() after the shift
        in_shape, out_shape = self.graph.shape(lay.inputs[0]), self.graph.shape(lay.name)
        rng, acc = linear_bounds(w << k, full_bias, x.rng)
        yt = self.out_type(lay.name, Range(-acc, acc))
        ident = self.ids[lay.name]
        out = self.arena(ident, yt, math.prod(out_shape))
        o, ipg, kh, kw = w.shape
        geom = self._geom(f"snnc_g_{ident}", in_shape, out_shape, (kh, kw), lay.stride,
                          lay.padding, lay.dilation, lay.groups)
        event, why = self._choose_event(lay, x)
        detail = f"{in_shape}->{out_shape}, {why}"
        if event:
            count, idx = self.event_list(lay.name, x)
            x_arg = _event_values(x)
            g = lay.groups
            # (groups, out/g, in/g, kh, kw) -> (in_c, kh, kw, out/g): one event, one block
            w_ev = w.reshape(g, o // g, ipg, kh, kw).transpose(0, 2, 3, 4, 1)
            name = self.const(f"snnc_wt_{ident}", S8, w_ev)
            self.call(lay.name, f"snnc_conv_event_{yt.suffix}", geom, idx, count, x_arg, name,
                      self.bias_const(ident, bias), View(out))
            self.info(lay, "event", yt, detail, w.size)
        else:
            name = self.const(f"snnc_w_{ident}", S8, w)
            self.call(lay.name, f"snnc_conv_{x.ctype.suffix}_{yt.suffix}", geom, x.view, name,
                      self.bias_const(ident, bias), View(out))
            self.info(lay, "direct", yt, detail, w.size)
        if k:
            self.scale(lay, View(out), (1, out_shape[0], out_shape[1] * out_shape[2]), k,
                       full_bias)
        return Tensor(View(out), out_shape, rng, spiking=False)

    def pool(self, lay: ir.Pool2d) -> Tensor:
        x = self.read(lay, lay.inputs[0])
        in_shape, out_shape = self.graph.shape(lay.inputs[0]), self.graph.shape(lay.name)
        if lay.pool == "max":
            rng, yt, fn = x.rng, x.ctype, "snnc_pool_max"
        else:  # average pooling is a sum pool in integer mode
            area = lay.kernel[0] * lay.kernel[1]
            rng = Range(area * min(x.rng.lo, 0), area * max(x.rng.hi, 0))
            yt, fn = widest(self.out_type(lay.name, rng, S8), x.ctype), "snnc_pool_sum"
        ident = self.ids[lay.name]
        out = self.arena(ident, yt, math.prod(out_shape))
        geom = self._geom(f"snnc_g_{ident}", in_shape, out_shape, lay.kernel, lay.stride,
                          lay.padding, (1, 1), in_shape[0])
        self.call(lay.name, f"{fn}_{x.ctype.suffix}_{yt.suffix}", geom, x.view, View(out))
        self.info(lay, lay.pool, yt, f"{in_shape}->{out_shape}")
        return Tensor(View(out), out_shape, rng, x.spiking)

    def view_as(self, lay: ir.Flatten | ir.Reshape) -> Tensor:
        x = self.read(lay, lay.inputs[0])
        shape = self.graph.shape(lay.name)
        if x.view.lag == 0:  # same bytes, new shape: no code
            self.info(lay, "alias", x.ctype)
            return Tensor(x.view, shape, x.rng, x.spiking)
        out = self.arena(self.ids[lay.name], x.ctype, x.size)
        self.call(lay.name, f"snnc_copy_{x.ctype.suffix}_{x.ctype.suffix}", x.view, View(out),
                  str(x.size))
        self.info(lay, "copy", x.ctype, "delayed read")
        return Tensor(View(out), shape, x.rng, x.spiking)

    def add(self, lay: ir.Add) -> Tensor:
        xs = [self.read(lay, s) for s in lay.inputs]
        total = xs[0].rng
        yt = self.out_type(lay.name, total)
        for x in xs[1:]:
            total = total + x.rng
            yt = widest(yt, self.out_type(lay.name, total))
        for x in xs:
            yt = widest(yt, x.ctype)
        out = self.arena(self.ids[lay.name], yt, xs[0].size)
        n = str(xs[0].size)
        self.call(lay.name, f"snnc_copy_{xs[0].ctype.suffix}_{yt.suffix}", xs[0].view,
                  View(out), n)
        for x in xs[1:]:
            self.call(lay.name, f"snnc_add_{x.ctype.suffix}_{yt.suffix}", x.view, View(out), n)
        self.info(lay, "add", yt, f"{len(xs)} inputs")
        return Tensor(View(out), self.graph.shape(lay.name), total, spiking=False)

    def _param(self, lay: ir.Layer, tag: str, values: Any) -> tuple[str, int]:
        if values is None:
            return "NULL", 0
        flat = _flat_param(values, self.graph.shape(lay.name))
        if flat.min() < S32.lo or flat.max() > S32.hi:
            raise self.fail(lay.name, f"parameter {tag} does not fit int32")
        name = self.const(f"snnc_{tag}_{self.ids[lay.name]}", S32, flat)
        return name, 0 if flat.size == 1 else 1

    def neuron(self, lay: ir.LIF | ir.CubaLIF) -> Tensor:
        q, p = self.qg.q(lay.name), self.p
        x = self.read(lay, lay.inputs[0])
        n = x.size
        cuba = isinstance(lay, ir.CubaLIF)
        vth = np.asarray(q.vth, np.int64)
        theta_max = int(vth.max()) << p.threshold_shift
        if vth.min() < 0:
            raise self.fail(lay.name, "negative threshold")
        half_v, half_u = 1 << (p.state_bits - 1), 1 << (p.current_bits - 1)
        drive = Range(-(half_v - 1), half_v - (p.voltage_overflow == "saturate"))
        v_rng = drive.union(Range(0, 0))
        if lay.reset == "subtract" and lay.reset_timing == "next":
            v_rng = Range(drive.lo - theta_max, drive.hi)
        u_rng = Range(-(half_u - 1), half_u - (p.current_overflow == "saturate"))
        st = self.out_type(lay.name, v_rng.union(u_rng) if cuba else v_rng)
        graded = self._graded_max(lay, vth)
        # int64 intermediates: decay products and the membrane drive before overflow
        one = 1 << p.decay_bits
        dv = np.asarray(q.dv if q.dv is not None else 0, np.int64)
        factor = max(abs(one - int(dv.min())), abs(one - int(dv.max())))
        a_mag = x.rng.mag << p.input_shift
        u_mag = u_rng.mag if cuba or p.lif_current_register else a_mag
        if cuba:
            du = np.asarray(q.du, np.int64) + p.current_decay_offset
            factor_u = max(abs(one - int(du.min())), abs(one - int(du.max())))
            self.check_i64(lay.name, u_rng.mag * factor_u + a_mag, "current update")
        bias_mag = 0 if q.bias is None else int(np.abs(np.asarray(q.bias, np.int64)).max())
        self.check_i64(lay.name, v_rng.mag * factor, "membrane decay")
        self.check_i64(lay.name, v_rng.mag + u_mag + (bias_mag << p.input_shift),
                       "membrane drive")
        ident = self.ids[lay.name]
        dv_arg, dv_stride = self._param(lay, "dv", q.dv if q.dv is not None else 0)
        du_arg, du_stride = self._param(lay, "du", q.du) if cuba else ("NULL", 0)
        vth_arg, vth_stride = self._param(lay, "vth", q.vth)
        bias_arg, bias_stride = self._param(lay, "nb", q.bias)
        reset = {"zero": "SNNC_RESET_ZERO", "subtract": "SNNC_RESET_SUBTRACT",
                 "none": "SNNC_RESET_NONE"}[lay.reset]
        def fields(bias: str, stride: int) -> list[tuple[str, Any]]:
            return [("count", n), ("dv", dv_arg), ("du", du_arg), ("vth", vth_arg),
                    ("bias", bias), ("dv_stride", dv_stride), ("du_stride", du_stride),
                    ("vth_stride", vth_stride), ("bias_stride", stride), ("reset", reset),
                    ("reset_next", int(lay.reset_timing == "next")),
                    ("compare_ge", int(lay.compare == "ge")), ("graded_max", graded)]

        params = self.struct(f"snnc_p_{ident}", "snnc_neuron_params", fields(bias_arg,
                                                                               bias_stride))
        if bias_arg != "NULL" and self.onset[lay.name]:  # the same neuron before its bias onset
            params = self.after_onset(ident, params, self.struct(
                f"snnc_p_{ident}_unbiased", "snnc_neuron_params", fields("NULL", 0)))
        v = self.state(f"snnc_v_{ident}", st, n)
        u = self.state(f"snnc_u_{ident}", st, n) if cuba else None
        spikes = self.arena(ident, S8, n, keep=True)
        self.call(lay.name, f"snnc_neuron_{x.ctype.suffix}_{st.suffix}", params, x.view,
                  View(v), View(u) if u else "NULL", View(spikes))
        self.info(lay, "graded" if graded else "cubalif" if cuba else "lif", S8,
                  f"{n} neurons, reset {lay.reset}/{lay.reset_timing}, state {st.c}"
                  + (f", graded up to {graded}" if graded else ""))
        return Tensor(View(spikes), self.graph.shape(lay.name), Range(0, max(graded, 1)),
                      spiking=True)

    def _graded_max(self, lay: ir.LIF | ir.CubaLIF, vth: np.ndarray) -> int:
        """The largest spike count of a graded LIF (the profile's ``max_spikes``), 0 for
        binary spikes; counts go in the int8 spike buffer, as multi-level spikes do."""
        if not getattr(lay, "graded", False):
            return 0
        if not 1 <= self.p.max_spikes <= S8.hi:
            raise self.fail(lay.name, f"graded spikes up to max_spikes = {self.p.max_spikes} "
                                      f"do not fit the int8 spike buffer")
        if vth.min() < 1:
            raise self.fail(lay.name, "graded spikes need a threshold of at least 1")
        return self.p.max_spikes

    def multilevel(self, lay: ir.MultiLevelSpike) -> Tensor:
        q, p = self.qg.q(lay.name), self.p
        x = self.read(lay, lay.inputs[0])
        shape = self.graph.shape(lay.name)
        levels = int(lay.levels)
        ot = S8 if levels <= S8.hi else S32
        if lay.axis is None:
            vth = int(np.asarray(q.vth))
            self.check_i64(lay.name, 2 * x.rng.mag + abs(vth), "level numerator")
            outer, n, inner, alpha = 1, x.size, 1, 0
        else:
            axis = lay.axis % len(shape)
            outer, n, inner = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
            alpha, vth = int(q.alpha_mant or 0), 0
            theta_num = abs(alpha) * n * x.rng.mag
            top = 2 * x.rng.mag * (n << p.alpha_frac_bits) + theta_num
            self.check_i64(lay.name, max(top, 2 * theta_num), "level numerator")
        ident = self.ids[lay.name]
        params = self.struct(f"snnc_p_{ident}", "snnc_multilevel_params", [
            ("outer", outer), ("n", n), ("inner", inner), ("levels", levels),
            ("constant", int(lay.axis is None)), ("alpha_mant", f"INT64_C({alpha})"),
            ("vth", f"INT64_C({vth})")])
        out = self.arena(ident, ot, x.size, keep=True)
        self.call(lay.name, f"snnc_multilevel_{x.ctype.suffix}_{ot.suffix}", params, x.view,
                  View(out))
        self.info(lay, "multilevel", ot, f"levels {levels}")
        return Tensor(View(out), shape, Range(0, levels), spiking=True)

    def attention(self, lay: ir.SpikingSelfAttention) -> Tensor:
        q, p = self.qg.q(lay.name), self.p
        qkv = [self.read(lay, s) for s in lay.inputs]
        length, dim = self.graph.shape(lay.name)
        heads = lay.heads
        mask = np.asarray(q.mask, np.int64)
        dist = np.abs(np.arange(length)[:, None] - np.arange(length)[None, :])
        table = mask[:, 0, :]  # mask[h, 0, m] is the value at distance m
        if mask.shape != (heads, length, length) or not np.array_equal(mask, table[:, dist]):
            raise self.fail(lay.name, "the decay mask must depend only on |n - m|")
        if table.size and (table.min() < S32.lo or table.max() > S32.hi):
            raise self.fail(lay.name, "decay mask does not fit int32")
        xt = widest(*(t.ctype for t in qkv))
        ident = self.ids[lay.name]
        views = []
        for role, t in zip("qkv", qkv, strict=True):
            if t.ctype is xt:
                views.append(t.view)
                continue
            cast = self.arena(f"{ident}_{role}", xt, t.size)
            self.call(lay.name, f"snnc_copy_{t.ctype.suffix}_{xt.suffix}", t.view, View(cast),
                      str(t.size))
            views.append(View(cast))
        d_head = dim // heads
        mask_mag = int(np.abs(table).max()) if table.size else 0
        score = d_head * qkv[0].rng.mag * qkv[1].rng.mag * mask_mag
        acc = length * score * qkv[2].rng.mag
        self.check_i64(lay.name, max(score, acc), "attention sum")
        mag = (acc >> p.mask_frac_bits) + 1
        yt = self.out_type(lay.name, Range(-mag, mag))
        mask_name = self.const(f"snnc_mask_{ident}", S32, table)
        params = self.struct(f"snnc_p_{ident}", "snnc_attention_params", [
            ("length", length), ("dim", dim), ("heads", heads), ("mask", mask_name)])
        scores = self.arena(f"{ident}_scores", S64, length)
        out = self.arena(ident, yt, length * dim)
        self.call(lay.name, f"snnc_attention_{xt.suffix}_{yt.suffix}", params, *views,
                  View(scores), View(out))
        self.info(lay, "attention", yt, f"L={length}, D={dim}, heads={heads}")
        return Tensor(View(out), (length, dim), Range(-mag, mag), spiking=False)

    # ----------------------------------------------------------------- finish
    def finish(self) -> Program:
        graph = self.graph
        output = self.values[graph.output]
        if output.view.buffer.kind == "input":  # the output must outlive the caller's input
            buf = self.arena("output", output.ctype, output.size)
            self.call(graph.output, f"snnc_copy_{output.ctype.suffix}_{output.ctype.suffix}",
                      output.view, View(buf), str(output.size))
            output = Tensor(View(buf), output.shape, output.rng, output.spiking)
        output.view.buffer.keep = True
        period = math.lcm(*(b.depth for b in self.rings.values())) if self.rings else 1
        tail = []
        for src, ring in self.rings.items():
            value = self.values[src]
            slot = ring.key if ring.depth == 1 else (
                f"{ring.key} + (snnc_t % {ring.depth}u) * {ring.size}u")
            tail.append(Call(self.ids[src], f"snnc_copy_{value.ctype.suffix}_{ring.ctype.suffix}",
                             (value.view, slot, str(ring.size))))
        when = self.when
        probes = [Probe("output", "output", graph.output, output.view, output.shape,
                        *when[graph.output])]
        neurons = sorted((lay for lay in graph.layers if lay.is_neuron), key=lambda x: x.name)
        for lay in neurons:
            t = self.values[lay.name]
            probes.append(Probe(f"{self.ids[lay.name]}/spikes", "spikes", lay.name, t.view,
                                t.shape, *when[lay.name]))
        for lay in neurons:
            if isinstance(lay, ir.LIF | ir.CubaLIF):
                v = next(b for b in self.buffers if b.key == f"snnc_v_{self.ids[lay.name]}")
                probes.append(Probe(f"{self.ids[lay.name]}/v", "v", lay.name, View(v),
                                    self.graph.shape(lay.name), *when[lay.name]))
        calls = sorted(self.calls, key=lambda c: c.segment)  # stable: graph order within one
        input_layer = graph.input
        prog = Program(
            name=identifiers([graph.name])[graph.name], profile=self.p,
            input=self.values[input_layer.name], output=output,
            input_scale=float(self.qg.input_scale), input_max=self.p.input_max,
            timesteps=self.steps, calls=calls, tail=tail, arrays=self.arrays,
            structs=self.structs, buffers=self.buffers, probes=probes, layers=self.layers,
            ring_period=period, segments=1 + max(segment(*w) for w in when.values()),
            output_once=when[graph.output][1], bias_wait=self.bias_wait)
        plan_memory(prog)
        return prog



def lower(qg: QuantizedGraph, target: str, kernels: str = "c") -> Program:
    """The C program for ``qg`` (raises UnsupportedError for what C cannot run exactly), its
    weights laid out for the core's kernel set ``kernels`` (``Core.kernels``: the portable
    layouts run on every core, the others are faster where their instructions exist)."""
    lowering = _Lowering(qg, target, kernels)
    lowering.lower()
    return lowering.finish()
