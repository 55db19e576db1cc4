"""The model as SpiNNaker sees it: populations of neurons and the synaptic stages between them.

Every neuron layer is a population, and so is the graph input (a spike source whose packets carry
the integer input value). When the graph's output is not a neuron layer, a *readout* population
holds the output layer's value: a PE that records its synaptic input every step.

Each non-source population is driven by one synaptic stage: all weight, pooling, reshape and add
layers between it and the source populations it reads. Sources are read ``synapse_delay`` steps
late, which is exactly the delay of a multicast packet consumed from the PE's ring buffer. A stage
is mapped one of two ways:

- **event** (the SNN mapping): the stage is affine, so it is composed into one synapse matrix per
  source population plus a constant input per target neuron; PEs process one synaptic row per
  received packet. Used when every weight of the composed matrix fits the 16-bit synapse word and
  the summed input of every neuron fits the 32-bit ring-buffer accumulator.
- **mac** (the QNN / MAC-accelerator mapping): the PE keeps its sources' latest outputs in dense
  input buffers and runs the stage's layers as a small program on the MAC accelerator. Used for
  max pooling, spiking self-attention, layers annotated ``mapping="qnn"`` and stages whose
  composed weights do not fit the synapse word.

QNN twins (``snnc.passes.snn_to_qnn``) follow the mixed schedule of ``snnc.reference.mapped``:
their populations are ``once`` (the MAC program runs once per inference, after the steps of the
phase that feeds it, on input buffers that sum the packets of the whole run) and populations
behind them run in a later ``phase`` whose steps start when the levels have arrived.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from types import MappingProxyType

import numpy as np

from snnc.backends.common.compose import StageComposer
from snnc.backends.common.sparse import Coo
from snnc.errors import UnsupportedError
from snnc.ir import layers as ir
from snnc.ir.quantized import NumericProfile, QuantizedGraph, QuantLayer
from snnc.ir.stages import is_source, source_peak, stage_of
from snnc.reference.integer import bias_onsets
from snnc.reference.mapped import phases

I64 = np.int64
WEIGHT_LIMIT = (1 << 15) - 1    # synapse word: signed 16-bit weight
ACCUMULATOR_LIMIT = (1 << 31) - 1  # ring buffer slots are int32


class Model(IntEnum):
    """Neuron model a PE runs (the ``model`` byte of its image)."""

    SOURCE = 0
    LIF = 1
    CUBA = 2
    MULTILEVEL = 3
    READOUT = 4


RESET_CODES = {"zero": 0, "subtract": 1, "none": 2}
TIMING_CODES = {"same": 0, "next": 1}
COMPARE_CODES = {"gt": 0, "ge": 1}


@dataclass(frozen=True, eq=False)
class Population:
    """A layer's neurons, flattened row-major. Slices are multiples of ``block`` neurons (the
    groups an input-aware multi-level threshold averages over must stay on one PE).

    ``params`` holds per-neuron int64 arrays (``du``, ``dv``, ``vth``, ``bias``); ``settings``
    holds the per-population integers of the neuron model.
    """

    index: int
    name: str
    model: Model
    shape: tuple[int, ...]
    block: int = 1
    phase: int = 0      # the mixed schedule (snnc.reference.mapped.phases): 0 steps first
    once: bool = False  # a QNN stage: runs once per inference on its sources' counts
    params: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))
    settings: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def payload(self) -> bool:
        """Packets carry a value (input values, spike levels, graded spike counts) rather than
        meaning "one spike"."""
        return self.model in (Model.SOURCE, Model.MULTILEVEL) or (
            self.model == Model.LIF and self.settings.get("levels", 0) > 0)

    @property
    def records_v(self) -> bool:
        return self.model in (Model.LIF, Model.CUBA)

    @property
    def is_neuron(self) -> bool:
        return self.model in (Model.LIF, Model.CUBA, Model.MULTILEVEL)


@dataclass(frozen=True, eq=False)
class EventStage:
    """Affine stage: ``current = sum_s synapses[s] @ out_s + bias``. ``synapses[s]`` has one
    row per target neuron and one column per source neuron: a target slice's synapses are
    one run of its entries, from which its PE's synaptic rows are built."""

    sink: int
    synapses: Mapping[int, Coo]
    bias: np.ndarray

    @property
    def sources(self) -> tuple[int, ...]:
        return tuple(sorted(self.synapses))


