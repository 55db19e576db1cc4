"""Random valid spiking networks for differential fuzzing, as hypothesis strategies.

A :class:`Recipe` holds every structural choice (family, sizes, neuron kinds and variants,
recurrence, residual adds, pooling, encoding, steps, batch) plus one integer seed for the array
values; :func:`build` turns it into a :class:`FuzzCase`. Hypothesis draws recipes (so it shrinks
structure: fewer layers, smaller sizes, plainer neurons), and fixed recipes reproduce a case
exactly. Families:

- ``mlp``: Dense -> neuron blocks, optionally a recurrent projection or a residual Add;
- ``conv``: Conv2d (kernel, stride, padding, dilation, groups) -> neuron -> pooling (max, avg,
  sum) -> optional second conv -> Flatten -> Dense -> neuron;
- ``levels``: 2-D input -> Dense -> MultiLevelSpike (input-aware or constant threshold) ->
  Dense -> LIF;
- ``attention``: Q, K, V spike layers -> SpikingSelfAttention -> Dense -> LIF.

Neurons cover LIF (beta 0 .. 1, per-neuron or shared parameters, bias, every reset kind and
timing, ``>`` and ``>=``), IF, CubaLIF, graded LIF (Sinabs' MultiSpike: spike counts, up to the
target's ``max_spikes``) and multi-level spikes. Edge cases come from the recipe:
``extreme`` replaces the quantized integers by values at the limits of the target's numeric
profile (weights at +-max, thresholds 0 or 1 or the largest, the widest biases, decays 0 and
2^D), which drives membranes into saturation and Loihi's 24-bit current into wrapping; tiny
thresholds, huge input drives and long runs come from the recipe as well. Synapses may carry
forced kernel, storage or QNN-mapping attributes, and ``pipeline`` runs the optimisation passes
(calibration, dead-neuron elimination, kernel choice, mapping) before quantization. ``twins``
runs a random subset of the convertible neuron layers as their integer QNN twins, so about half
the nets exercise the mixed schedule (QNN stages once per inference, SNN stages step by step);
their IF layers reset by subtraction, whose twins are exact (leaky, reset-to-zero and CUBA
layers give approximate ones). ``widen`` quantizes every weight group of a stage stepped as
SNN ``e`` bits wider (a stage mapped to its QNN twin keeps the twin's weights; each
weight layer then runs as a high and a low member of one current, :mod:`snnc.passes.widen`)
and a real-valued input ``e`` bits wider, as the fidelity search does where 8 bits lose spikes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

from snnc.errors import QuantizationError, ShapeError, UnsupportedError
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
    SpikingSelfAttention,
)
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.ir.stages import is_source, source_peak
from snnc.passes.fidelity import widenable_groups
from snnc.passes.or_pooling import is_or_neuron
from snnc.passes.pipeline import optimize
from snnc.passes.quantize import QuantizeOptions, StageScale, quantize, stage_groups
from snnc.passes.snn_to_qnn import convert_quantized, convertible, mapped_neurons
from snnc.reference.encode import encode
from snnc.target import Target

F32 = np.float32
I64 = np.int64
FAMILIES = ("mlp", "conv", "levels", "attention")
NEURONS = ("lif", "if", "cuba", "levels", "graded")


@dataclass(frozen=True)
class Recipe:
    """Every choice that shapes one case; ``seed`` fills the arrays."""

    family: str
    seed: int
    width: int               # input features (mlp), channels (conv) or columns (levels/attention)
    hidden: tuple[int, ...]  # widths of the hidden neuron layers
    neurons: tuple[str, ...] # kind of each hidden neuron layer (mlp)
    variant: int             # bit set: per-neuron params, bias, reset/timing/compare variants
    recurrent: bool
    residual: bool
    pool: str                # conv: max, avg, sum or none
    encoding: str
    steps: int
    batch: int
    drive_scale: float       # direct encoding: spread of the real inputs
    tiny_threshold: bool
    extreme: bool
    pipeline: bool           # run the optimisation pipeline (calibration, mapping) first
    twins: int = 0           # bit i % 4: run the i-th convertible neuron layer as its QNN twin
    widen: int = 0           # extra bits for every weight group and a real-valued input


@dataclass(frozen=True)
class FuzzCase:
    recipe: Recipe
    graph: Graph
    x: np.ndarray  # (batch, *input shape), float32

    def drive(self) -> np.ndarray:
        return encode(self.x, self.recipe.steps, self.graph.encoding, self.graph.input.shape)

    def quantized(self, target: Target) -> QuantizedGraph:
        """The integer graph for ``target``: quantized from the floats, then (``extreme``)
        pushed to the limits of the target's numeric profile."""
        graph = self.graph
        if self.recipe.pipeline:
            graph = optimize(graph, target, calib=self.x)
        qg = quantize(graph, target.numeric, calib=self.x, target=target.name,
                      options=self.widened(graph, target))
        if self.recipe.extreme:
            qg = extremes(qg, np.random.default_rng(self.recipe.seed + 1))
        return self.mapped(qg)

    def widened(self, graph: Graph, target: Target) -> QuantizeOptions | None:
        """The recipe's widening as quantizer options: every weight group ``widen`` bits
        wider (as far as the profile's exponents and registers allow), a real-valued input
        too (up to ``wide_input_bits``)."""
        e, p = self.recipe.widen, target.numeric
        if not e:
            return None
        # as the fidelity search does: a stage mapped to its QNN twin keeps the twin's weights
        first = quantize(graph, p, calib=self.x, target=target.name).graph
        roots = widenable_groups(first, stage_groups(first))
        bits = (min(p.input_bits + e, p.wide_input_bits)
                if graph.encoding != "rate" and p.wide_input_bits > p.input_bits else None)
        return QuantizeOptions(stages={root: StageScale(widen=e) for root in roots},
                               input_bits=bits)

    def mapped(self, qg: QuantizedGraph) -> QuantizedGraph:
        """``qg`` with the recipe's choice of stages run as QNN twins (the mixed schedule),
        from its integer parameters; unchanged where the twin cannot be made exactly."""
        candidates = convertible(qg.graph)
        if not self.recipe.twins or not candidates:
            return qg
        # the mask's four bits cycle over the candidates; a mask that misses them all still
        # maps one, so every recipe that asks for twins and has a candidate is mixed
        picked = {n for i, n in enumerate(candidates) if self.recipe.twins >> (i % 4) & 1}
        picked = picked or {candidates[self.recipe.twins % len(candidates)]}
        # with the pipeline, the stages ``auto`` mapped to QNN become twins too (as in
        # snnc.api.quantize): a graph is either converted where annotated or not at all
        picked |= set(mapped_neurons(qg.graph))
        chosen = [n for n in candidates if n in picked]
        try:
            return convert_quantized(qg, chosen, self.recipe.steps)
        except (UnsupportedError, QuantizationError):
            return qg  # a fractional integer threshold or a bias beyond 32 bits: stays SNN


