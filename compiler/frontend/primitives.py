"""Spiking neurons and attention written in standard ONNX operators.

These are the one-step idioms real exporters emit (snnTorch's ``Leaky``: ``Mul`` by beta, ``Add``,
``Sub``/``Greater`` against the threshold, ``Cast``, reset by ``Mul``/``Sub`` or ``Where``). The
frontend expands every ``snnc`` op into them before Relax import, and ``snnc.onnx_builder`` writes
them for ``form="primitive"``, so one set of Relax patterns raises both. Each emitter follows the
float reference (``snnc.reference.simulate``) operation by operation, in the same order and in
float32, so the expanded graph agrees with the reference bit for bit.

Two spellings exist for the spike test and the zero reset:

- ``style="compare"``: ``Greater(h, theta)`` and ``Where(fired, 0, h)``;
- ``style="snntorch"``: ``Greater(Sub(h, theta), 0)`` and ``Sub(h, Mul(r, h))``, as snnTorch
  exports them. Both are exact: ``h - theta > 0`` iff ``h > theta`` in IEEE arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from onnx import GraphProto, ModelProto, NodeProto, TensorProto, helper, numpy_helper

from snnc.ir.layers import SpikingSelfAttention

F32 = np.float32
Style = Literal["compare", "snntorch"]


@dataclass
class NodeSink:
    """Collects nodes and constant initializers. Tensor and node names live in separate ONNX
    namespaces; ``fresh_*`` never returns a name already in the matching set."""

    tensors: set[str] = field(default_factory=set)
    node_names: set[str] = field(default_factory=set)
    nodes: list[NodeProto] = field(default_factory=list)
    initializers: list[TensorProto] = field(default_factory=list)

    @classmethod
    def for_graph(cls, graph: GraphProto) -> NodeSink:
        """A sink for rewriting ``graph``: its fresh names avoid every tensor the graph has
        (initializers, inputs, node outputs) and every node name."""
        return cls(tensors={t.name for t in graph.initializer} | {v.name for v in graph.input}
                   | {o for n in graph.node for o in n.output},
                   node_names={n.name for n in graph.node})

    def model_with(self, model: ModelProto, nodes: list[NodeProto]) -> ModelProto:
        """A copy of ``model`` whose graph has ``nodes`` and, added to its own, the constants
        this sink collected."""
        result = ModelProto()
        result.CopyFrom(model)
        del result.graph.node[:]
        result.graph.node.extend(nodes)
        result.graph.initializer.extend(self.initializers)
        return result

    @staticmethod
    def _fresh(base: str, taken: set[str]) -> str:
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    def fresh_tensor(self, base: str) -> str:
        return self._fresh(base, self.tensors)

    def const(self, base: str, value: np.ndarray | float | int, dtype: type = F32) -> str:
        """A constant initializer; float data is stored as float32, integer shapes as int64."""
        name = self.fresh_tensor(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, outputs: list[str] | None = None,
             n_out: int = 1, domain: str = "", **attrs: object) -> list[str]:
        """Append one node; ``outputs`` default to fresh tensor names derived from ``name``."""
        node_name = self._fresh(name, self.node_names)
        if outputs is None:
            outputs = [self.fresh_tensor(node_name if n_out == 1 else f"{node_name}:{i}")
                       for i in range(n_out)]
        else:
            self.tensors.update(outputs)
        self.nodes.append(helper.make_node(op, inputs, outputs, name=node_name,
                                           domain=domain or None, **attrs))
        return outputs

    def one(self, op: str, inputs: list[str], name: str, output: str | None = None,
            **attrs: object) -> str:
        return self.node(op, inputs, name, None if output is None else [output], **attrs)[0]


def _fire(sink: NodeSink, name: str, x: str, theta: str, compare: str, style: Style) -> str:
    """Boolean spike test ``x > theta`` (``>=`` for ``compare="ge"``)."""
    op = "GreaterOrEqual" if compare == "ge" else "Greater"
    if style == "snntorch":
        shifted = sink.one("Sub", [x, theta], f"{name}/shift")
        return sink.one(op, [shifted, sink.const(f"{name}/zero", 0.0)], f"{name}/fire")
    return sink.one(op, [x, theta], f"{name}/fire")


def _reset(sink: NodeSink, name: str, h: str, fired: str, spikes: str, theta: str,
           kind: str, style: Style, output: str) -> str:
    """The membrane after reset: ``h`` minus ``theta`` per spike, ``0`` where fired, or ``h``."""
    if kind == "subtract":
        drop = sink.one("Mul", [spikes, theta], f"{name}/reset_amount")
        return sink.one("Sub", [h, drop], f"{name}/reset", output)
    if kind == "zero" and style == "snntorch":
        drop = sink.one("Mul", [spikes, h], f"{name}/reset_amount")
        return sink.one("Sub", [h, drop], f"{name}/reset", output)
    if kind == "zero":
        zero = sink.const(f"{name}/zero", 0.0)
        return sink.one("Where", [fired, zero, h], f"{name}/reset", output)
    return sink.one("Identity", [h], f"{name}/reset", output)


def _cast(sink: NodeSink, name: str, fired: str, output: str | None = None) -> str:
    return sink.one("Cast", [fired], name, output, to=TensorProto.FLOAT)


@dataclass(frozen=True)
class NeuronParams:
    """Float32 parameters of a LIF-family neuron; arrays broadcast like the layer view's."""

    threshold: np.ndarray
    beta: np.ndarray | None = None  # None: no leak multiply (IF)
    bias: np.ndarray | None = None
    reset: str = "zero"
    reset_timing: str = "same"
    compare: str = "gt"


