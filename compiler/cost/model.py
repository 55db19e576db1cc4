"""Per-layer energy of the SNN mapping and of its QNN twin, after Yan, Bai & Wong,
"Reconsidering the energy efficiency of spiking neural networks" (arXiv 2409.08290).

A layer run for ``T`` binary-spike steps is functionally equivalent to a QNN layer with
``b = ceil(log2(T+1))``-bit activations (see :mod:`snnc.passes.snn_to_qnn`). Which one is cheaper
depends on the input spike rate ``s_r``, the QNN's activation sparsity ``gamma`` and the hardware:
per-op energies, activation memory, weight memory and the network-on-chip (NoC).

Energies are pJ per inference (one sample). For a stage with ``S`` synaptic connections, ``M``
output neurons, ``n`` input values and ``w``-bit weights (``docs/cost-model.md`` has the table):

- SNN compute: ``S*T*s_r*E_op + M*T*E_cmp + M*T*s_out*E_sub`` (+ ``n*T*s_r*E_event`` for the
  event-driven dataflow); ``E_op = E_acc`` for spikes, ``E_mac(in_bits, w)`` for real inputs.
- SNN NoC: sparse ``S*T*s_r*E~_move*k_hop*payload``, dense ``S*T*E_move*k_hop*payload``
  (``n`` in place of ``S`` when the target moves one message per event, ``noc_messages``).
- QNN compute: ``S*(1-gamma)*E_mac(b, w) + M*E_cmp`` (no ``1-gamma`` on hardware that does
  not skip zeros); QNN NoC: ``S*b*E_move*k_hop`` (per event: ``n*(1-gamma)*b*E_move*k_hop``,
  zero levels are not sent); a twin that integrates spike-train inputs step by step pays the
  SNN's ``S*T*s_r`` accumulates and spike messages for them (``qnn_spike_input``).
- weights: ``S_w*w*E_wread`` once per inference when weights stay on chip (FW = 1), else per use.
- activation memory: bits of input activations read, times ``E_act`` per bit.

Every SNN term is affine in ``s_r`` (``A + B*s_r``), so the crossover rate where both mappings
cost the same is closed-form: ``s_r* = (E_QNN - A) / B`` (``(E_Q0 - A) / (B - E_Q1)`` when
the QNN energy is ``E_Q0 + E_Q1*s_r`` itself).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from snnc.errors import InputError

Dataflow = Literal["sparse", "dense"]
InputKind = Literal["spikes", "real"]
MulScaling = Literal["bit_product", "constant"]
NocMessages = Literal["per_synapse", "per_event"]
QnnSpikeInput = Literal["count", "receive", "integrate"]

DATAFLOWS: tuple[Dataflow, ...] = ("sparse", "dense")
COMPONENTS = ("compute", "activation", "weights", "noc")

# "Theoretical energy" of the SNN literature (Horowitz, ISSCC 2014, 45 nm): an fp32 multiply-add
# (3.7 + 0.9 pJ) per MAC of real-valued layers and an fp32 add per synaptic operation.
LIT_E_MAC_PJ = 4.6
LIT_E_AC_PJ = 0.9


def activation_bits(timesteps: int) -> int:
    """``b = ceil(log2(T + 1))``: bits that hold a spike count in ``0..T``."""
    if timesteps < 1:
        raise InputError(f"timesteps must be >= 1, got {timesteps}")
    return int(timesteps).bit_length()


def rate_bounds(gamma: float, timesteps: int) -> tuple[float, float]:
    """Theorem 2: the spike rate of a population whose QNN twin has a fraction ``gamma`` of zero
    activations lies in ``[(1 - gamma)/T, 1 - gamma]`` (every non-zero count is 1..T)."""
    return (1.0 - gamma) / timesteps, 1.0 - gamma


@dataclass(frozen=True)
class EnergyParams:
    """Hardware energy parameters (pJ). The defaults are the "typical neuromorphic" setting of
    arXiv 2409.08290 v4 (22 nm standard cells, Loihi-style per-event routing); see
    ``docs/cost-model.md`` for each number's source.

    ``mul_pj`` maps operand width to the energy of one multiply of that width; with
    ``mul_scaling = "bit_product"`` a ``b x w`` multiply costs ``mul_pj[W] * b*w / W^2`` for the
    smallest table width ``W >= max(b, w)`` (array multipliers scale with the bit product);
    ``"constant"`` charges ``mul_pj[W]`` (a single-cycle CPU multiplier).
    ``dense_skips_zeros``: dense compute (the dense SNN dataflow and the QNN) still gates on
    zero activations (a neuromorphic core) or processes every synapse (a CPU dense kernel).
    ``synop_pj``: one SNN synaptic event when it costs more than an accumulate (a software
    synapse loop); None means ``acc_pj``. ``cmp_pj`` is charged per neuron evaluation (for a CPU
    target: the whole neuron update).

    ``noc_messages``: ``"per_synapse"`` moves one message per synaptic connection (the paper's
    accounting, no multicast); ``"per_event"`` one per input value that sends (a spike, a
    dense value, a non-zero QNN level) per destination, fanned out to its synapses inside the
    core (Loihi's axon lists, SpiNNaker's multicast packets). ``qnn_spike_input``: a QNN twin
    whose source still sends spike trains (the graph input, a layer without a twin) sees
    their counts (``"count"``: summed into a count register, priced by ``count_pj``), receives
    every spike as a message and sums it into its count buffer (``"receive"``, SpiNNaker 2's
    packets: ``event_overhead_pj`` and movement per spike), or integrates every spike as it
    arrives (``"integrate"``, Loihi 2's neurocore: the same
    synaptic operations and spike messages as the SNN mapping, one level at the end).
    """

    acc_pj: float = 0.05448
    cmp_pj: float = 0.05448
    sub_pj: float = 0.05448
    mul_pj: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({8: 0.2}))
    mul_scaling: MulScaling = "bit_product"
    noc_dense_pj_per_bit_hop: float = 0.25
    noc_sparse_pj_per_bit_hop: float = 3.0
    avg_hops: float = 1.0
    weight_read_pj_per_bit: float = 0.0
    weight_reuse: bool = True
    activation_pj_per_bit: float = 0.0
    event_overhead_pj: float = 0.0
    dense_skips_zeros: bool = True
    dataflows: tuple[Dataflow, ...] = DATAFLOWS
    synop_pj: float | None = None
    scan_pj: float = 0.0   # per input value per step: building the event list (sparse SNN)
    count_pj: float = 0.0  # per input value per step: adding it into the QNN twin's count
    count_event_pj: float = 0.0  # per non-zero input count received once (a packet of a level)
    level_pj: float | None = None  # per output of a QNN twin (its level); None: cmp_pj
    noc_messages: NocMessages = "per_synapse"  # what one NoC message serves (see below)
    qnn_spike_input: QnnSpikeInput = "count"  # how a twin receives spike trains (see below)
    source: str = "typical neuromorphic (arXiv 2409.08290 v4)"

    @property
    def synop(self) -> float:
        return self.acc_pj if self.synop_pj is None else self.synop_pj

    def mul(self, a_bits: int, b_bits: int) -> float:
        """Energy of one ``a_bits x b_bits`` multiply."""
        widths = sorted(self.mul_pj)
        need = max(a_bits, b_bits)
        width = next((wd for wd in widths if wd >= need), widths[-1])
        if self.mul_scaling == "constant":
            return float(self.mul_pj[width])
        return float(self.mul_pj[width]) * a_bits * b_bits / (width * width)

    def mac(self, a_bits: int, b_bits: int) -> float:
        """``E_MAC(b, w) = E_acc + E_mul(b, w)``."""
        return self.acc_pj + self.mul(a_bits, b_bits)

    @property
    def eta(self) -> float:
        """Sparse-to-dense movement cost ratio per bit (12 in the typical setting)."""
        if self.noc_dense_pj_per_bit_hop == 0:
            return math.inf
        return self.noc_sparse_pj_per_bit_hop / self.noc_dense_pj_per_bit_hop

    def with_(self, **changes: Any) -> EnergyParams:
        return replace(self, **changes)


TYPICAL_NEUROMORPHIC = EnergyParams()
WORST_CASE_SPARSE = EnergyParams(noc_dense_pj_per_bit_hop=1300.0 / 64,
                                 noc_sparse_pj_per_bit_hop=1300.0,
                                 source="worst-case sparse (one 64-bit DRAM read per spike)")
THEORETICAL_MINIMUM = EnergyParams(noc_dense_pj_per_bit_hop=0.0, noc_sparse_pj_per_bit_hop=0.0,
                                   source="theoretical minimum (free data movement)")


@dataclass(frozen=True)
class StageShape:
    """Sizes of one stage (a neuron layer with its incoming synapses), per sample.

    ``synapses`` S: synaptic connections evaluated per step (a conv weight counts once per
    output position; pruned weights do not count). ``weights``: weight values stored.
    ``inputs`` n: input activations; ``in_bits``: bits of one input value on the wire
    (1 for spikes); ``max_level``: largest input value per step (D for multi-level spikes).
    ``dynamic_macs``: multiply-accumulates per step whose operands are not spikes (attention's
    products and weights applied to its output, see ``snnc.cost.shapes.dynamic_macs``); each
    costs ``E_MAC(w, w)`` every step whatever the spike rate (once in the QNN mapping).
    ``spike_inputs``: see :attr:`spike_fed`.
    """

    synapses: int
    outputs: int
    inputs: int
    weights: int
    weight_bits: int
    in_kind: InputKind = "spikes"
    in_bits: int = 1
    max_level: int = 1
    dynamic_macs: int = 0
    spike_inputs: int = 0

    @property
    def spike_fed(self) -> float:
        """Share of the inputs (and, assumed proportional, of the synapses) that keep arriving
        as spike trains when the stage runs as its QNN twin: ``spike_inputs`` counts the values
        of sources that never run once per inference (the graph input, layers without a twin)."""
        return min(1.0, self.spike_inputs / self.inputs) if self.inputs else 0.0

    @property
    def fan_in(self) -> float:
        return self.synapses / self.outputs if self.outputs else 0.0

    def qnn_bits(self, timesteps: int) -> int:
        """Activation bits of the QNN twin's input: a count ``0..D*T`` (spikes) or the
        real input's own width (it is not a count)."""
        if self.in_kind == "real":
            return self.in_bits
        return activation_bits(self.max_level * timesteps)