# -- recipes -------------------------------------------------------------------------------

@st.composite
def recipes(draw: st.DrawFn, families: tuple[str, ...] = FAMILIES) -> Recipe:
    family = draw(st.sampled_from(families))
    depth = draw(st.integers(1, 3)) if family == "mlp" else draw(st.integers(1, 2))
    extreme = draw(st.integers(0, 5)) == 5
    long_run = draw(st.integers(0, 7)) == 7
    return Recipe(
        family=family,
        seed=draw(st.integers(0, 2**31 - 1)),
        width=draw(st.integers(1, 4)) if family == "conv" else draw(st.integers(1, 24)),
        hidden=tuple(draw(st.lists(st.integers(1, 24), min_size=depth, max_size=depth))),
        neurons=tuple(draw(st.lists(st.sampled_from(NEURONS), min_size=depth,
                                    max_size=depth))),
        variant=draw(st.integers(0, 127)),
        recurrent=draw(st.booleans()),
        residual=draw(st.booleans()),
        pool=draw(st.sampled_from(("none", "sum", "avg", "max"))),
        encoding=draw(st.sampled_from(("direct", "rate"))),
        steps=draw(st.integers(40, 160)) if long_run or extreme else draw(st.integers(1, 12)),
        batch=draw(st.integers(1, 4)),
        drive_scale=draw(st.sampled_from((0.1, 1.0, 4.0, 1e4))),
        tiny_threshold=draw(st.integers(0, 7)) == 7,
        extreme=extreme,
        pipeline=draw(st.integers(0, 3)) == 3,
        twins=max(0, draw(st.integers(-15, 15))),  # about half the nets mixed
        widen=max(0, draw(st.integers(-5, 3))),     # a third of the nets widened by 1-3 bits
    )


def fuzz_cases(families: tuple[str, ...] = FAMILIES) -> st.SearchStrategy[FuzzCase]:
    return recipes(families).map(build)


# -- building a case -------------------------------------------------------------------------

