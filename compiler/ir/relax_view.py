"""Extract the typed layer view (:mod:`snnc.ir.layers`) from a raised Relax module.

Relax conventions this module reads (written by ``snnc.frontend``):

- ``main(x, *state) -> output | (outputs...)`` is one timestep; its attributes name the ONNX
  inputs/outputs (``snn.input_names``, ``snn.output_names``), the data input and output
  (``snn.data_input``, ``snn.data_output``), the state pairs (``snn.state_inputs`` with
  ``snn.state_outputs``: parameter index -> output index), and ``snn.timesteps``,
  ``snn.encoding``, ``snn.model_name``.
- Every layer is a call of a composite function (``Composite = "snn.<kind>"``, parameters bound
  inside as constants, ``snn.layer_name`` its name). The only other bindings allowed in ``main``
  are tuple projections of multi-output composites and ``astype`` of a neuron's boolean spikes.

``main`` is in A-normal form, so walking its bindings in order is already topological. Each
composite body is turned into a small expression tree and read with structural pattern matching;
which idioms exist is decided by ``snnc.frontend.patterns``, this module only reads numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import tvm
import tvm_ffi
from tvm import relax

from snnc.errors import InvalidModelError, ModelError, ShapeError, UnsupportedOpError
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

F32 = np.float32


# -- expression trees of composite bodies ----------------------------------------------------

@dataclass(frozen=True, eq=False)
class Param:
    """The composite's ``index``-th parameter (the call's ``index``-th argument)."""

    index: int


@dataclass(frozen=True, eq=False)
class Const:
    value: np.ndarray


@dataclass(frozen=True, eq=False)
class Op:
    """A Relax op call; ``name`` without the ``relax.`` prefix, ``attrs`` as Python values."""

    name: str
    args: tuple[Any, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    shape: tuple[Any, ...] | None = None


def _py(value: Any) -> Any:
    """TVM attribute values as plain Python (ints, floats, strings, lists)."""
    if isinstance(value, tvm_ffi.Array | list | tuple):
        return [_py(v) for v in value]
    if isinstance(value, tvm.tirx.IntImm):
        return int(value)
    if isinstance(value, tvm.tirx.FloatImm):
        return float(value)
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _attrs(call: relax.Call) -> dict[str, Any]:
    """The public fields of a call's attribute node (``strides``, ``axis``, ``dtype``, ...)."""
    attrs = call.attrs
    if attrs is None:
        return {}
    names = [n for n in dir(attrs) if not n.startswith("_")]
    return {n: _py(getattr(attrs, n)) for n in names if not callable(getattr(attrs, n))}


def _shape_of(expr: relax.Expr) -> tuple[Any, ...] | None:
    ty = expr.ty
    if isinstance(ty, relax.TupleType) and ty.fields:
        ty = ty.fields[0]  # a neuron's outputs (spikes, membrane, ...) share one shape
    if isinstance(ty, relax.TensorType) and isinstance(ty.shape, relax.ShapeExpr):
        return tuple(int(d) if isinstance(d, tvm.tirx.IntImm) else str(d)
                     for d in ty.shape.values)
    return None


def body_trees(func: relax.Function) -> list[Any]:
    """The trees of a composite's outputs (one per tuple field, or one)."""
    trees: dict[relax.Var, Any] = {p: Param(i) for i, p in enumerate(func.params)}

    def tree(expr: relax.Expr) -> Any:
        if isinstance(expr, relax.Var):
            return trees[expr]
        if isinstance(expr, tvm.ir.GenericConst):
            return Const(expr.value.numpy())
        if isinstance(expr, relax.ShapeExpr):
            return tuple(_py(v) for v in expr.values)
        if isinstance(expr, tvm.tirx.IntImm | tvm.tirx.FloatImm):
            return Const(np.asarray(_py(expr)))
        if isinstance(expr, relax.TupleGetItem):
            return Op("tuple_get_item", (tree(expr.tuple_value),), {"index": expr.index})
        if isinstance(expr, relax.Tuple):
            return Op("tuple", tuple(tree(f) for f in expr.fields))
        if isinstance(expr, relax.Call) and isinstance(expr.op, tvm.ir.Op):
            name = expr.op.name.removeprefix("relax.")
            return Op(name, tuple(tree(a) for a in expr.args), _attrs(expr), _shape_of(expr))
        raise UnsupportedOpError(type(expr).__name__, "composite")

    body = func.body
    for block in body.blocks:
        for binding in block.bindings:
            trees[binding.var] = tree(binding.value)
    result = tree(body.body)
    if isinstance(result, Op) and result.name == "tuple":
        return list(result.args)
    return [result]


def _op(t: Any, *names: str) -> bool:
    return isinstance(t, Op) and t.name in names