@dataclass(frozen=True)
class Activity:
    """Measured (or assumed) activity of a stage: ``rate_in`` s_r = mean input level per value
    per step (for real inputs: the fraction of non-zero values), ``rate_out`` the output spike
    rate, ``gamma`` the fraction of input values whose count over the run is zero."""

    timesteps: int
    rate_in: float
    rate_out: float = 0.0
    gamma: float = 0.0

    def with_rate(self, rate_in: float) -> Activity:
        return replace(self, rate_in=rate_in)


@dataclass(frozen=True)
class Energy:
    """Energy of one mapping of one stage, pJ per inference, split by component."""

    compute: float = 0.0
    activation: float = 0.0
    weights: float = 0.0
    noc: float = 0.0

    @property
    def total(self) -> float:
        return self.compute + self.activation + self.weights + self.noc

    def as_dict(self) -> dict[str, float]:
        return {"compute": self.compute, "activation": self.activation,
                "weights": self.weights, "noc": self.noc, "total": self.total}

    def __add__(self, other: Energy) -> Energy:
        return Energy(self.compute + other.compute, self.activation + other.activation,
                      self.weights + other.weights, self.noc + other.noc)


@dataclass(frozen=True)
class Affine:
    """``E(s_r) = fixed + per_rate * s_r`` for each component of the SNN energy."""

    fixed: Energy
    per_rate: Energy

    def at(self, rate: float) -> Energy:
        f, r = self.fixed, self.per_rate
        return Energy(f.compute + r.compute * rate, f.activation + r.activation * rate,
                      f.weights + r.weights * rate, f.noc + r.noc * rate)


