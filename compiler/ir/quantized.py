"""Integer parameters of a layer view under a target's numeric profile.

A :class:`QuantizedGraph` is what integer backends consume: the float layer view (for structure
and shapes), the target's :class:`NumericProfile`, and per layer a :class:`QuantLayer` holding
the integer parameters. ``snnc.reference.integer`` defines what those integers compute; the
fixed-point equations are written out there and in ``docs/numerics.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from snnc.ir.layers import Graph

Overflow = Literal["saturate", "wrap"]
Rounding = Literal["trunc", "floor"]


ROUND_BLOCK = 1 << 20  # values rounded per float64 block of ``round_clip``


def storage_type(bound: int) -> np.dtype:
    """How integer weights in ``[-bound, bound]`` are stored: int16 (the synapse word of the
    event-driven targets, with room for the doubled 8-bit weights Loihi keeps) or wider when
    the values need it. Arithmetic on them widens to int64 first."""
    for candidate in (np.int16, np.int32):
        if bound <= np.iinfo(candidate).max:
            return np.dtype(candidate)
    return np.dtype(np.int64)


def round_clip(x: np.ndarray, unit: float, lim: int,
               dtype: np.dtype | type = np.int64) -> np.ndarray:
    """``clip(rint(x / unit), -lim, lim)`` as ``dtype`` (which must hold ``lim``), rounded in
    float64 blocks of :data:`ROUND_BLOCK` values: a board-size weight matrix never has a
    float64 copy, and million-value drives no temporary per operation."""
    src = np.asarray(x)
    out = np.empty(src.shape, dtype)
    flat_in, flat_out = src.reshape(-1), out.reshape(-1)
    block = np.empty(min(ROUND_BLOCK, flat_in.size), np.float64)
    for start in range(0, flat_in.size, ROUND_BLOCK):
        part = flat_in[start:start + ROUND_BLOCK]
        q = block[:part.size]
        q[...] = part
        q /= unit
        np.rint(q, out=q)
        np.clip(q, -lim, lim, out=q)
        flat_out[start:start + part.size] = q
    return out


@dataclass(frozen=True)
class NumericProfile:
    """Fixed-point conventions of a target (the ``[numeric]`` table of its TOML file).

    ``decay_bits`` D: a decay ``d`` in [0, 2^D] scales a state by ``(2^D - d) / 2^D``, the
    product rounded by ``rounding``. ``current_decay_offset`` is added to the current decay
    (Lava's ``ds_offset``). Synaptic input is shifted left by ``input_shift`` before it reaches
    the current; the effective threshold is ``vth << threshold_shift``. ``synapse_delay`` is
    the number of steps each synaptic stage (the weights between two neuron layers) adds.
    ``lif_current_register``: a LIF's input also passes through the current register
    (``current_bits``, ``current_overflow``), as on Loihi, where a LIF is a CUBA neuron whose
    current has no memory (du = 4095) but still wraps at 24 bits.
    ``max_pool_neuron``: max pooling of binary spikes runs as an OR neuron (a sum pool into a
    non-leaky neuron firing on any input, see :mod:`snnc.passes.or_pooling`), one synaptic
    stage more, on hardware whose synapses only add (Loihi). ``weight_exp_max``: a weight layer
    may hold ``weight_bits`` mantissas shifted left by up to this many bits (Loihi's per-synapse
    ``weight_exp``), so its current, threshold and bias have finer units than its weights.
    ``max_spikes``: the largest spike count a neuron sends in one step: a graded LIF's count
    saturates there (the bit-shift neuron's multi-spike limit on Xylo); 1 where neurons send
    binary spikes only, and graded layers are refused.
    ``wide_input_bits``: the widest graph input the fidelity search may choose where the
    calibration data shows ``input_bits`` losing spikes (0: none wider; see
    :mod:`snnc.passes.fidelity`). Weights widen through ``weight_exp_max`` instead: a wider
    weight is two ``weight_bits`` mantissas summed into one current (:mod:`snnc.passes.widen`).
    """

    weight_bits: int = 8
    decay_bits: int = 12
    current_decay_offset: int = 0
    state_bits: int = 32
    current_bits: int = 32
    voltage_overflow: Overflow = "saturate"
    current_overflow: Overflow = "saturate"
    rounding: Rounding = "floor"
    input_shift: int = 0
    threshold_shift: int = 0
    threshold_bits: int = 31
    bias_bits: int = 31
    input_bits: int = 8
    synapse_delay: int = 0
    alpha_frac_bits: int = 16
    mask_frac_bits: int = 15
    reset_kinds: tuple[str, ...] = ("zero", "subtract", "none")
    lif_current_register: bool = False
    neuron_model: Literal["scaled", "bitshift"] = "scaled"
    max_spikes: int = 1
    readout_max_spikes: int = 1
    input_signed: bool = True
    execution: Literal["steps", "qnn"] = "steps"
    activation_bits: int = 4
    max_pool_neuron: bool = False
    weight_exp_max: int = 0
    wide_input_bits: int = 0

    @property
    def weight_max(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def input_max(self) -> int:
        """Largest input value: signed ``input_bits`` wide, or an unsigned event count."""
        if not self.input_signed:
            return (1 << self.input_bits) - 1
        return (1 << (self.input_bits - 1)) - 1


@dataclass(frozen=True, eq=False)
class QuantLayer:
    """Integer parameters of one layer; fields a layer type does not use stay ``None``.

    Synapses: ``weight`` (int64, same layout as the float weight) and ``bias`` in current units.
    LIF/CubaLIF: ``du``, ``dv`` (decays in [0, 2^D]), ``vth`` (threshold mantissa), ``bias``
    (membrane bias, added after ``<< input_shift``). MultiLevelSpike: ``alpha_mant`` (alpha as
    ``alpha_mant / 2^alpha_frac_bits``) or ``vth`` for a constant threshold. Attention:
    ``mask`` (heads, L, L) fixed-point decay mask with ``mask_frac_bits + k`` fraction bits
    (``k`` fraction bits stay in the output, :func:`snnc.passes.quantize.attention_fraction_bits`).
    ``unit`` is the real value of one integer unit of the layer's output. ``weight_exp``: the
    synapse's weights are multiples of ``2^weight_exp`` (mantissas of ``weight_bits`` shifted
    left; 0 on profiles without a weight exponent), recorded for reports and backends.
    """

    unit: float = 1.0
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    du: np.ndarray | None = None
    dv: np.ndarray | None = None
    vth: np.ndarray | None = None
    alpha_mant: int | None = None
    mask: np.ndarray | None = None
    weight_exp: int = 0


@dataclass(frozen=True, eq=False)
class QuantizedGraph:
    """A layer view plus integer parameters for one numeric profile.

    ``agreement``: per neuron layer of the float model, the fraction of its spikes (per step,
    sample and neuron, latency aligned) the integer run reproduced on the calibration data the
    scales were chosen on (:mod:`snnc.passes.fidelity`); empty without calibration data.
    ``widened``: weight layers of the float model whose weights are wider than the profile's
    ``weight_bits``, with their mantissa width (each runs as a high and a low member summed
    into its current, :mod:`snnc.passes.widen`); ``profile.input_bits`` is the graph input's
    width as chosen (wider than the target's own where the search widened it)."""

    graph: Graph
    profile: NumericProfile
    layers: Mapping[str, QuantLayer] = field(default_factory=dict)
    input_scale: float = 1.0
    target: str = "generic"
    agreement: Mapping[str, float] = field(default_factory=dict)
    widened: Mapping[str, int] = field(default_factory=dict)

    def q(self, name: str) -> QuantLayer:
        return self.layers[name]

    def quantize_input(self, drive: np.ndarray) -> np.ndarray:
        """Float drive -> int64 input units (spike trains stay 0/1 when the scale is 1); event
        counts (``input_signed = false``) are clipped at 0."""
        q = round_clip(drive, self.input_scale, self.profile.input_max)
        return q if self.profile.input_signed else np.maximum(q, 0, out=q)