def _const_pair(t: Op) -> tuple[Any, np.ndarray] | None:
    """``(other, constant)`` for a binary op with exactly one constant operand."""
    a, b = t.args[:2]
    if isinstance(b, Const) and not isinstance(a, Const):
        return a, b.value
    if isinstance(a, Const) and not isinstance(b, Const):
        return b, a.value
    return None


def _unsupported(what: str, layer: str) -> ModelError:
    """A composite whose contents this reader cannot express as a layer."""
    return ModelError(f"unsupported {what}", layer)


# -- neurons ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fire:
    """A spike test ``subject > theta`` (or ``>=``)."""

    subject: Any
    theta: np.ndarray
    compare: str


def read_fire(t: Any) -> Fire | None:
    if not _op(t, "greater", "greater_equal") or not isinstance(t.args[1], Const):
        return None
    compare = "ge" if t.name == "greater_equal" else "gt"
    x, limit = t.args[0], t.args[1].value
    if _op(x, "subtract") and isinstance(x.args[1], Const) and not np.any(limit):
        return Fire(x.args[0], x.args[1].value, compare)  # snnTorch: (v - theta) > 0
    return Fire(x, limit, compare)


def read_spikes(t: Any) -> Fire | None:
    """``astype(fire)``: the float spikes of a spike test."""
    if _op(t, "astype") and t.attrs.get("dtype") == "float32":
        return read_fire(t.args[0])
    return None


@dataclass(frozen=True)
class Reset:
    kind: str  # zero | subtract | none
    charge: Any
    fire: Fire | None
    theta: np.ndarray | None = None


def read_reset(t: Any) -> Reset:
    """Which reset produced the membrane ``t`` (anything else is an un-reset charge)."""
    if _op(t, "where") and isinstance(t.args[1], Const) and not np.any(t.args[1].value):
        fire = read_fire(t.args[0])
        if fire is not None:
            return Reset("zero", t.args[2], fire)
    if _op(t, "subtract") and (fire := read_spikes(t.args[1])) is not None:
        return Reset("subtract", t.args[0], fire, np.float32(1))  # threshold 1 left implicit
    if _op(t, "subtract") and _op(t.args[1], "multiply"):
        h, (a, b) = t.args[0], t.args[1].args
        for spikes, other in ((a, b), (b, a)):
            fire = read_spikes(spikes)
            if fire is None:
                continue
            if other is h:
                return Reset("zero", h, fire)
            if isinstance(other, Const):
                return Reset("subtract", h, fire, other.value)
    return Reset("none", t, None)


@dataclass(frozen=True)
class Charge:
    """``h = decay * v + current (+ bias | + extra)``; ``decay`` None means no multiply (IF);
    ``extra`` is a second current added after the first (snnTorch RLeaky)."""

    state: Param
    decay: np.ndarray | None
    current: Any
    bias: np.ndarray | None
    extra: Any = None


def read_leak(t: Any) -> tuple[Param, np.ndarray | None] | None:
    if isinstance(t, Param):
        return t, None
    if _op(t, "multiply"):
        pair = _const_pair(t)
        if pair is not None and isinstance(pair[0], Param):
            return pair[0], pair[1]
    return None


def _plain_charge(t: Any, states: set[int]) -> Charge | None:
    if not _op(t, "add"):
        return None
    a, b = t.args
    for leak, current in ((a, b), (b, a)):
        found = read_leak(leak)
        if found is not None and found[0].index in states:
            return Charge(found[0], found[1], current, None)
    return None


def read_charge(t: Any, states: set[int]) -> Charge | None:
    plain = _plain_charge(t, states)
    if plain is not None:
        return plain
    if _op(t, "add"):
        a, b = t.args
        for inner, other in ((a, b), (b, a)):
            charge = _plain_charge(inner, states)
            if charge is None:
                continue
            if isinstance(other, Const):
                return Charge(charge.state, charge.decay, charge.current, other.value)
            return Charge(charge.state, charge.decay, charge.current, None, other)
    return None