def _address_bits(n: int) -> int:
    return max(1, (max(n, 1) - 1).bit_length())


def snn_affine(shape: StageShape, act: Activity, p: EnergyParams,
               dataflow: Dataflow) -> Affine:
    """The SNN energy of ``shape`` as an affine function of the input rate (``act.rate_in``
    is not used; ``rate_out`` and ``gamma`` are held fixed)."""
    t = act.timesteps
    s, m, n, w = shape.synapses, shape.outputs, shape.inputs, shape.weight_bits
    real = shape.in_kind == "real"
    e_op = p.mac(shape.in_bits, w) if real else p.synop
    payload = shape.in_bits if real else 1
    neuron = m * t * p.cmp_pj + m * t * act.rate_out * p.sub_pj
    neuron += shape.dynamic_macs * t * p.mac(w, w)  # rate-independent, like the neuron terms
    hops = p.avg_hops
    # per-event movement: one message per sending input, not one per synapse it reaches
    movers = n if p.noc_messages == "per_event" else s
    if dataflow == "sparse":
        fixed = Energy(compute=neuron + (n * t * p.scan_pj if s else 0.0),
                       weights=shape.weights * w * p.weight_read_pj_per_bit
                       if p.weight_reuse else 0.0)
        # the per-event overhead belongs to the event-driven synapse kernel: a stage with no
        # synapses (attention alone) has none
        per_rate = Energy(
            compute=s * t * e_op + (n * t * p.event_overhead_pj if s else 0.0),
            activation=n * t * (_address_bits(n) + (payload if real else 0))
            * p.activation_pj_per_bit,
            weights=0.0 if p.weight_reuse else s * t * w * p.weight_read_pj_per_bit,
            noc=movers * t * payload * p.noc_sparse_pj_per_bit_hop * hops)
        return Affine(fixed, per_rate)
    dense_bits = shape.in_bits if real else activation_bits(shape.max_level)
    compute_fixed = neuron + (0.0 if p.dense_skips_zeros else s * t * e_op)
    fixed = Energy(
        compute=compute_fixed,
        activation=n * t * dense_bits * p.activation_pj_per_bit,
        weights=shape.weights * w * p.weight_read_pj_per_bit if p.weight_reuse
        else s * t * w * p.weight_read_pj_per_bit,
        noc=movers * t * dense_bits * p.noc_dense_pj_per_bit_hop * hops)
    per_rate = Energy(compute=s * t * e_op if p.dense_skips_zeros else 0.0)
    return Affine(fixed, per_rate)


