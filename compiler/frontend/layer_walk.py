"""The layer view (:mod:`snnc.ir.layers`) from the raised module's matches, in one pass.

Every composite call in the raised ``main`` carries the number of the ``FuseOpsByPattern``
match that made it (:mod:`.match`); walking ``main``'s bindings in order (A-normal form, so
already topological) reads each match into a layer with the reader of its kind and records
what each ``main`` value holds (:class:`~snnc.frontend.read_common.Ref`). The only other
bindings allowed are tuple projections of multi-output composites, ``astype`` of a neuron's
boolean spikes and plain aliases. The step contract (which input is data, which are state,
how state pairs with outputs) comes from :class:`Contract`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import tvm
from tvm import relax

from snnc.errors import InvalidModelError, ShapeError, UnsupportedOpError
from snnc.frontend.match import MATCH_ATTR, Match, Param, Recorder, shape_of
from snnc.frontend.read_common import Composite, Ref, unsupported
from snnc.frontend.read_layers import (
    read_add,
    read_attention,
    read_conv2d,
    read_dense,
    read_multilevel,
    read_pool2d,
    read_reshape,
)
from snnc.frontend.read_neuron import read_cubalif, read_lif
from snnc.ir.layers import Graph, Input, Layer

Reader = Callable[[Any, Composite], tuple[Layer, list[str]]]
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
_LATE = "\0state"  # prefix of a recurrent read awaiting its source layer


@dataclass(frozen=True)
class Contract:
    """One step's interface: ONNX input/output names, which input is data and which output
    the network's value, ``state`` input index -> paired output index, and run metadata."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    data_input: int
    data_output: int
    state: dict[int, int]
    timesteps: int
    encoding: str
    model_name: str