# -- the walk over main ----------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    """What a ``main`` variable holds: a parameter, or an output ``slot`` of a layer
    (``out`` the layer's value, ``fired`` boolean spikes, ``v``/``u`` next state)."""

    layer: str | None = None
    slot: str = "out"
    param: int | None = None


@dataclass
class Composite:
    """A composite call being read: its name, argument refs and body trees."""

    name: str
    args: list[Ref]
    trees: list[Any]
    out_shape: tuple[Any, ...] | None
    states: set[int]  # composite params that are state parameters of main


Reader = Callable[["_Walk", Composite], tuple[Layer, list[str]]]
_LATE = "\0state"  # prefix of a recurrent read awaiting its source layer


class _Walk:
    """Turns ``main``'s bindings into layers; one instance per extraction."""

    def __init__(self, mod: tvm.IRModule) -> None:
        self.mod = mod
        self.main = mod["main"]
        attrs = self.main.attrs
        self.input_names = [str(n) for n in attrs["snn.input_names"]]
        self.output_names = [str(n) for n in attrs["snn.output_names"]]
        self.data_input = int(attrs["snn.data_input"])
        self.data_output = int(attrs["snn.data_output"])
        self.state = dict(zip((int(i) for i in attrs["snn.state_inputs"]),
                              (int(o) for o in attrs["snn.state_outputs"]), strict=True))
        self.refs: dict[relax.Var, Ref | list[Ref]] = {
            p: Ref(param=i) for i, p in enumerate(self.main.params)}
        self.layers: list[Layer] = []
        self.neuron_states: dict[int, tuple[str, str]] = {}  # param -> (neuron, slot)
        self.recurrent_reads: dict[int, list[str]] = {}  # state param -> reading layers

    # names of things for error messages
    def param_name(self, index: int) -> str:
        return self.input_names[index]

    def source(self, ref: Ref, reader: str) -> tuple[str, bool]:
        """The layer name a data argument reads, and whether it is read one step late."""
        if ref.param is not None:
            if ref.param == self.data_input:
                return self.input_names[ref.param], False
            if ref.param in self.state:
                # the source is whatever layer the paired output carries, known only once
                # main's outputs are read: a placeholder no real name can equal
                self.recurrent_reads.setdefault(ref.param, []).append(reader)
                return f"{_LATE}{ref.param}", True
            raise InvalidModelError(f"reads input '{self.param_name(ref.param)}', which is "
                                    "neither the data input nor a paired state", reader)
        if ref.slot != "out":
            raise _unsupported(f"read of the {ref.slot!r} of layer '{ref.layer}'", reader)
        assert ref.layer is not None
        return ref.layer, False

    def run(self) -> Graph:
        body = self.main.body
        for block in body.blocks:
            for binding in block.bindings:
                self.refs[binding.var] = self.bind(binding.var, binding.value)
        outputs = self.output_refs(body.body)
        layers = self.resolve_recurrent(outputs)
        self.check_states(outputs)
        out = outputs[self.data_output]
        if out.param is not None:
            raise InvalidModelError("the data output is a graph input; the model computes "
                                    "nothing")
        if out.slot != "out":
            raise _unsupported(f"output of the {out.slot!r} of a neuron", str(out.layer))
        shape = _shape_of(self.main.params[self.data_input])
        if shape is None or not all(isinstance(d, int) for d in shape[1:]):
            raise ShapeError("the data input needs a batch axis and static sample dims",
                             self.input_names[self.data_input])
        first = Input(self.input_names[self.data_input], (), shape=tuple(shape[1:]))
        attrs = self.main.attrs
        return Graph((first, *layers), output=str(out.layer),
                     timesteps=int(attrs["snn.timesteps"]),
                     encoding=str(attrs["snn.encoding"]), name=str(attrs["snn.model_name"]))

    def output_refs(self, expr: relax.Expr) -> list[Ref]:
        found = self.refs.get(expr) if isinstance(expr, relax.Var) else None
        if isinstance(expr, relax.Tuple):
            found = [self.ref(f) for f in expr.fields]
        if found is None:
            raise UnsupportedOpError(type(expr).__name__, "main")
        return found if isinstance(found, list) else [found]

    def ref(self, expr: relax.Expr) -> Ref:
        if isinstance(expr, relax.ShapeExpr):
            return Ref(slot="shape")  # e.g. a reshape's target, read from the output type
        if not isinstance(expr, relax.Var) or expr not in self.refs:
            raise UnsupportedOpError(type(expr).__name__, "main")
        found = self.refs[expr]
        if isinstance(found, list):
            raise UnsupportedOpError("tuple value", "main")
        return found

    def bind(self, var: relax.Var, value: relax.Expr) -> Ref | list[Ref]:
        if isinstance(value, relax.Call) and isinstance(value.op, relax.GlobalVar):
            return self.composite(value, var)
        if isinstance(value, relax.TupleGetItem):
            found = self.refs[value.tuple_value]
            if isinstance(found, list):
                return found[value.index]
        if isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.Op):
            arg = self.refs.get(value.args[0]) if value.args else None
            cast = value.op.name == "relax.astype" and str(value.attrs.dtype) == "float32"
            if cast and isinstance(arg, Ref) and arg.slot == "fired":
                return Ref(arg.layer, "out")
            raise UnsupportedOpError(value.op.name.removeprefix("relax."), var.name)
        if isinstance(value, relax.Tuple):
            return [self.ref(f) for f in value.fields]
        raise UnsupportedOpError(type(value).__name__, var.name)

    def composite(self, call: relax.Call, var: relax.Var) -> Ref | list[Ref]:
        func = self.mod[call.op]
        kind = str(func.attrs["Composite"])
        name = str(func.attrs["snn.layer_name"]) if "snn.layer_name" in func.attrs else var.name
        args = [self.ref(a) for a in call.args]
        states = {i for i, a in enumerate(args) if a.param is not None and a.param in self.state}
        comp = Composite(name, args, body_trees(func), _shape_of(var), states)
        reader = READERS.get(kind)
        if reader is None:
            raise UnsupportedOpError(kind, name)
        layer, slots = reader(self, comp)
        self.layers.append(layer)
        refs = [Ref(layer.name, slot) for slot in slots]
        return refs if isinstance(var.ty, relax.TupleType) else refs[0]

    def claim_state(self, comp: Composite, param: Param, slot: str) -> None:
        index = comp.args[param.index].param
        assert index is not None
        if index in self.neuron_states:
            raise InvalidModelError(f"state input '{self.param_name(index)}' is the membrane "
                                    f"of two neurons", comp.name)
        self.neuron_states[index] = (comp.name, slot)

    def resolve_recurrent(self, outputs: list[Ref]) -> list[Layer]:
        """Point recurrent reads at the layer whose value the paired output carries."""
        layers = []
        for layer in self.layers:
            inputs = []
            for src in layer.inputs:
                if src.startswith(_LATE):
                    index = int(src.removeprefix(_LATE))
                    target = outputs[self.state[index]]
                    if target.param == self.data_input:  # the input, one step late
                        inputs.append(self.input_names[self.data_input])
                        continue
                    if target.param is not None or target.slot != "out":
                        raise InvalidModelError(
                            f"state input '{self.param_name(index)}' is paired with "
                            f"'{self.output_names[self.state[index]]}', which is not a layer's "
                            "output", layer.name)
                    src = str(target.layer)
                inputs.append(src)
            layers.append(_with_inputs(layer, tuple(inputs)))
        return layers

    def check_states(self, outputs: list[Ref]) -> None:
        for index, out_index in self.state.items():
            name = self.param_name(index)
            if index in self.neuron_states:
                neuron, slot = self.neuron_states[index]
                got = outputs[out_index]
                if got.layer != neuron or got.slot != slot:
                    raise InvalidModelError(
                        f"state input '{name}' is paired with "
                        f"'{self.output_names[out_index]}', which is not the next {slot} of "
                        f"neuron '{neuron}'", neuron)
            elif index not in self.recurrent_reads:
                raise InvalidModelError(f"state input '{name}' is not read by any layer", name)