def snn_energy(shape: StageShape, act: Activity, p: EnergyParams,
               dataflow: Dataflow) -> Energy:
    return snn_affine(shape, act, p, dataflow).at(act.rate_in)


def qnn_energy(shape: StageShape, act: Activity, p: EnergyParams,
               dataflow: Dataflow | None = None) -> Energy:
    """The QNN twin runs once per inference on ``b``-bit activations (counts).

    With ``qnn_spike_input = "integrate"`` the share :attr:`StageShape.spike_fed` of the
    stage still receives spike trains and integrates them step by step: the synaptic
    operations and messages the SNN mapping's ``dataflow`` spends on them (default: the
    cheaper SNN dataflow, :func:`best_snn`); only the rest multiplies counts. With
    ``noc_messages = "per_event"`` a count travels as one ``b``-bit message per input whose
    count is non-zero (``n (1 - gamma)``): a zero level is not sent."""
    t = act.timesteps
    b = shape.qnn_bits(t)
    s, m, n, w = shape.synapses, shape.outputs, shape.inputs, shape.weight_bits
    fed = shape.spike_fed if shape.in_kind == "spikes" else 0.0
    spiking = fed if p.qnn_spike_input == "integrate" else 0.0
    received = fed if p.qnn_spike_input == "receive" else 0.0
    counted = 1.0 - spiking
    active = (1.0 - act.gamma) if p.dense_skips_zeros else 1.0
    level = p.cmp_pj if p.level_pj is None else p.level_pj
    hops = p.avg_hops
    per_event = p.noc_messages == "per_event"
    level_messages = (1.0 - received) * counted  # inputs whose levels arrive as messages
    noc = (n * (1.0 - act.gamma) if per_event else s) * level_messages * b \
        * p.noc_dense_pj_per_bit_hop * hops
    # received spike trains: one message (and its handling) per spike instead of one level
    spike_messages = n * received * t * act.rate_in
    noc += (spike_messages if per_event else s * received * t * act.rate_in) \
        * p.noc_sparse_pj_per_bit_hop * hops
    spikes = Energy()
    if spiking:
        if dataflow is None:
            dataflow = best_snn(shape, act, p)[0]
        # the spike-fed share is the SNN's synapses and messages without its neuron updates
        train = snn_energy(replace(shape, dynamic_macs=0), replace(act, rate_out=0.0), p,
                           dataflow)
        train_neurons = m * t * p.cmp_pj + (n * t * p.scan_pj if s else 0.0)
        spikes = Energy(compute=spiking * (train.compute - train_neurons),
                        activation=spiking * train.activation, noc=spiking * train.noc)
    return Energy(
        compute=s * counted * active * p.mac(b, w) + m * level + shape.dynamic_macs * p.mac(w, w)
        + n * t * p.count_pj + n * (1.0 - received) * (1.0 - act.gamma) * p.count_event_pj
        + spike_messages * p.event_overhead_pj + spikes.compute,
        activation=n * b * p.activation_pj_per_bit + spikes.activation,
        weights=(shape.weights if p.weight_reuse else s) * w * p.weight_read_pj_per_bit,
        noc=noc + spikes.noc)