@dataclass(frozen=True, eq=False)
class MacOp:
    """One layer of a MAC program: reads slots ``inputs``, writes a tensor of ``shape``.

    Slots ``0..len(sources)-1`` are the sources' input buffers; op ``k`` writes slot
    ``len(sources) + k``. ``params`` are small integers, ``tensors`` int64 arrays.
    """

    opcode: str
    inputs: tuple[int, ...]
    shape: tuple[int, ...]
    params: Mapping[str, tuple[int, ...]]
    tensors: Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class MacStage:
    """Stage run as a program on the MAC accelerator; ``reason`` says why it is not an event
    stage (reported in ``layout.json``)."""

    sink: int
    sources: tuple[int, ...]
    source_shapes: tuple[tuple[int, ...], ...]
    ops: tuple[MacOp, ...]
    reason: str = ""


Stage = EventStage | MacStage


@dataclass(frozen=True, eq=False)
class Network:
    """Populations (index = position), the stage driving each non-source population, direct
    input injections (a neuron layer reading the graph input with no synapse in between), the
    output population and whether the output is its spikes or its value."""

    populations: tuple[Population, ...]
    stages: Mapping[int, Stage]
    injections: Mapping[int, int]
    output: int
    profile: NumericProfile
    name: str = "model"
    steps: int = 0  # T of the QNN twins (their counts span T steps); 0 without twins

    def targets_of(self, pop: int) -> list[int]:
        return sorted(sink for sink, st in self.stages.items() if pop in st.sources)


_PE_LAYERS = (ir.Input, ir.LIF, ir.CubaLIF, ir.MultiLevelSpike, ir.Dense, ir.Conv2d, ir.Pool2d,
              ir.Flatten, ir.Reshape, ir.Add, ir.SpikingSelfAttention)


def unsupported_reason(layer: ir.Layer) -> str | None:
    """Why ``layer`` cannot run on a SpiNNaker 2 PE whatever its values, or None (refusals that
    depend on the graph around the layer or on the values are raised by :func:`build_network`)."""
    if type(layer) not in _PE_LAYERS:
        return f"{type(layer).__name__} cannot run on a PE"
    if isinstance(layer, ir.LIF | ir.CubaLIF) and layer.reset not in RESET_CODES:
        return f"reset kind '{layer.reset}' is not implemented"
    return None