def _with_inputs(layer: Layer, inputs: tuple[str, ...]) -> Layer:
    if inputs == layer.inputs:
        return layer
    return replace(layer, inputs=inputs)


# -- per-composite readers -------------------------------------------------------------------

def _per_sample(value: np.ndarray | None, rank: int, what: str, layer: str) -> Any:
    """A constant that broadcasts against (batch, *shape) as a per-sample parameter."""
    if value is None:
        return None
    arr = np.asarray(value, F32)
    while arr.ndim > rank and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim > rank:
        raise ShapeError(f"{what} of shape {np.shape(value)} spans the batch axis", layer)
    return arr[()] if arr.ndim == 0 else arr


def _data_input(walk: _Walk, comp: Composite, t: Any, what: str,
                recurrent_ok: bool = False) -> tuple[str, bool]:
    """The layer a composite input reads and whether it reads the previous step (only
    Dense and Conv2d layers can: they carry the ``recurrent`` flag)."""
    if not isinstance(t, Param):
        raise _unsupported(f"{what} computed inside the composite", comp.name)
    src, late = walk.source(comp.args[t.index], comp.name)
    if late and not recurrent_ok:
        raise _unsupported(f"{what} read directly from a state input (only Dense/Conv "
                                 "synapses may read the previous step)", comp.name)
    return src, late


def _rank(comp: Composite) -> int:
    if comp.out_shape is None:
        raise ShapeError("output shape is unknown", comp.name)
    return len(comp.out_shape) - 1