def best_snn(shape: StageShape, act: Activity, p: EnergyParams) -> tuple[Dataflow, Energy]:
    """The cheaper SNN dataflow among the target's (ties go to the event-driven one)."""
    options = [(df, snn_energy(shape, act, p, df)) for df in p.dataflows]
    return min(options, key=lambda item: (item[1].total, DATAFLOWS.index(item[0])))


def dataflow_crossover(shape: StageShape, act: Activity, p: EnergyParams,
                       dataflow: Dataflow) -> float:
    """Input rate at which this SNN dataflow costs as much as the QNN twin (may lie outside
    [0, 1]); ``inf`` / ``-inf`` when the difference of the two does not depend on the rate."""
    aff = snn_affine(shape, act, p, dataflow)
    # the QNN energy is affine in the rate too (spike-fed twins integrate spikes): E_Q0 + E_Q1 s_r
    q0 = qnn_energy(shape, act.with_rate(0.0), p, dataflow).total
    q1 = qnn_energy(shape, act.with_rate(1.0), p, dataflow).total - q0
    gap = q0 - aff.fixed.total
    slope = aff.per_rate.total - q1
    if slope <= 1e-9 * max(aff.per_rate.total, q1):  # equal per-rate terms up to rounding
        slope = 0.0
    if slope <= 0:
        return math.inf if gap > 0 else -math.inf
    return gap / slope


def crossover_rate(shape: StageShape, act: Activity, p: EnergyParams) -> float:
    """The SNN (best dataflow) beats the QNN twin exactly when ``s_r`` is below this rate.

    Each dataflow's energy is increasing in ``s_r``, so the SNN wins iff some dataflow is below
    the QNN, i.e. iff ``s_r`` is below the largest per-dataflow crossover.
    """
    return max(dataflow_crossover(shape, act, p, df) for df in p.dataflows)