def emit_membrane(sink: NodeSink, name: str, decayed: str, current: str, v_in: str,
                  spikes: str, v_out: str, p: NeuronParams, style: Style,
                  more: tuple[str, ...] = ()) -> None:
    """Charge ``h = decayed + current (+ more...) (+ bias)``, fire and reset, as the reference
    orders it.

    ``decayed`` is the already-leaked membrane (``beta*v``, or ``v`` itself for IF); ``more``
    are further currents added one at a time (the operands of an ``into_neuron`` Add). With
    ``reset_timing="next"`` the reset is decided from the previous membrane ``v_in`` before the
    new charge is tested (snnTorch).
    """
    theta = sink.const(f"{name}.threshold", p.threshold)
    h = sink.one("Add", [decayed, current], f"{name}/charge")
    for k, extra in enumerate(more, start=1):
        h = sink.one("Add", [h, extra], f"{name}/charge_{k}")
    if p.bias is not None:
        h = sink.one("Add", [h, sink.const(f"{name}.bias", p.bias)], f"{name}/bias")
    if p.reset_timing == "next" and p.reset != "none":
        was = _fire(sink, f"{name}/prev", v_in, theta, p.compare, style)
        arithmetic = p.reset == "subtract" or style == "snntorch"
        was_spikes = _cast(sink, f"{name}/prev_spikes", was) if arithmetic else ""
        _reset(sink, name, h, was, was_spikes, theta, p.reset, style, v_out)
        fired = _fire(sink, name, v_out, theta, p.compare, style)
        _cast(sink, f"{name}/spikes", fired, spikes)
        return
    fired = _fire(sink, name, h, theta, p.compare, style)
    spike_tensor = _cast(sink, f"{name}/spikes", fired, spikes)
    _reset(sink, name, h, fired, spike_tensor, theta, p.reset, style, v_out)


def emit_lif(sink: NodeSink, name: str, current: str, v_in: str, spikes: str, v_out: str,
             p: NeuronParams, style: Style = "compare", more: tuple[str, ...] = ()) -> None:
    """LIF / IF: ``v = beta*v + I (+ more...) (+ bias)``; see :class:`snnc.ir.layers.LIF`."""
    decayed = v_in
    if p.beta is not None:
        decayed = sink.one("Mul", [v_in, sink.const(f"{name}.beta", p.beta)], f"{name}/leak")
    emit_membrane(sink, name, decayed, current, v_in, spikes, v_out, p, style, more)


def emit_cuba(sink: NodeSink, name: str, current: str, u_in: str, v_in: str, spikes: str,
              u_out: str, v_out: str, current_decay: np.ndarray, voltage_decay: np.ndarray,
              p: NeuronParams, style: Style = "compare") -> None:
    """CUBA: ``u = (1-du)*u + I``; ``v = (1-dv)*v + u (+ bias)``; the factors ``1-d`` are
    computed in float32 exactly as the reference computes them."""
    keep_u = sink.const(f"{name}.current_keep", F32(1) - np.asarray(current_decay, F32))
    keep_v = sink.const(f"{name}.voltage_keep", F32(1) - np.asarray(voltage_decay, F32))
    leaked_u = sink.one("Mul", [u_in, keep_u], f"{name}/current_leak")
    sink.one("Add", [leaked_u, current], f"{name}/current", u_out)
    decayed = sink.one("Mul", [v_in, keep_v], f"{name}/leak")
    emit_membrane(sink, name, decayed, u_out, v_in, spikes, v_out, p, style)