def _read_neuron(walk: _Walk, comp: Composite, cuba: bool) -> tuple[Layer, list[str]]:
    """LIF/IF/CUBA: classify the outputs (spikes, membrane, current), then read the charge."""
    slots: list[str] = []
    spike_fire: Fire | None = None
    membrane = current_out = None
    for t in comp.trees:
        fire = read_spikes(t)
        if fire is not None:
            slots.append("out")
            spike_fire = fire
        elif (bare := read_fire(t)) is not None and not _is_state_fire(bare, comp):
            slots.append("fired")
            spike_fire = bare
        elif cuba and _is_current(t, comp):
            slots.append("u")
            current_out = t
        else:
            slots.append("v")
            membrane = t
    if spike_fire is None:
        raise _unsupported("neuron without a spike output", comp.name)
    if membrane is None:
        # no reset and the membrane never leaves the composite: the spikes test the charge
        membrane = spike_fire.subject
    reset = read_reset(membrane)
    charge = read_charge(reset.charge, comp.states)
    if charge is None:
        raise _unsupported("neuron whose membrane update is not decay*v + I", comp.name)
    timing = "same"
    if reset.fire is not None and reset.fire.subject is charge.state:
        timing = "next"
    elif reset.fire is not None and reset.fire.subject is not reset.charge:
        raise _unsupported("reset decided from an unrelated value", comp.name)
    expected = membrane if timing == "next" else reset.charge
    if spike_fire.subject is not expected:
        raise _unsupported("spikes tested on an unexpected value", comp.name)
    _same_threshold(comp.name, spike_fire, reset)
    rank = _rank(comp)
    walk.claim_state(comp, charge.state, "v")
    threshold = _per_sample(spike_fire.theta, rank, "threshold", comp.name)
    bias = _per_sample(charge.bias, rank, "bias", comp.name)
    common = {"threshold": threshold, "bias": bias, "reset": reset.kind,
              "reset_timing": timing, "compare": spike_fire.compare}
    if cuba:
        return _cuba_layer(walk, comp, charge, current_out, rank, common), slots
    src, _ = _data_input(walk, comp, charge.current, "input current")
    if charge.extra is not None:
        src = _sum_currents(walk, comp, src, charge.extra)
    beta = F32(1.0) if charge.decay is None else _per_sample(charge.decay, rank, "beta",
                                                              comp.name)
    return LIF(comp.name, (src,), beta=beta, **common), slots


def _sum_currents(walk: _Walk, comp: Composite, first: str, extra: Any) -> str:
    """A neuron charged by two currents in turn, ``(beta*v + I) + J``, reads an Add layer of
    both that it adds term by term (``into_neuron``), so the float rounding is the model's."""
    second, _ = _data_input(walk, comp, extra, "second input current")
    name = f"{comp.name}.input"
    walk.layers.append(Add(name, (first, second), into_neuron=True))
    return name


def _is_state_fire(fire: Fire, comp: Composite) -> bool:
    return isinstance(fire.subject, Param) and fire.subject.index in comp.states


def _is_current(t: Any, comp: Composite) -> bool:
    """CUBA's ``u = c*u + I``: a leaky state plus a composite input (the membrane's charge
    has the same shape but adds ``u`` itself, a computed value)."""
    charge = read_charge(t, comp.states)
    if charge is None or charge.decay is None or charge.bias is not None:
        return False
    current = charge.current
    return (charge.extra is None and isinstance(current, Param)
            and current.index not in comp.states)


def _cuba_layer(walk: _Walk, comp: Composite, charge: Charge, current_out: Any, rank: int,
                common: dict[str, Any]) -> CubaLIF:
    u = read_charge(charge.current, comp.states)
    if (u is None or u.decay is None or u.bias is not None or u.extra is not None
            or charge.decay is None or charge.extra is not None):
        raise _unsupported("CUBA neuron without a leaky current", comp.name)
    if current_out is not None and current_out is not charge.current:
        raise _unsupported("CUBA current output is not the current feeding v", comp.name)
    walk.claim_state(comp, u.state, "u")
    src, _ = _data_input(walk, comp, u.current, "input current")
    return CubaLIF(comp.name, (src,),
                   current_decay=_per_sample(_one_minus(u.decay), rank, "decay", comp.name),
                   voltage_decay=_per_sample(_one_minus(charge.decay), rank, "decay",
                                             comp.name),
                   **common)


def _one_minus(keep: np.ndarray) -> np.ndarray:
    """The decay ``d = 1 - keep`` of a CUBA factor. The reference recomputes ``1 - d``, which
    gives ``keep`` back exactly whenever ``keep >= 0.5`` (Sterbenz) or ``d`` is dyadic."""
    return (F32(1) - np.asarray(keep, F32)).astype(F32)


def _same_threshold(name: str, spike_fire: Fire, reset: Reset) -> None:
    for other in (reset.fire.theta if reset.fire else None, reset.theta):
        if other is not None and not np.array_equal(np.broadcast_to(other, np.shape(
                spike_fire.theta)) if np.size(other) == 1 else other, spike_fire.theta):
            raise _unsupported("neuron whose reset threshold differs from its spike "
                                     "threshold", name)
    if reset.fire is not None and reset.fire.compare != spike_fire.compare:
        raise _unsupported("neuron mixing > and >= tests", name)