def asymptotic_crossover(timesteps: int, p: EnergyParams = TYPICAL_NEUROMORPHIC,
                         weight_bits: int = 4, gamma: float = 0.0) -> float:
    """Large-fan-in limit of the sparse crossover (neuron terms are O(1/N_src)):
    ``s_r* = [(1-gamma) E_MAC(b, w) + b E_move k_hop] / [T (E_acc + E~_move k_hop)]``.

    Weights read per use (no reuse) add ``w E_wread`` to both brackets; per-event overheads
    and activation memory depend on the fan-out and are left to :func:`crossover_rate`.
    """
    b = activation_bits(timesteps)
    hops = p.avg_hops
    weight = 0.0 if p.weight_reuse else weight_bits * p.weight_read_pj_per_bit
    active = (1.0 - gamma) if p.dense_skips_zeros else 1.0
    num = active * p.mac(b, weight_bits) + b * p.noc_dense_pj_per_bit_hop * hops + weight
    return num / (timesteps * (p.synop + p.noc_sparse_pj_per_bit_hop * hops + weight))


def crossover_curve(timesteps: range | list[int], p: EnergyParams = TYPICAL_NEUROMORPHIC,
                    weight_bits: int = 4, gamma: float = 0.0) -> list[tuple[int, float]]:
    """``s_r*(T)`` of :func:`asymptotic_crossover` for each ``T``."""
    return [(t, asymptotic_crossover(t, p, weight_bits, gamma)) for t in timesteps]


def reference_shape(fan_in: int = 4096, outputs: int = 1, weight_bits: int = 4) -> StageShape:
    """A fully connected stage with the paper's headline sizes (``N_src = 4096``)."""
    return StageShape(synapses=fan_in * outputs, outputs=outputs, inputs=fan_in,
                      weights=fan_in * outputs, weight_bits=weight_bits)


def literature_energy(shape: StageShape, act: Activity) -> dict[str, float]:
    """The "theoretical energy" used in SNN papers, pJ per inference: a real-valued input layer
    costs ``E_MAC`` per MAC (evaluated every step), a spike-driven layer ``E_AC`` per synaptic
    operation (``SOPs = S * T * s_r``, so a spike of level ``s`` is ``s`` operations);
    activation products (attention) are MACs every step. The ANN with the same architecture
    costs ``E_MAC`` per MAC once."""
    t = act.timesteps
    if shape.in_kind == "real":
        macs = shape.synapses * t
        sops = 0.0
    else:
        macs = 0
        sops = shape.synapses * t * act.rate_in
    macs += shape.dynamic_macs * t
    return {"macs": float(macs), "sops": float(sops),
            "snn_pj": macs * LIT_E_MAC_PJ + sops * LIT_E_AC_PJ,
            "ann_pj": (shape.synapses + shape.dynamic_macs) * LIT_E_MAC_PJ}