def _per_neuron(value: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if value is None:
        return np.zeros(math.prod(shape), I64)
    return np.broadcast_to(np.asarray(value, I64), shape).reshape(-1).copy()


def _population(index: int, layer: ir.Layer, q: QuantLayer, shape: tuple[int, ...],
                profile: NumericProfile, target: str) -> Population:
    if isinstance(layer, ir.Input):
        return Population(index, layer.name, Model.SOURCE, shape)
    if isinstance(layer, ir.LIF | ir.CubaLIF):
        params = {"dv": _per_neuron(q.dv, shape), "vth": _per_neuron(q.vth, shape),
                  "bias": _per_neuron(q.bias, shape)}
        if isinstance(layer, ir.CubaLIF):
            params["du"] = _per_neuron(q.du, shape)
        for pname, values in params.items():
            if values.size and int(np.abs(values).max()) > ACCUMULATOR_LIMIT:
                raise UnsupportedError(f"neuron parameter {pname} does not fit the PE's 32-bit "
                                       "parameter words", layer.name, target)
        settings = {"reset": RESET_CODES[layer.reset], "timing": TIMING_CODES[layer.reset_timing],
                    "compare": COMPARE_CODES[layer.compare]}
        if isinstance(layer, ir.LIF) and layer.graded:  # counts up to levels, as the payload
            if int(params["vth"].min(initial=1)) < 1:
                raise UnsupportedError("graded spikes need a threshold of at least 1",
                                       layer.name, target)
            settings["levels"] = profile.max_spikes
        model = Model.CUBA if isinstance(layer, ir.CubaLIF) else Model.LIF
        return Population(index, layer.name, model, shape,
                          params=MappingProxyType(params), settings=MappingProxyType(settings))
    if isinstance(layer, ir.MultiLevelSpike):
        settings = {"levels": layer.levels}
        block = 1
        if layer.axis is None:
            settings |= {"adaptive": 0, "vth": int(np.asarray(q.vth)), "group_len": 1,
                         "group_inner": 1, "alpha_mant": 0}
        else:
            axis = layer.axis % len(shape)
            inner = math.prod(shape[axis + 1:])
            settings |= {"adaptive": 1, "vth": 0, "group_len": shape[axis],
                         "group_inner": inner, "alpha_mant": int(q.alpha_mant or 0)}
            block = shape[axis] * inner
        return Population(index, layer.name, Model.MULTILEVEL, shape, block=block,
                          settings=MappingProxyType(settings))
    raise UnsupportedError(f"{type(layer).__name__} is not a population", layer.name, target)


def _needs_mac(layers: list[ir.Layer]) -> str | None:
    """Why a stage cannot be one affine map (None when it can)."""
    for lay in layers:
        if isinstance(lay, ir.Pool2d) and lay.pool == "max":
            return f"max pooling '{lay.name}'"
        if isinstance(lay, ir.SpikingSelfAttention):
            return f"attention '{lay.name}'"
        if lay.attrs.get("mapping") == "qnn":
            return f"layer '{lay.name}' is mapped to the QNN (MAC) path"
    return None


def _mac_stage(qg: QuantizedGraph, sink: int, layers: list[ir.Layer], sources: list[str],
               pop_of: dict[str, int], target: str, reason: str) -> MacStage:
    graph, p = qg.graph, qg.profile
    slot = {name: i for i, name in enumerate(sources)}
    ops: list[MacOp] = []
    for lay in layers:
        q = qg.layers.get(lay.name, QuantLayer())
        ins = tuple(slot[s] for s in lay.inputs)
        shape = graph.shape(lay.name)
        params: dict[str, tuple[int, ...]] = {}
        tensors: dict[str, np.ndarray] = {}
        if isinstance(lay, ir.Dense):
            opcode = "dense"
            tensors["weight"] = np.asarray(q.weight, I64)
            if q.bias is not None:
                tensors["bias"] = np.asarray(q.bias, I64)
        elif isinstance(lay, ir.Conv2d):
            opcode = "conv"
            tensors["weight"] = np.asarray(q.weight, I64)
            if q.bias is not None:
                tensors["bias"] = np.asarray(q.bias, I64)
            params = {"stride": lay.stride, "padding": lay.padding, "dilation": lay.dilation,
                      "groups": (lay.groups,)}
        elif isinstance(lay, ir.Pool2d):
            opcode = "maxpool" if lay.pool == "max" else "sumpool"
            params = {"kernel": lay.kernel, "stride": lay.stride, "padding": lay.padding}
        elif isinstance(lay, ir.Flatten | ir.Reshape):
            opcode = "reshape"
        elif isinstance(lay, ir.Add):
            opcode = "add"
        elif isinstance(lay, ir.SpikingSelfAttention):
            opcode = "attention"
            params = {"heads": (lay.heads,), "mask_frac_bits": (p.mask_frac_bits,)}
            tensors["mask"] = np.asarray(q.mask, I64)
        else:
            raise UnsupportedError(f"{type(lay).__name__} cannot run on a PE", lay.name, target)
        slot[lay.name] = len(sources) + len(ops)
        ops.append(MacOp(opcode, ins, tuple(shape), MappingProxyType(params),
                         MappingProxyType(tensors)))
    return MacStage(sink, tuple(pop_of[s] for s in sources),
                    tuple(tuple(graph.shape(s)) for s in sources), tuple(ops), reason)


def _event_fits(qg: QuantizedGraph, synapses: dict[str, Coo], bias: np.ndarray) -> bool:
    """Composed weights fit the synapse word and worst-case input fits the accumulator."""
    graph, profile = qg.graph, qg.profile
    bound = np.abs(bias)
    for src, mat in synapses.items():
        if mat.nnz and max(-int(mat.vals.min()), int(mat.vals.max())) > WEIGHT_LIMIT:
            return False
        q = qg.layers.get(src)
        peak = source_peak(graph.layer(src), profile, vth=None if q is None else q.vth)
        bound = bound + mat.abs_sums(axis=1) * peak
    return bool(bound.size == 0 or int(bound.max()) <= ACCUMULATOR_LIMIT)


def _with_onset(settings: Mapping[str, int], onset: int) -> Mapping[str, int]:
    """``bias_on``: the step from which the population's stage biases and its own are added
    (:func:`snnc.reference.integer.bias_onsets`)."""
    return MappingProxyType({**settings, "bias_on": onset}) if onset else settings


def build_network(qg: QuantizedGraph, target: str) -> Network:
    """Populations and stages of a quantized graph; raises UnsupportedError naming the layer."""
    graph, profile = qg.graph, qg.profile
    if profile.synapse_delay < 1:
        raise UnsupportedError("SpiNNaker 2 delivers every packet at least one step later; "
                               f"synapse_delay={profile.synapse_delay} cannot be met",
                               target=target)
    if profile.state_bits > 32 or profile.current_bits > 32:
        raise UnsupportedError("neuron state wider than 32 bits does not fit a PE's registers",
                               target=target)
    for lay in graph.layers:
        reason = unsupported_reason(lay)
        if reason:
            raise UnsupportedError(reason, lay.name, target)
    when = phases(graph)
    _check_phases(graph, when, target)
    onset = bias_onsets(graph, profile)
    pops: list[Population] = []
    pop_of: dict[str, int] = {}
    for lay in graph.layers:
        if is_source(lay):
            q = qg.layers.get(lay.name, QuantLayer())
            pop = _population(len(pops), lay, q, graph.shape(lay.name), profile, target)
            pops.append(replace(pop, phase=when[lay.name][0], once=when[lay.name][1],
                                settings=_with_onset(pop.settings, onset[lay.name])))
            pop_of[lay.name] = pops[-1].index
    out_layer = graph.layer(graph.output)
    if isinstance(out_layer, ir.Input):
        raise UnsupportedError("the graph output is its input; nothing runs on the machine",
                               graph.output, target)
    if not is_source(out_layer):
        pops.append(Population(len(pops), out_layer.name, Model.READOUT,
                               tuple(graph.shape(out_layer.name)), phase=when[out_layer.name][0],
                               once=when[out_layer.name][1],
                               settings=_with_onset({}, onset[out_layer.name])))
        pop_of[out_layer.name] = pops[-1].index
    composer = StageComposer(qg)
    stages: dict[int, Stage] = {}
    injections: dict[int, int] = {}
    for pop in pops:
        if pop.model == Model.SOURCE:
            continue
        layer = graph.layer(pop.name)
        root = layer.inputs[0] if pop.is_neuron else layer.name
        root_layer = graph.layer(root)
        if pop.is_neuron and is_source(root_layer):
            if isinstance(root_layer, ir.Input):
                injections[pop.index] = pop_of[root]
                continue
            raise UnsupportedError(
                f"reads neuron layer '{root}' directly; packets arrive one step late, so put a "
                "weight layer (Dense/Conv) between the two neuron layers", layer.name, target)
        stages[pop.index] = _stage(qg, composer, pop.index, root, pop_of, target, pop.once)
    steps = next((int(lay.attrs["twin_timesteps"]) for lay in graph.layers
                  if "twin_timesteps" in lay.attrs), 0)
    return Network(tuple(pops), MappingProxyType(stages), MappingProxyType(injections),
                   pop_of[graph.output], profile, graph.name, steps)


def _check_phases(graph: ir.Graph, when: Mapping[str, tuple[int, bool]], target: str) -> None:
    """A step-series layer may read step values of its own phase only: a PE of a later phase
    runs after the earlier phase's steps are over, and no PE keeps their history."""
    for lay in graph.layers:
        ph, once = when[lay.name]
        for src in lay.inputs:
            if not once and not when[src][1] and when[src][0] < ph:
                raise UnsupportedError(f"reads the steps of '{src}', which ran before a QNN "
                                       "stage it also waits for", lay.name, target)


def _stage(qg: QuantizedGraph, composer: StageComposer, sink: int, root: str,
           pop_of: dict[str, int], target: str, once: bool = False) -> Stage:
    graph = qg.graph
    stage = stage_of(graph, root)
    layers = [graph.layer(m) for m in stage.members]
    sources = sorted(stage.sources)  # by name: the order of a MAC program's input slots
    for lay in layers:
        for src in lay.inputs:
            if getattr(lay, "recurrent", False) and not is_source(graph.layer(src)):
                raise UnsupportedError("a recurrent synapse must read a neuron layer",
                                       lay.name, target)
    reason = ("QNN stage: once per inference on the counts of its sources" if once
              else _needs_mac(layers))
    if reason is None:
        maps, bias = composer.affine(root)
        composer.memo.pop(root)  # held by the stage from here on (composing again is exact)
        if _event_fits(qg, maps, bias):
            synapses = {pop_of[name]: mat for name, mat in maps.items()}
            return EventStage(sink, MappingProxyType(dict(sorted(synapses.items()))), bias)
        reason = ("composed weights exceed the 16-bit synapse word or the summed input the "
                  "32-bit accumulator")
    return _mac_stage(qg, sink, layers, sources, pop_of, target, reason)