def read_lif(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    return _read_neuron(walk, comp, cuba=False)


def read_cubalif(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    return _read_neuron(walk, comp, cuba=True)


def _strip_affine(t: Any, name: str) -> tuple[Any, np.ndarray | None, tuple | None]:
    """``[batch_norm](core [+ bias])`` -> (core, bias, batch-norm constants)."""
    norm = None
    if _op(t, "nn.batch_norm"):
        bn = t
        if not all(isinstance(a, Const) for a in bn.args[1:]):
            raise _unsupported("BatchNormalization with computed statistics", name)
        if bn.attrs.get("axis") != 1:
            raise _unsupported("BatchNormalization over an axis other than 1", name)
        gamma, beta, mean, var = (a.value.astype(np.float64) for a in bn.args[1:])
        norm = (gamma, beta, mean, var, float(bn.attrs["epsilon"]))
        t = bn.args[0]
    bias = None
    if _op(t, "add"):
        pair = _const_pair(t)
        if pair is None:
            raise _unsupported("synapse bias that is not a constant", name)
        t, bias = pair
    return t, bias, norm


def _fold_norm(weight: np.ndarray, bias: np.ndarray | None, norm: tuple | None,
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Fold inference BatchNorm into the preceding weights: exact in real arithmetic."""
    if norm is None:
        return weight.astype(F32), None if bias is None else bias.astype(F32)
    gamma, beta, mean, var, eps = norm
    scale = gamma / np.sqrt(var + eps)
    base = np.zeros_like(mean) if bias is None else bias.astype(np.float64)
    shape = (-1,) + (1,) * (weight.ndim - 1)
    new_weight = weight.astype(np.float64) * scale.reshape(shape)
    return new_weight.astype(F32), ((base - mean) * scale + beta).astype(F32)


def _vector(bias: np.ndarray | None, size: int, name: str) -> np.ndarray | None:
    if bias is None:
        return None
    if np.size(bias) != size and np.size(bias) != 1:
        raise ShapeError(f"bias of shape {np.shape(bias)} does not match {size} outputs", name)
    return np.broadcast_to(np.asarray(bias, F32).reshape(-1), (size,)).copy()


def read_dense(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    core, bias, norm = _strip_affine(comp.trees[0], comp.name)
    if not _op(core, "matmul") or not isinstance(core.args[1], Const):
        raise _unsupported("MatMul whose weight is not a constant", comp.name)
    data, w = core.args[0], core.args[1].value
    if _op(data, "multiply") and (pair := _const_pair(data)) is not None:
        data, scale = pair  # Gemm's alpha, folded into the weights
        if np.size(scale) != 1:
            raise _unsupported("MatMul input scaled per element", comp.name)
        w = (w * np.asarray(scale, F32).reshape(())).astype(F32)
    if w.ndim != 2:
        raise _unsupported(f"MatMul with a {w.ndim}-D weight", comp.name)
    src, late = _data_input(walk, comp, data, "input", recurrent_ok=True)
    weight = w.T
    bias = _vector(bias, weight.shape[0], comp.name)
    weight, bias = _fold_norm(weight, bias, norm)
    return Dense(comp.name, (src,), weight=weight, bias=bias, recurrent=late), _slots(norm)


def _slots(norm: tuple | None) -> list[str]:
    """A folded batch_norm composite returns (value, mean, var); only field 0 is a value."""
    return ["out"] if norm is None else ["out", "statistics", "statistics"]


def read_conv2d(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    core, bias, norm = _strip_affine(comp.trees[0], comp.name)
    if not _op(core, "nn.conv2d") or not isinstance(core.args[1], Const):
        raise _unsupported("Conv whose weight is not a constant", comp.name)
    a = core.attrs
    if a.get("data_layout") != "NCHW" or a.get("kernel_layout") != "OIHW":
        raise _unsupported("Conv with a layout other than NCHW/OIHW", comp.name)
    src, late = _data_input(walk, comp, core.args[0], "input", recurrent_ok=True)
    weight = core.args[1].value
    bias = _vector(bias, weight.shape[0], comp.name)
    weight, bias = _fold_norm(weight, bias, norm)
    pad = [int(p) for p in a["padding"]]
    return Conv2d(comp.name, (src,), weight=weight, bias=bias,
                  stride=tuple(a["strides"]), padding=(pad[0], pad[1], pad[2], pad[3]),
                  dilation=tuple(a["dilation"]), groups=int(a["groups"]),
                  recurrent=late), _slots(norm)


def read_pool2d(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    t = comp.trees[-1]
    area = None
    if _op(t, "multiply"):
        pair = _const_pair(t)
        if pair is None:
            raise _unsupported("pooling scaled by a computed value", comp.name)
        t, area = pair
    a = t.attrs
    kernel = tuple(a["pool_size"])
    pool = "max" if t.name == "nn.max_pool2d" else "avg"
    if area is not None:
        if np.size(area) != 1 or float(np.ravel(area)[0]) != kernel[0] * kernel[1]:
            raise _unsupported("AveragePool scaled by other than its window area",
                                     comp.name)
        pool = "sum"
    if a.get("ceil_mode") or any(d != 1 for d in a["dilation"]):
        raise _unsupported("pooling with ceil_mode or dilation", comp.name)
    if pool != "max" and not a.get("count_include_pad") and any(a["padding"]):
        raise _unsupported("AveragePool excluding padding from the count", comp.name)
    src, _ = _data_input(walk, comp, t.args[0], "input")
    pad = [int(p) for p in a["padding"]]
    return Pool2d(comp.name, (src,), pool=pool, kernel=kernel, stride=tuple(a["strides"]),
                  padding=(pad[0], pad[1], pad[2], pad[3])), ["out"]


def read_reshape(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    t = comp.trees[-1]
    src, _ = _data_input(walk, comp, t.args[0], "input")
    shape = comp.out_shape
    if shape is None or not all(isinstance(d, int) for d in shape[1:]):
        raise ShapeError("reshape to a shape that is not static per sample", comp.name)
    sample = tuple(int(d) for d in shape[1:])
    if not _keeps_batch(walk, comp, shape[0]):
        raise _unsupported("Reshape that moves the batch axis", comp.name)
    if len(sample) == 1:
        return Flatten(comp.name, (src,)), ["out"]
    return Reshape(comp.name, (src,), shape=sample), ["out"]


def _keeps_batch(walk: _Walk, comp: Composite, batch: Any) -> bool:
    data = _shape_of(walk.main.params[walk.data_input])
    return data is not None and batch == data[0]


def read_add(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    t = comp.trees[-1]
    if any(isinstance(a, Const) for a in t.args):
        raise _unsupported("Add of a constant that is not a Dense/Conv bias", comp.name)
    sources = tuple(_data_input(walk, comp, a, "operand")[0] for a in t.args)
    return Add(comp.name, sources), ["out"]


def _scalar(value: np.ndarray) -> float:
    return float(np.ravel(value)[0])


def read_multilevel(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    """``[where(theta > 0,] clip(floor(I / theta' + 1/2), 0, D) [, 0)]`` with the clip spelled
    ``where(relu(.) > D, D, relu(.))``; ``theta'`` a constant, ``[alpha *] mean(|I|)``, or that
    guarded as ``where(theta > 0, theta, 1)``. Only ``+ 1/2`` rounds as the layer does, and the
    clip must compare with the level it clips to."""
    t = comp.trees[-1]
    gated = _op(t, "where") and _op(t.args[1], "where")
    if gated:
        t = t.args[1]
    over, levels_const, low = t.args
    if not (isinstance(levels_const, Const) and _op(low, "nn.relu") and _op(over, "greater")
            and isinstance(over.args[1], Const)
            and _scalar(over.args[1].value) == _scalar(levels_const.value)):
        raise _unsupported("MultiLevelSpike clip", comp.name)
    levels = int(_scalar(levels_const.value))
    scaled, half = _const_pair(low.args[0].args[0]) or (None, None)  # floor(add(...))
    if not _op(scaled, "divide") or half is None or _scalar(half) != 0.5:
        raise _unsupported("MultiLevelSpike rounding (only floor(x + 0.5))", comp.name)
    current, divisor = scaled.args
    src, _ = _data_input(walk, comp, current, "input")
    if isinstance(divisor, Const):
        if gated:
            raise _unsupported("MultiLevelSpike threshold", comp.name)
        return MultiLevelSpike(comp.name, (src,), levels=levels, axis=None,
                               theta=_scalar(divisor.value)), ["out"]
    theta_tree = divisor.args[1] if _op(divisor, "where") else divisor
    if _op(theta_tree, "mean"):
        mean_tree, alpha = theta_tree, np.float32(1.0)
    else:
        mean_tree, alpha = _const_pair(theta_tree) or (None, None)
    if not _op(mean_tree, "mean") or alpha is None:
        raise _unsupported("MultiLevelSpike threshold", comp.name)
    axes = mean_tree.attrs.get("axis") or []
    if len(axes) != 1:
        raise _unsupported("MultiLevelSpike mean over several axes", comp.name)
    rank = _rank(comp)
    axis = int(axes[0])
    axis = axis if axis < 0 else axis - 1  # drop the batch axis
    if axis < -rank or axis >= rank:
        raise ShapeError("MultiLevelSpike axis is the batch axis", comp.name)
    if axis >= 0:
        axis -= rank
    return MultiLevelSpike(comp.name, (src,), levels=levels, alpha=_scalar(alpha),
                           axis=axis), ["out"]


def _split_heads(t: Any, perm: list[int], name: str) -> tuple[Any, tuple]:
    """(source tree, split shape) of ``permute_dims(reshape(x, shape), perm)``."""
    if not (_op(t, "permute_dims") and t.attrs.get("axes") == perm
            and _op(t.args[0], "reshape")):
        raise _unsupported("SpikingSelfAttention head layout", name)
    return t.args[0].args[0], tuple(t.args[0].args[1])


def _key_heads(t: Any, name: str) -> tuple[Any, tuple]:
    """K heads transposed: ``permute(reshape(K), [0,2,3,1])`` or
    ``permute(permute(reshape(K), [0,2,1,3]), [0,1,3,2])``."""
    if _op(t, "permute_dims") and t.attrs.get("axes") == [0, 1, 3, 2]:
        return _split_heads(t.args[0], [0, 2, 1, 3], name)
    return _split_heads(t, [0, 2, 3, 1], name)


def read_attention(walk: _Walk, comp: Composite) -> tuple[Layer, list[str]]:
    """Split heads: ``reshape(permute(matmul(A, V_h), [0,2,1,3]))``, or one head without a
    split: ``matmul(A, V)``; ``A = (Q_h @ K_h^T) [* scale] * mask``. The split shape must be
    (L, heads, D/heads), the mask ``gamma_h ** |n - m|`` per head."""
    out = comp.trees[-1]
    split = _op(out, "reshape")
    mixed = out.args[0].args[0] if split else out  # permute_dims(matmul(masked, v_heads))
    if split and not (_op(out.args[0], "permute_dims")
                      and out.args[0].attrs.get("axes") == [0, 2, 1, 3]):
        raise _unsupported("SpikingSelfAttention head layout", comp.name)
    if not _op(mixed, "matmul"):
        raise _unsupported("SpikingSelfAttention output", comp.name)
    masked, v_tree = mixed.args
    scaled, mask = _const_pair(masked) or (None, None)
    scale = 1.0
    if _op(scaled, "multiply") and _const_pair(scaled) is not None:
        scores, factor = _const_pair(scaled)
        scale = _scalar(factor)
    else:
        scores = scaled
    if not _op(scores, "matmul") or mask is None:
        raise _unsupported("SpikingSelfAttention scores", comp.name)
    q_tree, k_tree = scores.args
    length = int(mask.shape[-1])
    if split:
        q_tree, q_shape = _split_heads(q_tree, [0, 2, 1, 3], comp.name)
        k_tree, k_shape = _key_heads(k_tree, comp.name)
        v_tree, v_shape = _split_heads(v_tree, [0, 2, 1, 3], comp.name)
        heads = int(mask.shape[0]) if mask.ndim == 3 else 1
        dim = int(comp.out_shape[-1]) if comp.out_shape is not None else -1
        if any(tuple(sh[1:]) != (length, heads, dim // heads) for sh in
               (q_shape, k_shape, v_shape)):
            raise _unsupported("SpikingSelfAttention head split (needs (L, heads, D/heads))",
                               comp.name)
    else:
        if not (_op(k_tree, "permute_dims") and k_tree.attrs.get("axes") == [0, 2, 1]):
            raise _unsupported("SpikingSelfAttention key transpose", comp.name)
        k_tree, heads = k_tree.args[0], 1
    mask = mask.reshape(-1, length, length)
    if mask.shape[0] != heads:
        raise _unsupported("attention mask that is not gamma**|n-m| per head", comp.name)
    sources = tuple(_data_input(walk, comp, t, "Q/K/V")[0] for t in (q_tree, k_tree, v_tree))
    gammas = mask[:, 0, 1].astype(F32) if length > 1 else np.ones(heads, F32)
    layer = SpikingSelfAttention(comp.name, sources, heads=int(heads), scale=scale,
                                 gammas=gammas)
    if not np.allclose(layer.decay_mask(length), mask, rtol=1e-6, atol=0):
        raise _unsupported("attention mask that is not gamma**|n-m| per head", comp.name)
    return layer, ["out"]


READERS: dict[str, Reader] = {
    "snn.lif": read_lif,
    "snn.cubalif": read_cubalif,
    "snn.dense": read_dense,
    "snn.conv2d": read_conv2d,
    "snn.pool2d": read_pool2d,
    "snn.reshape": read_reshape,
    "snn.add": read_add,
    "snn.multilevel": read_multilevel,
    "snn.attention": read_attention,
}


def graph_from_module(mod: tvm.IRModule) -> Graph:
    """The layer view of a raised module (see the module docstring for the conventions)."""
    return _Walk(mod).run()