def params_from_table(table: Mapping[str, Any], source: str) -> EnergyParams:
    """Read a target's ``[energy]`` table (see ``targets/*.toml``) into :class:`EnergyParams`.

    Keys: ``add_pj`` and ``mul_pj`` (tables by operand width), ``accumulator_bits``,
    ``synop_pj`` and ``neuron_update_pj`` (optional, for software-driven cores),
    ``memory_pj_per_bit`` (a table by memory level) with ``weight_memory`` and
    ``activation_memory`` naming the levels used, ``noc_dense_pj_per_bit_hop``,
    ``noc_sparse_pj_per_bit_hop``, ``avg_hops``, ``weight_reuse``, ``event_overhead_pj``,
    ``mul_scaling``, ``dense_skips_zeros``, ``dataflows``, ``scan_pj`` (per input and step of
    an event-list scan), ``count_pj`` (per input and step summed into a QNN count),
    ``level_pj`` (per QNN output level), ``count_event_pj`` (per non-zero input count a QNN
    stage receives as one packet), ``noc_messages`` (``per_synapse`` or ``per_event``),
    ``qnn_spike_input`` (``count``, ``receive`` or ``integrate``); ``instruction_pj`` (CPU targets)
    prices the instructions ``snnc report --measure`` counts, it is not part of the model.
    """
    if not table:
        return TYPICAL_NEUROMORPHIC.with_(source=f"{source}: no [energy] table, typical defaults")
    known = {"add_pj", "mul_pj", "accumulator_bits", "memory_pj_per_bit", "weight_memory",
             "synop_pj", "neuron_update_pj",
             "activation_memory", "noc_dense_pj_per_bit_hop", "noc_sparse_pj_per_bit_hop",
             "avg_hops", "weight_reuse", "event_overhead_pj", "mul_scaling",
             "dense_skips_zeros", "dataflows", "source", "instruction_pj", "scan_pj",
             "count_pj", "level_pj", "count_event_pj", "noc_messages", "qnn_spike_input"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise InputError(f"{source}: unknown [energy] keys: {', '.join(unknown)}")
    add = _width_table(table.get("add_pj", {32: TYPICAL_NEUROMORPHIC.acc_pj}), "add_pj", source)
    mul = _width_table(table.get("mul_pj", dict(TYPICAL_NEUROMORPHIC.mul_pj)), "mul_pj", source)
    acc_bits = int(table.get("accumulator_bits", 32))
    acc = add[next((wd for wd in sorted(add) if wd >= acc_bits), max(add))]
    memory = {str(k): float(v) for k, v in table.get("memory_pj_per_bit", {}).items()}
    dataflows = tuple(table.get("dataflows", DATAFLOWS))
    if not dataflows or any(df not in DATAFLOWS for df in dataflows):
        raise InputError(f"{source}: [energy] dataflows must be a non-empty subset of "
                         f"{', '.join(DATAFLOWS)}")
    scaling = table.get("mul_scaling", "bit_product")
    if scaling not in ("bit_product", "constant"):
        raise InputError(f"{source}: [energy] mul_scaling must be bit_product or constant")
    noc_messages = table.get("noc_messages", "per_synapse")
    if noc_messages not in ("per_synapse", "per_event"):
        raise InputError(f"{source}: [energy] noc_messages must be per_synapse or per_event")
    spike_input = table.get("qnn_spike_input", "count")
    if spike_input not in ("count", "receive", "integrate"):
        raise InputError(f"{source}: [energy] qnn_spike_input must be count, receive or "
                         "integrate")
    synop = table.get("synop_pj")
    return EnergyParams(
        acc_pj=acc, cmp_pj=float(table.get("neuron_update_pj", acc)), sub_pj=acc,
        synop_pj=None if synop is None else float(synop), mul_pj=MappingProxyType(mul),
        mul_scaling=scaling,
        noc_dense_pj_per_bit_hop=float(table.get("noc_dense_pj_per_bit_hop", 0.0)),
        noc_sparse_pj_per_bit_hop=float(table.get("noc_sparse_pj_per_bit_hop", 0.0)),
        avg_hops=float(table.get("avg_hops", 0.0)),
        weight_read_pj_per_bit=_level(memory, table.get("weight_memory"), source),
        weight_reuse=bool(table.get("weight_reuse", True)),
        activation_pj_per_bit=_level(memory, table.get("activation_memory"), source),
        event_overhead_pj=float(table.get("event_overhead_pj", 0.0)),
        dense_skips_zeros=bool(table.get("dense_skips_zeros", True)),
        dataflows=dataflows, source=str(table.get("source", source)),
        scan_pj=float(table.get("scan_pj", 0.0)), count_pj=float(table.get("count_pj", 0.0)),
        count_event_pj=float(table.get("count_event_pj", 0.0)),
        level_pj=None if table.get("level_pj") is None else float(table["level_pj"]),
        noc_messages=noc_messages, qnn_spike_input=spike_input)


def _width_table(raw: Mapping[Any, Any], key: str, source: str) -> dict[int, float]:
    try:
        table = {int(k): float(v) for k, v in raw.items()}
    except (TypeError, ValueError, AttributeError):
        raise InputError(f"{source}: [energy] {key} must map bit widths to pJ") from None
    if not table or any(v < 0 for v in table.values()):
        raise InputError(f"{source}: [energy] {key} needs at least one non-negative entry")
    return table


def _level(memory: Mapping[str, float], name: Any, source: str) -> float:
    if name is None:
        return 0.0
    if name not in memory:
        raise InputError(f"{source}: [energy] memory level '{name}' is not in "
                         f"memory_pj_per_bit ({', '.join(sorted(memory)) or 'empty'})")
    return memory[name]
