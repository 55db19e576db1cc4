"""Framework spellings of spiking neurons, rewritten into snnc's canonical primitives (ONNX).

``torch.onnx.export`` writes each framework's neuron in that framework's own arithmetic. The
Relax patterns (:mod:`.patterns`) raise one spelling, the one :mod:`.primitives` writes; this
module rewrites the others into it before Relax import, so the layer view never depends on who
exported the model:

- **no-ops**: ``Unsqueeze(t, a)`` then ``Squeeze(a)``, ``Slice(0:1 on a)`` + ``Squeeze(a)`` or
  ``Gather(index 0, axis a)`` is ``t`` (SpikingJelly wraps every single step in a one-step
  sequence); spikes ``Mul``/``Div`` by a scalar 1 (snnTorch's ``graded_spikes_factor``) are
  the spikes;
- **snnTorch** ``Leaky(reset_mechanism="zero")``: the previous membrane zeroed where it fired,
  then ``beta*v + I`` (``reset_delay=True``, see :func:`_snntorch_zero_delayed`), or with
  ``reset_delay=False`` (TorchScript export) also a same-step correction after which that
  previous-membrane reset never fires (:func:`_snntorch_zero`): both are a LIF with zero reset
  at the spiking step;
- **SpikingJelly** ``LIFNode``/``IFNode``: ``h = v + (x - v)/tau`` (``decay_input=False``:
  ``v - v/tau + x``; IF: ``v + x``), fire on ``h >= theta``, ``v = s*v_reset + (1 - s)*h`` or
  ``h - s*theta``: a LIF with ``beta = 1 - 1/tau``; with ``decay_input`` its membrane is
  measured in units of ``1/tau`` (``threshold*tau``);
- **Norse** ``LIFCell``: ``i' = i + I``; ``v = v + c_m*((v_leak - v) + i')``;
  ``i_next = i' - c_s*i'``; fire on ``v > theta``; reset to ``v_reset``: a CubaLIF with
  decays ``c_s``, ``c_m``, threshold ``theta/c_m`` and bias ``v_leak``.

Every rewrite is exact in real arithmetic and checks every constant it relies on; a neuron that
only almost fits is left alone, so the import then names the node no idiom explains. Where
float32 rounds differently (``v + (x - v)/tau`` against ``(1 - 1/tau)*v' + x``) the spikes can
differ on a tie at the threshold; ``docs/onnx-ops.md`` has the details.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import NodeProto, TensorProto

from snnc.errors import ModelError
from snnc.frontend.onnx_graph import (
    Const,
    GraphIndex,
    Match,
    Named,
    Var,
    alt,
    either,
    live_nodes,
    match,
    op,
    upstream,
)
from snnc.frontend.primitives import NeuronParams, NodeSink, emit_cuba, emit_lif
from snnc.frontend.validate import sort_topologically

F32 = np.float32

# -- no-op shape chains ----------------------------------------------------------------------


def remove_noop_chains(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without ``Unsqueeze`` round trips and multiplies by one, which
    give their input back bit for bit; ``model`` itself when it has none (a copy holds every
    weight)."""
    out = model
    changed = True
    while changed:  # each pass removes one chain, so this ends
        changed = False
        index = GraphIndex(out.graph)
        for node in index.nodes:
            source = _identity_source(index, node)
            if source is not None and index.readers(node.output[0]):
                if out is model:
                    out = onnx.ModelProto()
                    out.CopyFrom(model)
                    index = GraphIndex(out.graph)
                _alias(out.graph, index, node.output[0], source)
                _drop_dead_nodes(out.graph)
                changed = True
                break
    return out


def _axes(index: GraphIndex, node: NodeProto, position: int) -> list[int] | None:
    """``axes`` of Unsqueeze/Squeeze/Slice: an input (opset 13+) or an attribute."""
    if len(node.input) > position and node.input[position]:
        value = index.const(node.input[position])
        return None if value is None else [int(a) for a in np.ravel(value)]
    for attr in node.attribute:
        if attr.name == "axes":
            return [int(a) for a in onnx.helper.get_attribute_value(attr)]
    return None


def _attr(node: NodeProto, name: str, default: object = None) -> object:
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _unsqueezed(index: GraphIndex, tensor: str, axis: int) -> str | None:
    """``t`` when ``tensor = Unsqueeze(t, [axis])``."""
    node = index.producer.get(tensor)
    if node is None or node.op_type != "Unsqueeze" or node.domain not in ("", "ai.onnx"):
        return None
    return node.input[0] if _axes(index, node, 1) == [axis] else None