def emit_multilevel(sink: NodeSink, name: str, current: str, out: str, levels: int,
                    alpha: float, axis: int | None, theta: float | None,
                    opset: int = 17) -> None:
    """IMLS: ``s = clip(floor(I/theta + 1/2), 0, D)``, ``theta = alpha*mean(|I|, axis)`` or a
    constant, ``s = 0`` where ``theta <= 0``. ``axis`` counts the batch axis (ONNX convention).

    The clip is spelled ``Relu`` then ``Where(level > D, D, level)`` rather than ``Clip``, whose
    Relax import lowers to opaque TIR calls that patterns cannot see.
    """
    half = sink.const(f"{name}/half", 0.5)
    top = sink.const(f"{name}.levels", float(levels))
    if axis is None:
        scaled = sink.one("Div", [current, sink.const(f"{name}.theta", theta)], f"{name}/scale")
    else:
        magnitude = sink.one("Abs", [current], f"{name}/abs")
        if opset >= 18:  # ReduceMean takes its axes as an input from opset 18 on
            axes = sink.const(f"{name}/axes", [axis], np.int64)
            mean = sink.one("ReduceMean", [magnitude, axes], f"{name}/mean", keepdims=1)
        else:
            mean = sink.one("ReduceMean", [magnitude], f"{name}/mean", axes=[axis], keepdims=1)
        thr = sink.one("Mul", [mean, sink.const(f"{name}.alpha", alpha)], f"{name}/theta")
        positive = sink.one("Greater", [thr, sink.const(f"{name}/zero", 0.0)],
                            f"{name}/active")
        safe = sink.one("Where", [positive, thr, sink.const(f"{name}/one", 1.0)],
                        f"{name}/safe_theta")
        scaled = sink.one("Div", [current, safe], f"{name}/scale")
    rounded = sink.one("Floor", [sink.one("Add", [scaled, half], f"{name}/round")],
                       f"{name}/floor")
    low = sink.one("Relu", [rounded], f"{name}/clip_low")
    over = sink.one("Greater", [low, top], f"{name}/over")
    if axis is None:
        sink.one("Where", [over, top, low], f"{name}/clip_high", out)
        return
    level = sink.one("Where", [over, top, low], f"{name}/clip_high")
    sink.one("Where", [positive, level, sink.const(f"{name}/zero_level", 0.0)],
             f"{name}/gate", out)


def emit_attention(sink: NodeSink, name: str, q: str, k: str, v: str, out: str, heads: int,
                   scale: float, gammas: np.ndarray, length: int, dim: int) -> None:
    """HD-RepSSA: per head ``((Q K^T) * scale * M_h) V`` with ``M_h[n, m] = gamma_h^|n-m|``."""
    d_head = dim // heads
    split = sink.const(f"{name}/split_shape", [-1, length, heads, d_head], np.int64)
    merge = sink.const(f"{name}/merge_shape", [-1, length, dim], np.int64)

    def heads_of(x: str, tag: str, perm: list[int]) -> str:
        parts = sink.one("Reshape", [x, split], f"{name}/{tag}_split")
        return sink.one("Transpose", [parts], f"{name}/{tag}_heads", perm=perm)

    qh = heads_of(q, "q", [0, 2, 1, 3])
    kt = heads_of(k, "k", [0, 2, 3, 1])
    vh = heads_of(v, "v", [0, 2, 1, 3])
    scores = sink.one("MatMul", [qh, kt], f"{name}/scores")
    scores = sink.one("Mul", [scores, sink.const(f"{name}.scale", scale)], f"{name}/scaled")
    mask = SpikingSelfAttention(name, (), heads=heads, gammas=np.asarray(gammas, F32))
    mask = mask.decay_mask(length)
    scores = sink.one("Mul", [scores, sink.const(f"{name}.mask", mask)], f"{name}/masked")
    mixed = sink.one("MatMul", [scores, vh], f"{name}/mix")
    merged = sink.one("Transpose", [mixed], f"{name}/merge_heads", perm=[0, 2, 1, 3])
    sink.one("Reshape", [merged, merge], f"{name}/merge", out)