class _Walk:
    """Turns the raised ``main``'s bindings into layers; one instance per extraction."""

    def __init__(self, mod: tvm.IRModule, matches: Sequence[Match], recorder: Recorder,
                 names: Sequence[str], contract: Contract) -> None:
        self.mod = mod
        self.main = mod["main"]
        self.matches = matches
        self.recorder = recorder
        self.names = iter(names)
        self.contract = contract
        self.state = contract.state
        self.data_input = contract.data_input
        shape = shape_of(self.main.params[self.data_input])
        self.data_shape = shape
        self.batch = None if shape is None else shape[0]
        self.refs: dict[relax.Var, Ref | list[Ref]] = {
            p: Ref(param=i) for i, p in enumerate(self.main.params)}
        self.read: dict[int, list[Ref]] = {}  # match -> refs of its outputs
        self.owner: dict[relax.Var, tuple[int, int]] = {}  # match output -> (match, index)
        self.layers: list[Layer] = []
        self.neuron_states: dict[int, tuple[str, str]] = {}  # param -> (neuron, slot)
        self.recurrent_reads: dict[int, list[str]] = {}  # state param -> reading layers

    def param_name(self, index: int) -> str:
        return self.contract.input_names[index]

    def source(self, ref: Ref, reader: str) -> tuple[str, bool]:
        """The layer name a data argument reads, and whether it is read one step late."""
        if ref.param is not None:
            if ref.param == self.data_input:
                return self.param_name(ref.param), False
            if ref.param in self.state:
                # the source is whatever layer the paired output carries, known only once
                # main's outputs are read: a placeholder no real name can equal
                self.recurrent_reads.setdefault(ref.param, []).append(reader)
                return f"{_LATE}{ref.param}", True
            raise InvalidModelError(f"reads input '{self.param_name(ref.param)}', which is "
                                    "neither the data input nor a paired state", reader)
        if ref.slot != "out":
            raise unsupported(f"read of the {ref.slot!r} of layer '{ref.layer}'", reader)
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
        out = outputs[self.contract.data_output]
        if out.param is not None:
            raise InvalidModelError("the data output is a graph input; the model computes "
                                    "nothing")
        if out.slot != "out":
            raise unsupported(f"output of the {out.slot!r} of a neuron", str(out.layer))
        shape = self.data_shape
        if shape is None or not all(isinstance(d, int) for d in shape[1:]):
            raise ShapeError("the data input needs a batch axis and static sample dims",
                             self.param_name(self.data_input))
        first = Input(self.param_name(self.data_input), (), shape=tuple(shape[1:]))
        return Graph((first, *layers), output=str(out.layer), timesteps=self.contract.timesteps,
                     encoding=self.contract.encoding, name=self.contract.model_name)

    def output_refs(self, expr: relax.Expr) -> list[Ref]:
        found = self.refs.get(expr) if isinstance(expr, relax.Var) else None
        if isinstance(expr, relax.Tuple):
            found = [self.ref(f) for f in expr.fields]
        if found is None:
            raise UnsupportedOpError(type(expr).__name__, "main")
        return found if isinstance(found, list) else [found]

    def ref(self, expr: relax.Expr) -> Ref:
        """What a value read by ``main`` or by a match holds."""
        found = self.refs.get(expr) if isinstance(expr, relax.Var) else None
        if found is None and isinstance(expr, relax.Var):
            made = self.recorder.source(expr)  # made by an earlier pattern's pass
            if made is not None and made[0] in self.read:
                return self.read[made[0]][max(made[1], 0)]
            owned = self.owner.get(expr)  # an output of a match, as imported
            if owned is not None:
                return self.read[owned[0]][owned[1]]
        if found is None:
            raise UnsupportedOpError(type(expr).__name__, "main")
        if isinstance(found, list):
            raise UnsupportedOpError("tuple value", "main")
        return found

    def bind(self, var: relax.Var, value: relax.Expr) -> Ref | list[Ref]:
        if isinstance(value, relax.Call) and isinstance(value.op, relax.GlobalVar):
            return self.composite(value.op, var)
        if isinstance(value, relax.TupleGetItem):
            found = self.refs[value.tuple_value]
            if isinstance(found, list):
                return found[value.index]
        if isinstance(value, relax.Var):
            return self.refs[value]
        if isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.Op):
            arg = self.refs.get(value.args[0]) if value.args else None
            cast = value.op.name == "relax.astype" and str(value.attrs.dtype) == "float32"
            if cast and isinstance(arg, Ref) and arg.slot == "fired":
                return Ref(arg.layer, "out")
            raise UnsupportedOpError(value.op.name.removeprefix("relax."), var.name)
        if isinstance(value, relax.Tuple):
            return [self.ref(f) for f in value.fields]
        raise UnsupportedOpError(type(value).__name__, var.name)

    def composite(self, callee: relax.GlobalVar, var: relax.Var) -> Ref | list[Ref]:
        number = int(self.mod[callee].attrs[MATCH_ATTR])
        match = self.matches[number]
        name = next(self.names)
        args = [self.ref(v) for v in match.inputs]
        states = {i for i, a in enumerate(args) if a.param is not None and a.param in self.state}
        comp = Composite(name, args, list(match.trees), match.shape, states, match.roles)
        reader = READERS.get(match.kind)
        if reader is None:
            raise UnsupportedOpError(match.kind, name)
        layer, slots = reader(self, comp)
        self.layers.append(layer)
        refs = [Ref(layer.name, slot) for slot in slots]
        self.read[number] = refs
        for index, output in enumerate(match.outputs):
            self.owner[output] = (number, index)
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
                        inputs.append(self.param_name(self.data_input))
                        continue
                    if target.param is not None or target.slot != "out":
                        raise InvalidModelError(
                            f"state input '{self.param_name(index)}' is paired with "
                            f"'{self.contract.output_names[self.state[index]]}', which is not "
                            "a layer's output", layer.name)
                    src = str(target.layer)
                inputs.append(src)
            layers.append(layer if tuple(inputs) == layer.inputs
                          else replace(layer, inputs=tuple(inputs)))
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
                        f"'{self.contract.output_names[out_index]}', which is not the next "
                        f"{slot} of neuron '{neuron}'", neuron)
            elif index not in self.recurrent_reads:
                raise InvalidModelError(f"state input '{name}' is not read by any layer", name)


def graph_from_matches(mod: tvm.IRModule, matches: Sequence[Match], recorder: Recorder,
                       names: Sequence[str], contract: Contract) -> Graph:
    """The layer view of a raised module: each composite read from the match that made it,
    named ``names`` in binding order."""
    return _Walk(mod, matches, recorder, names, contract).run()