def _unit_slice(index: GraphIndex, tensor: str, axis: int) -> str | None:
    """The data of ``tensor = Slice(data, [0], [>= 1], [axis] [, [1]])`` (the whole of a
    size-1 axis)."""
    node = index.producer.get(tensor)
    if node is None or node.op_type != "Slice" or len(node.input) < 4:
        return None
    starts, ends = index.const(node.input[1]), index.const(node.input[2])
    axes = _axes(index, node, 3)
    steps = index.const(node.input[4]) if len(node.input) > 4 and node.input[4] else None
    if starts is None or ends is None or axes != [axis]:
        return None
    if np.ravel(starts).tolist() != [0] or int(np.ravel(ends)[0]) < 1:
        return None
    if steps is not None and np.ravel(steps).tolist() != [1]:
        return None
    return node.input[0]


def _identity_source(index: GraphIndex, node: NodeProto) -> str | None:
    """The tensor ``node``'s output equals when it closes an Unsqueeze round trip or
    multiplies (divides) by one."""
    if node.domain not in ("", "ai.onnx") or len(node.output) != 1:
        return None
    if node.op_type == "Squeeze":
        axes = _axes(index, node, 1)
        if axes is None or len(axes) != 1:
            return None
        data = _unit_slice(index, node.input[0], axes[0]) or node.input[0]
        return _unsqueezed(index, data, axes[0])
    if node.op_type in ("Mul", "Div") and len(node.input) == 2:
        # snnTorch scales spikes by graded_spikes_factor = 1 (TorchScript keeps the multiply);
        # only spikes (a Cast): a leak by 1 is part of an idiom (a CUBA current that never
        # decays) and stays
        operands = node.input if node.op_type == "Mul" else node.input[1:]
        for position, name in enumerate(operands):
            value = index.const(name)
            if value is not None and value.ndim <= 1 and value.size == 1 \
                    and value.dtype.kind == "f" and float(value.reshape(())) == 1.0:
                other = node.input[1 - position] if node.op_type == "Mul" else node.input[0]
                return other if index.op(other) == "Cast" else None
        return None
    if node.op_type == "Gather" and len(node.input) == 2:
        indices = index.const(node.input[1])
        axis = int(_attr(node, "axis", 0))  # type: ignore[arg-type]
        if indices is None or indices.shape != () or int(indices) not in (0, -1):
            return None
        return _unsqueezed(index, node.input[0], axis)
    return None


def _alias(graph: onnx.GraphProto, index: GraphIndex, tensor: str, source: str) -> None:
    """Make every reader of ``tensor`` read ``source`` instead. A graph output keeps its name:
    the producer of ``source`` is renamed (or an Identity inserted when ``source`` is a graph
    input or output itself)."""
    if tensor not in index.outputs:
        _rename_reads(graph, tensor, source)
        return
    if source in index.inputs or source in index.outputs or source not in index.producer:
        node = onnx.helper.make_node("Identity", [source], [tensor],
                                     name=_fresh_node_name(graph, f"{tensor}/identity"))
        for position, old in enumerate(graph.node):
            if tensor in old.output:
                graph.node[position].CopyFrom(node)
        return
    for position, old in enumerate(graph.node):
        if tensor in old.output:
            del graph.node[position]
            break
    for node in graph.node:
        for i, out in enumerate(node.output):
            if out == source:
                node.output[i] = tensor
    _rename_reads(graph, source, tensor)