class _Net:
    """Accumulates layers; array values come from the recipe's seed."""

    def __init__(self, recipe: Recipe) -> None:
        self.r = recipe
        self.rng = np.random.default_rng(recipe.seed)
        self.layers: list[Layer] = []

    def flag(self, bit: int) -> bool:
        return bool(self.r.variant >> bit & 1)

    def add(self, layer: Layer) -> str:
        self.layers.append(layer)
        return layer.name

    def weights(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        w = self.rng.normal(0.0, 2.5 / np.sqrt(max(fan_in, 1)), shape)
        if self.flag(5):
            w[self.rng.random(shape) < 0.6] = 0.0  # sparse: event kernels and CSR storage
        return w.astype(F32)

    def param(self, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
        if self.flag(0):
            return self.rng.uniform(lo, hi, shape).astype(F32)
        return F32(self.rng.uniform(lo, hi))

    def threshold(self, shape: tuple[int, ...]) -> np.ndarray:
        if self.r.tiny_threshold:
            return F32(1e-6)
        if self.r.twins:  # a QNN twin needs one threshold per layer
            return F32(self.rng.uniform(0.4, 1.6))
        return self.param(shape, 0.4, 1.6)

    def behaviour(self) -> dict[str, str]:
        pick = self.rng.integers(0, 6)
        return {"reset": ("zero", "subtract", "none")[pick % 3] if self.flag(2) else "zero",
                "reset_timing": "next" if self.flag(3) and pick % 2 else "same",
                "compare": "ge" if self.flag(4) else "gt"}

    def bias(self, shape: tuple[int, ...]) -> np.ndarray | None:
        return self.rng.normal(0, 0.3, shape).astype(F32) if self.flag(1) else None

    def neuron(self, kind: str, name: str, src: str, shape: tuple[int, ...]) -> str:
        per = (shape[0], 1, 1) if len(shape) == 3 else shape
        if kind == "levels":
            return self.add(MultiLevelSpike(name, (src,), levels=int(self.rng.integers(1, 8)),
                                            axis=None, theta=float(self.rng.uniform(0.2, 1.0))))
        if kind == "cuba":
            return self.add(CubaLIF(
                name, (src,), current_decay=self.param(per, 0.0, 1.0),
                voltage_decay=self.param(per, 0.0, 1.0), threshold=self.threshold(per),
                bias=self.bias(per), **self.behaviour()))
        if kind == "graded":  # thresholds a fifth of the usual: several spikes a step
            return self.add(LIF(name, (src,), beta=np.asarray(
                (F32(1.0), self.param(per, 0.0, 1.0))[int(self.rng.integers(0, 2))], F32),
                threshold=self.threshold(per) / F32(5), bias=self.bias(per), reset="subtract",
                compare="ge", graded=True))
        betas = (F32(0.0), F32(1.0), self.param(per, 0.0, 1.0), self.param(per, 0.0, 1.0))
        beta = F32(1.0) if kind == "if" else betas[int(self.rng.integers(0, len(betas)))]
        threshold, bias, behaviour = self.threshold(per), self.bias(per), self.behaviour()
        if kind == "if" and self.r.twins:  # IF with reset by subtraction: an exact QNN twin
            behaviour["reset"] = "subtract"
        return self.add(LIF(name, (src,), beta=np.asarray(beta, F32), threshold=threshold,
                            bias=bias, **behaviour))

    def synapse_attrs(self) -> dict[str, str]:
        """With variant bit 6, force a kernel, a storage or the QNN mapping (backends then take
        paths their own heuristics would not)."""
        if not self.flag(6):
            return {}
        options = ({"kernel": "dense"}, {"kernel": "event"}, {"storage": "csr"},
                   {"storage": "dense"}, {"mapping": "qnn"}, {})
        return dict(options[int(self.rng.integers(0, len(options)))])

    def dense(self, name: str, src: str, n_in: int, n_out: int, **kw: object) -> str:
        layer = Dense(name, (src,), weight=self.weights((n_out, n_in), n_in),
                      bias=self.bias((n_out,)), **kw)
        return self.add(layer.with_attrs(**self.synapse_attrs()))


def _mlp(net: _Net) -> tuple[str, tuple[int, ...]]:
    r = net.r
    prev, width = net.add(Input("x", (), shape=(r.width,))), r.width
    spikes: list[tuple[str, int]] = []
    for i, (n, kind) in enumerate(zip(r.hidden, r.neurons, strict=True)):
        name = f"n{i}"
        current = net.dense(f"w{i}", prev, width, n)
        if r.recurrent and i == 0 and kind != "levels" and not r.twins:  # QNN: feed-forward
            rec = net.dense(f"r{i}", name, n, n, recurrent=True)
            current = net.add(Add(f"sum{i}", (current, rec)))
        if r.residual and i == len(r.hidden) - 1 and spikes:
            src, src_n = spikes[-1]
            skip = net.dense(f"skip{i}", src, src_n, n)
            current = net.add(Add(f"res{i}", (current, skip)))
        prev, width = net.neuron(kind, name, current, (n,)), n
        spikes.append((prev, n))
    return prev, (r.width,)


def _conv(net: _Net) -> tuple[str, tuple[int, ...]]:
    r = net.r
    rng = net.rng
    c_in, side = r.width, int(rng.integers(4, 10))
    src = net.add(Input("img", (), shape=(c_in, side, side)))
    shape = (c_in, side, side)
    for i, c_out in enumerate(r.hidden):
        c_out = min(c_out, 8)
        groups = int(rng.choice([g for g in (1, 2) if shape[0] % g == 0 and c_out % g == 0]))
        k = int(rng.integers(1, 4))
        pad = tuple(int(rng.integers(0, k)) for _ in range(4))
        dil = (1, int(rng.integers(1, 3))) if k > 1 else (1, 1)
        conv = Conv2d(f"conv{i}", (src,), weight=net.weights(
            (c_out, shape[0] // groups, k, k), shape[0] // groups * k * k),
            bias=net.bias((c_out,)), stride=(int(rng.integers(1, 3)), 1), padding=pad,
            dilation=dil, groups=groups).with_attrs(**net.synapse_attrs())
        try:
            out = conv.out_shape([shape])
        except ShapeError:  # the window no longer fits: stop stacking convolutions
            break
        net.add(conv)
        src = net.neuron(r.neurons[i] if r.neurons[i] != "levels" else "lif", f"n{i}",
                         conv.name, out)
        shape = out
        if i == 0 and r.pool != "none" and min(shape[1:]) >= 2:
            pool = Pool2d(f"pool{i}", (src,), pool=r.pool, kernel=(2, 2),
                          stride=(int(rng.integers(1, 3)),) * 2)
            shape = pool.out_shape([shape])
            src = net.add(pool)
    flat = net.add(Flatten("flat", (src,)))
    n = int(np.prod(shape))
    fc = net.dense("fc", flat, n, 5)
    return net.neuron("lif", "out", fc, (5,)), (c_in, side, side)


def _levels(net: _Net) -> tuple[str, tuple[int, ...]]:
    r = net.r
    rows, hidden = int(net.rng.integers(1, 4)), r.hidden[0]
    net.add(Input("x", (), shape=(rows, r.width)))
    fc = net.dense("w0", "x", r.width, hidden)
    axis = [None, -1, 0, 1][r.variant % 4]
    ml = net.add(MultiLevelSpike("levels", (fc,), levels=int(net.rng.integers(1, 8)),
                                 alpha=float(net.rng.uniform(0.3, 2.0)), axis=axis,
                                 theta=None if axis is not None else float(
                                     net.rng.uniform(0.2, 1.0))))
    out = net.dense("w1", ml, hidden, 4)
    return net.neuron("lif", "out", out, (rows, 4)), (rows, r.width)


def _attention(net: _Net) -> tuple[str, tuple[int, ...]]:
    r = net.r
    length, heads = int(net.rng.integers(2, 6)), 1 + r.variant % 2
    dim = heads * max(1, min(r.hidden[0], 6))
    net.add(Input("x", (), shape=(length, r.width)))
    for role in ("q", "k", "v"):
        fc = net.dense(f"w_{role}", "x", r.width, dim)
        net.neuron("lif", f"s_{role}", fc, (length, dim))
    ssa = net.add(SpikingSelfAttention(
        "ssa", ("s_q", "s_k", "s_v"), heads=heads, scale=float(net.rng.uniform(0.1, 1.0)),
        gammas=net.rng.uniform(0.0, 1.0, heads).astype(F32)))
    out = net.dense("proj", ssa, dim, 4)
    return net.neuron("lif", "out", out, (length, 4)), (length, r.width)


_FAMILIES = {"mlp": _mlp, "conv": _conv, "levels": _levels, "attention": _attention}


def build(recipe: Recipe) -> FuzzCase:
    """The network and inputs a recipe describes (deterministic)."""
    net = _Net(recipe)
    output, in_shape = _FAMILIES[recipe.family](net)
    graph = Graph(tuple(net.layers), output=output, timesteps=recipe.steps,
                  encoding=recipe.encoding, name=f"fuzz_{recipe.family}")
    rng = np.random.default_rng(recipe.seed + 2)
    if recipe.encoding == "rate":
        x = rng.uniform(0, 1, (recipe.batch, *in_shape))
    else:
        x = rng.normal(0, recipe.drive_scale, (recipe.batch, *in_shape))
    return FuzzCase(recipe, graph, x.astype(F32))


# -- integer extremes ------------------------------------------------------------------------

def _pick(rng: np.random.Generator, shape: tuple[int, ...], values: list[int]) -> np.ndarray:
    """Mostly the listed edge values, some uniform draws between the extremes."""
    edge = np.asarray(values, I64)[rng.integers(0, len(values), shape)]
    uniform = rng.integers(min(values), max(values) + 1, shape, dtype=I64)
    return np.where(rng.random(shape) < 0.7, edge, uniform)


# Lava corrects a wrapped current once, so its current is modular (like the reference's) only
# for inputs up to 2^18 per step; the quantizer keeps currents far below (see
# snnc.backends.loihi.check). An exponent that would pass this is lowered.
MODULAR_INPUT = 1 << 18


def _exponent(qg: QuantizedGraph, layer: Dense | Conv2d, mant: np.ndarray, k: int) -> int:
    """``k``, or less, so that the weights ``mant << k`` keep the worst-case current within
    :data:`MODULAR_INPUT` (0 for layers not reading a source directly)."""
    graph = qg.graph
    src = graph.layer(layer.inputs[0])
    if not is_source(src):
        return 0
    peak = source_peak(src, qg.profile, graph.encoding)
    row = int(np.abs(mant).reshape(mant.shape[0], -1).sum(axis=1).max(initial=0))
    while k and (row * peak) << k > MODULAR_INPUT:
        k -= 1
    return k


def extremes(qg: QuantizedGraph, rng: np.random.Generator) -> QuantizedGraph:
    """``qg`` with weights (times a random weight exponent where the profile has one),
    thresholds, neuron biases and decays at the profile's limits (an
    OR neuron keeps its parameters: it is how Loihi max-pools, not a neuron of the model)."""
    p = qg.profile
    w_max, one = p.weight_max, 1 << p.decay_bits
    vth_max = (1 << p.threshold_bits) - 1
    b_max = (1 << (p.bias_bits - 1)) - 1
    layers = dict(qg.layers)
    if p.neuron_model == "bitshift":
        # a residual net's two weight layers from one source are summed into one int8 weight
        w_max //= 2
    for lay in qg.graph.layers:
        q = layers.get(lay.name, QuantLayer())
        if isinstance(lay, Dense | Conv2d):
            # any weight exponent the profile has: mantissas at their limits times 2^k
            mant = _pick(rng, np.shape(q.weight), [-w_max, w_max, 0, 1, -1])
            k = _exponent(qg, lay, mant, int(rng.integers(0, p.weight_exp_max + 1)))
            layers[lay.name] = replace(q, weight=mant << k, weight_exp=k)
        elif isinstance(lay, LIF | CubaLIF) and p.neuron_model == "bitshift":
            # shift amounts 0..15 and thresholds of at least 1 (v >= vth fires)
            changes = {"vth": _pick(rng, np.shape(q.vth), [1, 2, vth_max]),
                       "dv": _pick(rng, np.shape(q.dv), [0, 1, 14, 15]),
                       "du": _pick(rng, np.shape(q.du), [0, 1, 14, 15])}
            if q.bias is not None:
                changes["bias"] = _pick(rng, np.shape(q.bias), [-b_max - 1, b_max, 0])
            layers[lay.name] = replace(q, **changes)
        elif isinstance(lay, LIF | CubaLIF) and not is_or_neuron(lay):
            shape = np.shape(q.vth)
            lowest = 1 if getattr(lay, "graded", False) else 0  # counts divide by theta >= 1
            changes = {"vth": _pick(rng, shape, [lowest, 1, vth_max, 2]),
                       "dv": _pick(rng, np.shape(q.dv), [0, one, 1, one - 1])}
            if q.bias is not None:
                # past the mantissa: biases only a bias exponent holds (Loihi's 2^7 >> 6)
                wide = [-2 * b_max, 2 * b_max] if p.weight_exp_max else []
                changes["bias"] = _pick(rng, np.shape(q.bias), [-b_max, b_max, 0, *wide])
            if isinstance(lay, CubaLIF):
                top = one - p.current_decay_offset
                changes["du"] = _pick(rng, np.shape(q.du), [0, top, 1, top - 1])
            layers[lay.name] = replace(q, **changes)
    return replace(qg, layers=layers)