def _rename_reads(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def _fresh_node_name(graph: onnx.GraphProto, base: str) -> str:
    taken = {n.name for n in graph.node}
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _live_nodes(graph: onnx.GraphProto) -> list[NodeProto]:
    """The nodes some of whose outputs reach a graph output, in graph order."""
    return live_nodes(list(graph.node), (o.name for o in graph.output))


def _drop_dead_nodes(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs reaches a graph output."""
    kept = _live_nodes(graph)
    if len(kept) != len(graph.node):
        del graph.node[:]
        graph.node.extend(kept)


# -- neuron idioms ---------------------------------------------------------------------------

_FLOAT = {"to": TensorProto.FLOAT}


def _fire(subject: object, theta: str = "theta") -> object:
    """A spike as float: ``Cast((x - theta) > 0)`` (or ``>=``, or ``x > theta``)."""
    test = ("Greater", "GreaterOrEqual")
    return op("Cast", alt(op(test, op("Sub", subject, Const(theta)), Const("zero"),
                             bind="compare"),
                          op(test, subject, Const(theta), bind="compare")), attrs=_FLOAT)


def _spikingjelly_pattern() -> object:
    """SpikingJelly's membrane after reset, from charge, spike test and reset."""
    charge = Named("h", alt(
        either("Add", Var("v"), op("Div", op("Sub", Var("x"), Var("v")), Const("tau"))),
        either("Add", op("Sub", Var("v"), op("Div", Var("v"), Const("tau_leak"))), Var("x")),
        either("Add", Var("v"), Var("x"))))
    spikes = Named("s", _fire(Var("h")))
    to_value = either("Add", either("Mul", spikes, Const("v_reset")),
                      either("Mul", op("Sub", Const("one"), Var("s")), charge))
    subtract = op("Sub", charge, either("Mul", spikes, Const("theta_reset")))
    return alt(to_value, subtract)


def _norse_pattern() -> object:
    """Norse ``LIFCell``'s membrane after reset (the current is matched separately)."""
    current = Named("ip", either("Add", Var("i"), Var("x")))
    charge = Named("h", either("Add", Var("v"), either(
        "Mul", Const("c_mem"), either("Add", op("Sub", Const("v_leak"), Var("v")), current))))
    spikes = Named("s", _fire(Var("h")))
    return either("Add", either("Mul", op("Sub", Const("one"), spikes), charge),
                  either("Mul", Var("s"), Const("v_reset")))


_NORSE_CURRENT = either("Add", Var("ip"), either("Mul", Const("neg_c_syn"), Var("ip")))


def _snntorch_zero_charge() -> object:
    """snnTorch's zero reset: the previous membrane is zeroed where it was above the
    threshold, then leaks and integrates: ``beta*((1 - r)*v) + I``."""
    was = Named("r", _fire(Var("v")))
    kept = either("Mul", op("Sub", Const("one"), was), Var("v"))
    return Named("h", either("Add", either("Mul", Const("beta"), kept), Var("x")))


def _snntorch_zero_pattern() -> object:
    """snnTorch's ``Leaky(reset_mechanism="zero", reset_delay=False)`` membrane update."""
    charge = _snntorch_zero_charge()
    spikes = Named("s", alt(either("Mul", _fire(Var("h")), Const("gain")), _fire(Var("h"))))
    unscaled = alt(op("Div", spikes, Const("gain")), spikes)
    return op("Sub", charge, either("Mul", op("Sub", unscaled, Var("r")), Var("h")))


@dataclass(frozen=True)
class _Neuron:
    """One recognised neuron: the nodes it replaces, the tensors the replacement must keep
    producing, and how to write the canonical nodes."""

    replaced: tuple[NodeProto, ...]
    outputs: tuple[str, ...]
    emit: Callable[[NodeSink, str], None]


def _values(found: Match, *names: str) -> list[np.ndarray]:
    return [np.asarray(found.values[n], F32) for n in names]


def _is(value: np.ndarray, number: float) -> bool:
    return bool(np.all(value == number))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal after broadcasting (a scalar threshold against a per-neuron one)."""
    try:
        left, right = np.broadcast_arrays(a, b)
    except ValueError:
        return False
    return bool(np.array_equal(left, right))


def _spikingjelly(index: GraphIndex, v_in: str, v_out: str,
                  pairs: dict[str, str]) -> _Neuron | None:
    del pairs
    found = match(index, _spikingjelly_pattern(), v_out, Match(tensors={"v": v_in}))
    if found is None or not _is(found.values.get("zero", F32(0)), 0):
        return None
    theta, = _values(found, "theta")
    if "theta_reset" in found.values:
        if not _same(found.values["theta_reset"], theta):
            return None
        reset = "subtract"
    else:
        if not _is(found.values["one"], 1):
            return None
        if not _is(found.values["v_reset"], 0):
            raise ModelError("SpikingJelly neuron resets to v_reset="
                             f"{float(np.ravel(found.values['v_reset'])[0]):g}; snnc neurons "
                             "reset to 0 or subtract the threshold", _first(found))
        reset = "zero"
    beta = None
    for key in ("tau", "tau_leak"):
        if key not in found.values:
            continue
        tau, = _values(found, key)
        if not np.all(tau >= 1):
            return None
        beta = (1.0 - 1.0 / tau.astype(np.float64)).astype(F32)  # decay per step
        if key == "tau":
            # decay_input: the membrane in units of 1/tau (v' = tau*v) takes the input whole;
            # a subtractive reset by theta*tau in that unit is the framework's reset by theta
            theta = (theta * tau).astype(F32)
    compare = "ge" if found.ops.get("compare") == "GreaterOrEqual" else "gt"
    params = NeuronParams(threshold=theta, beta=beta, reset=reset, compare=compare)
    x, s = found.tensors["x"], found.tensors["s"]
    if _depends_on(index, x, v_in):
        return None

    def emit(sink: NodeSink, name: str) -> None:
        emit_lif(sink, name, x, v_in, s, v_out, params, style="compare")

    return _Neuron(tuple(found.nodes.values()), (s, v_out), emit)


def _norse(index: GraphIndex, v_in: str, v_out: str, pairs: dict[str, str]) -> _Neuron | None:
    found = match(index, _norse_pattern(), v_out, Match(tensors={"v": v_in}))
    if found is None:
        return None
    i_in = found.tensors["i"]
    i_out = pairs.get(i_in)
    if i_out is None or i_in == v_in:
        return None
    found = match(index, _NORSE_CURRENT, i_out, found)
    if found is None:
        return None
    one, v_reset, c_mem, neg_c_syn, theta, v_leak = _values(
        found, "one", "v_reset", "c_mem", "neg_c_syn", "theta", "v_leak")
    zero = found.values.get("zero", F32(0))
    if not (_is(zero, 0) and _is(one, 1)) or found.ops.get("compare") != "Greater":
        return None
    if not _is(v_reset, 0):
        raise ModelError(f"Norse neuron resets to v_reset={float(np.ravel(v_reset)[0]):g}; "
                         "snnc neurons reset to 0", _first(found))
    c_syn = -neg_c_syn
    if not (np.all(c_mem > 0) and np.all(c_mem <= 1) and np.all(c_syn >= 0)
            and np.all(c_syn <= 1)):
        return None
    x, s = found.tensors["x"], found.tensors["s"]
    if _depends_on(index, x, v_in) or _depends_on(index, x, i_in):
        return None
    # v/c_m as the membrane: v' = (1 - c_m) v' + i' + v_leak, firing at theta / c_m
    params = NeuronParams(threshold=(theta / c_mem).astype(F32),
                          bias=v_leak if np.any(v_leak) else None, reset="zero")

    def emit(sink: NodeSink, name: str) -> None:
        emit_cuba(sink, name, x, i_in, v_in, s, i_out, v_out, c_syn, c_mem, params,
                  style="compare")

    return _Neuron(tuple(found.nodes.values()), (s, i_out, v_out), emit)


def _snntorch_zero(index: GraphIndex, v_in: str, v_out: str,
                   pairs: dict[str, str]) -> _Neuron | None:
    """snnTorch with ``reset_delay=False`` resets twice: ``beta*(1 - r)*v`` with ``r`` the
    previous membrane's spike, then ``h - (s - r)*h``. From ``v = 0`` with ``theta > 0`` the
    membrane never ends a step above the threshold (it is 0 after a spike, ``h <= theta``
    otherwise), so ``r`` is always 0 and the neuron is exactly a LIF with zero reset at the
    spiking step."""
    del pairs
    found = match(index, _snntorch_zero_pattern(), v_out, Match(tensors={"v": v_in}))
    if found is None:
        return None
    one, theta, beta = _values(found, "one", "theta", "beta")
    zero, gain = found.values.get("zero", F32(0)), found.values.get("gain")
    if not (_is(zero, 0) and _is(one, 1)) or (gain is not None and not _is(gain, 1)):
        return None
    if found.ops.get("compare") != "Greater" or not np.all(theta > 0):
        return None
    x, s = found.tensors["x"], found.tensors["s"]
    if _depends_on(index, x, v_in):
        return None
    params = NeuronParams(threshold=theta, beta=beta, reset="zero")

    def emit(sink: NodeSink, name: str) -> None:
        emit_lif(sink, name, x, v_in, s, v_out, params, style="snntorch")

    return _Neuron(tuple(found.nodes.values()), (s, v_out), emit)


def _snntorch_zero_delayed(index: GraphIndex, v_in: str, v_out: str,
                           pairs: dict[str, str]) -> _Neuron | None:
    """snnTorch's default zero reset (``reset_delay=True``) keeps the membrane ``h`` that
    fired and zeroes it at the start of the next step: ``h' = beta*((1 - r)*h) + I`` with
    ``r = h > theta``, spikes ``h' > theta``. That is a LIF with zero reset at the spiking step
    that stores the membrane after its reset (``0*beta + I`` is ``I`` bit for bit)."""
    del pairs
    found = match(index, _snntorch_zero_charge(), v_out, Match(tensors={"v": v_in}))
    if found is None:
        return None
    spikes = next((m for node in index.nodes if node.op_type == "Cast"
                   if (m := match(index, Named("s", _fire(Var("h"))), node.output[0], found))
                   is not None), None)
    if spikes is None:
        return None
    one, theta, beta = _values(spikes, "one", "theta", "beta")
    zero = spikes.values.get("zero", F32(0))
    if not (_is(zero, 0) and _is(one, 1)) or spikes.ops.get("compare") != "Greater":
        return None
    x, s = spikes.tensors["x"], spikes.tensors["s"]
    if not np.all(theta > 0) or _depends_on(index, x, v_in):
        return None
    params = NeuronParams(threshold=theta, beta=beta, reset="zero")

    def emit(sink: NodeSink, name: str) -> None:
        emit_lif(sink, name, x, v_in, s, v_out, params, style="snntorch")

    return _Neuron(tuple(spikes.nodes.values()), (s, v_out), emit)


_MATCHERS = (_snntorch_zero, _snntorch_zero_delayed, _spikingjelly, _norse)


def _first(found: Match) -> str:
    return next(iter(found.nodes))


def _depends_on(index: GraphIndex, tensor: str, source: str) -> bool:
    """Whether ``tensor`` is computed from ``source``."""
    return any(name == source for name in upstream(index.producer, tensor))


def _self_contained(index: GraphIndex, neuron: _Neuron) -> bool:
    """Every value the replaced nodes compute, except the kept outputs, is read only by
    them, so replacing them changes nothing else."""
    names = {n.name for n in neuron.replaced}
    for node in neuron.replaced:
        for out in node.output:
            if out in neuron.outputs:
                continue
            if out in index.outputs:
                return False
            if any(reader.name not in names for reader in index.consumers.get(out, [])):
                return False
    return True


def rewrite_framework_neurons(model: onnx.ModelProto, pairs: Sequence[tuple[str, str]],
                              layer_name: Callable[[list[NodeProto]], str],
                              ) -> tuple[onnx.ModelProto, dict[str, str]]:
    """Rewrite every framework neuron found around a state pair into the canonical
    primitives; returns the new model and a map from each new node to its layer's name
    (``layer_name`` names a layer after the nodes it replaces); ``model`` itself when there
    is nothing to rewrite (a copy holds every weight)."""
    out = model
    pair_map = dict(pairs)
    origin: dict[str, str] = {}
    for v_in, v_out in pairs:
        index = GraphIndex(out.graph)
        neuron = next((found for matcher in _MATCHERS
                       if (found := matcher(index, v_in, v_out, pair_map)) is not None), None)
        if neuron is None or not _self_contained(index, neuron):
            continue
        if out is model:  # the matches name nodes and tensors, which the copy shares
            out = onnx.ModelProto()
            out.CopyFrom(model)
        replaced = {n.name for n in neuron.replaced}
        ordered = [n for n in index.nodes if n.name in replaced]
        name = layer_name(ordered)
        sink = NodeSink(tensors={t for n in out.graph.node for t in (*n.input, *n.output)}
                        | {v.name for v in out.graph.input} | {t.name for t in
                                                               out.graph.initializer},
                        node_names={n.name for n in out.graph.node})
        neuron.emit(sink, name)
        for node in sink.nodes:
            origin[node.name] = name
        kept = [n for n in out.graph.node if n.name not in replaced]
        del out.graph.node[:]
        out.graph.node.extend([*kept, *sink.nodes])
        out.graph.initializer.extend(sink.initializers)
        sort_topologically(out)
    if out is model:
        if len(_live_nodes(model.graph)) == len(model.graph.node):
            return model, origin
        out = onnx.ModelProto()
        out.CopyFrom(model)
    _drop_dead_nodes(out.graph)
    return out, origin
