"""Write spiking models as ONNX with the ``onnx`` package alone.

A model is ONE timestep: ``step(x_t, state_t) -> (y_t, state_t+1)``, run ``T`` times. State
(membranes ``v``, CUBA currents ``u``, previous spikes of recurrent sources) is an explicit graph
input paired with a graph output; the pairing is the model metadata ``snnc.state``, a JSON object
``{"<state input>": "<state output>"}`` (see ``docs/onnx-ops.md`` for the naming fallback).
``snnc.timesteps`` and ``snnc.encoding`` give the default run length and input encoding.

Two forms of the same network:

- ``form="snnc"``: neurons are custom-domain ops (``snnc::LIF``, ``IF``, ``CubaLIF``,
  ``MultiLevelSpike``, ``SpikingSelfAttention``), readable and compact;
- ``form="primitive"``: neurons and attention spelled in standard ONNX ops the way exporters such
  as snnTorch emit them, so onnxruntime can run the step directly.

Names: every layer's output tensor and (anchor) node carry the layer name; a neuron ``L`` has the
state pair ``L.v`` -> ``L.v.next`` (and ``L.u`` -> ``L.u.next``), a recurrent source ``S`` the pair
``S.prev`` -> ``S``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, ValueInfoProto, helper

from snnc.frontend.primitives import (
    NeuronParams,
    NodeSink,
    Style,
    emit_attention,
    emit_cuba,
    emit_lif,
    emit_multilevel,
)
from snnc.frontend.schema import DEFAULT_OPSET, DOMAIN, DOMAIN_VERSION
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

Form = Literal["snnc", "primitive"]
F32 = np.float32
BATCH = "N"

STATE_KEY = "snnc.state"
TIMESTEPS_KEY = "snnc.timesteps"
ENCODING_KEY = "snnc.encoding"


def snnc_node(op: str, inputs: Sequence[str], outputs: Sequence[str], name: str,
              **attrs: object) -> NodeProto:
    """A node of the ``snnc`` domain, e.g. ``snnc_node("LIF", ["I", "v"], ["s", "v.next"],
    "lif1", beta=0.9, threshold=1.0, reset="subtract")``."""
    return helper.make_node(op, list(inputs), list(outputs), name=name, domain=DOMAIN, **attrs)


def tensor_info(name: str, sample_shape: Sequence[int]) -> ValueInfoProto:
    """A float32 graph input/output with a symbolic batch axis ``N`` in front."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [BATCH, *sample_shape])


def make_model(nodes: Sequence[NodeProto], inputs: Sequence[ValueInfoProto],
               outputs: Sequence[ValueInfoProto], initializers: Sequence[TensorProto] = (),
               *, state: Mapping[str, str] | None = None, timesteps: int = 8,
               encoding: str = "direct", name: str = "model",
               opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Assemble a one-step model with the opset imports and ``snnc.*`` metadata set."""
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    if any(n.domain == DOMAIN for n in nodes):
        opsets.append(helper.make_opsetid(DOMAIN, DOMAIN_VERSION))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="snnc")
    model.ir_version = min(model.ir_version, 10)  # readable by current onnxruntime releases
    meta = {TIMESTEPS_KEY: str(int(timesteps)), ENCODING_KEY: encoding,
            STATE_KEY: json.dumps(dict(sorted((state or {}).items())))}
    helper.set_model_props(model, meta)
    return model


def graph_to_onnx(graph: Graph, form: Form = "snnc") -> onnx.ModelProto:
    """Write ``graph`` as a one-timestep ONNX model (see the module docstring for the layout)."""
    if form not in ("snnc", "primitive"):
        raise ValueError(f"form must be 'snnc' or 'primitive', got {form!r}")
    writer = _Writer(graph, form)
    for layer in graph.layers[1:]:
        writer.layer(layer)
    return writer.model()


class _Writer:
    """Per-model state of :func:`graph_to_onnx`: the node sink, state pairs and outputs."""

    def __init__(self, graph: Graph, form: Form) -> None:
        self.graph = graph
        self.form = form
        self.style: Style = "snntorch"
        self.sink = NodeSink(tensors={layer.name for layer in graph.layers},
                             node_names=set())
        self.inputs = [tensor_info(graph.input.name, graph.input.shape)]
        self.outputs: list[ValueInfoProto] = [tensor_info(graph.output,
                                                          graph.shape(graph.output))]
        self.state: dict[str, str] = {}
        self.previous: dict[str, str] = {}

    def model(self) -> onnx.ModelProto:
        return make_model(self.sink.nodes, self.inputs, self.outputs, self.sink.initializers,
                          state=self.state, timesteps=self.graph.timesteps,
                          encoding=self.graph.encoding, name=self.graph.name)

    # -- state -------------------------------------------------------------------------------

    def _state(self, name: str, output: str, shape: Sequence[int]) -> str:
        """Declare the state input ``name`` carried to the output tensor ``output``."""
        self.sink.tensors.add(name)
        self.inputs.append(tensor_info(name, shape))
        self.state[name] = output
        if output not in {o.name for o in self.outputs}:
            self.outputs.append(tensor_info(output, shape))
        return name

    def _previous(self, source: str) -> str:
        """The state input holding ``source``'s value from the previous step."""
        if source not in self.previous:
            self.previous[source] = self._state(f"{source}.prev", source,
                                                self.graph.shape(source))
        return self.previous[source]

    def _sources(self, layer: Layer) -> list[str]:
        if getattr(layer, "recurrent", False):
            return [self._previous(src) for src in layer.inputs]
        return list(layer.inputs)

    # -- layers ------------------------------------------------------------------------------

    def layer(self, layer: Layer) -> None:
        handlers = {
            Dense: self._dense, Conv2d: self._conv, Pool2d: self._pool, Flatten: self._flatten,
            Reshape: self._reshape, Add: self._add, LIF: self._lif, CubaLIF: self._cuba,
            MultiLevelSpike: self._multilevel, SpikingSelfAttention: self._attention,
        }
        handler = handlers.get(type(layer))
        if handler is None or isinstance(layer, Input):
            raise ValueError(f"layer '{layer.name}': cannot write {type(layer).__name__} to ONNX")
        handler(layer)

    def _dense(self, layer: Dense) -> None:
        (x,) = self._sources(layer)
        s, name = self.sink, layer.name
        weight = np.asarray(layer.weight, F32)
        if len(self.graph.shape(layer.inputs[0])) == 1:
            args = [x, s.const(f"{name}.weight", weight)]
            if layer.bias is not None:
                args.append(s.const(f"{name}.bias", layer.bias))
            s.one("Gemm", args, name, name, transB=1)
            return
        out = None if layer.bias is not None else name
        y = s.one("MatMul", [x, s.const(f"{name}.weight", weight.T)], name, out)
        if layer.bias is not None:
            s.one("Add", [y, s.const(f"{name}.bias", layer.bias)], f"{name}/bias", name)

    def _conv(self, layer: Conv2d) -> None:
        (x,) = self._sources(layer)
        s, name = self.sink, layer.name
        args = [x, s.const(f"{name}.weight", layer.weight)]
        if layer.bias is not None:
            args.append(s.const(f"{name}.bias", layer.bias))
        kh, kw = layer.weight.shape[2:]
        s.one("Conv", args, name, name, kernel_shape=[kh, kw], strides=list(layer.stride),
              pads=list(layer.padding), dilations=list(layer.dilation), group=layer.groups)

    def _pool(self, layer: Pool2d) -> None:
        (x,) = layer.inputs
        s, name = self.sink, layer.name
        window = {"kernel_shape": list(layer.kernel), "strides": list(layer.stride),
                  "pads": list(layer.padding)}
        if layer.pool == "max":
            s.one("MaxPool", [x], name, name, **window)
            return
        if layer.pool == "avg":
            s.one("AveragePool", [x], name, name, count_include_pad=1, **window)
            return
        # ONNX has no sum pool: average times the window area, exact for spike counts.
        mean = s.one("AveragePool", [x], name, count_include_pad=1, **window)
        area = s.const(f"{name}.area", float(layer.kernel[0] * layer.kernel[1]))
        s.one("Mul", [mean, area], f"{name}/area", name)

    def _flatten(self, layer: Flatten) -> None:
        self.sink.one("Flatten", [layer.inputs[0]], layer.name, layer.name, axis=1)

    def _reshape(self, layer: Reshape) -> None:
        shape = self.sink.const(f"{layer.name}.shape", [-1, *layer.shape], np.int64)
        self.sink.one("Reshape", [layer.inputs[0], shape], layer.name, layer.name)

    def _add(self, layer: Add) -> None:
        total = layer.inputs[0]
        for k, other in enumerate(layer.inputs[1:], start=1):
            last = k == len(layer.inputs) - 1
            total = self.sink.one("Add", [total, other], layer.name if k == 1 else
                                  f"{layer.name}/{k}", layer.name if last else None)

    def _neuron_state(self, layer: Layer, var: str) -> tuple[str, str]:
        shape = self.graph.shape(layer.name)
        out = f"{layer.name}.{var}.next"
        self.sink.tensors.add(out)
        return self._state(f"{layer.name}.{var}", out, shape), out

    def _lif(self, layer: LIF) -> None:
        (current,) = layer.inputs
        v_in, v_out = self._neuron_state(layer, "v")
        is_if = np.ndim(layer.beta) == 0 and float(layer.beta) == 1.0
        source = self.graph.layer(current)
        # an into_neuron sum is added term by term, which only the primitive form can say
        split = isinstance(source, Add) and source.into_neuron
        if self.form == "primitive" or split:
            params = _neuron_params(layer, None if is_if else np.asarray(layer.beta, F32))
            first, *more = source.inputs if split else (current,)
            emit_lif(self.sink, layer.name, first, v_in, layer.name, v_out, params,
                     self.style, tuple(more))
            return
        op, extra = ("IF", {}) if is_if else ("LIF", {"beta": layer.beta})
        self._snnc_neuron(op, layer, [current, v_in], [layer.name, v_out], extra)

    def _cuba(self, layer: CubaLIF) -> None:
        (current,) = layer.inputs
        u_in, u_out = self._neuron_state(layer, "u")
        v_in, v_out = self._neuron_state(layer, "v")
        if self.form == "primitive":
            emit_cuba(self.sink, layer.name, current, u_in, v_in, layer.name, u_out, v_out,
                      np.asarray(layer.current_decay, F32), np.asarray(layer.voltage_decay, F32),
                      _neuron_params(layer, None), self.style)
            return
        extra = {"current_decay": layer.current_decay, "voltage_decay": layer.voltage_decay}
        self._snnc_neuron("CubaLIF", layer, [current, u_in, v_in], [layer.name, u_out, v_out],
                          extra)

    def _snnc_neuron(self, op: str, layer: LIF | CubaLIF, inputs: list[str],
                     outputs: list[str], extra: dict[str, object]) -> None:
        """Scalars become attributes, arrays optional constant inputs (in schema order)."""
        params = {**extra, "threshold": layer.threshold, "bias": layer.bias}
        attrs: dict[str, object] = {"reset": layer.reset, "reset_timing": layer.reset_timing,
                                    "compare": layer.compare}
        tensor_inputs: list[str] = []
        for pname, value in params.items():
            if value is None:
                tensor_inputs.append("")
            elif np.ndim(value) == 0:
                attrs[pname] = float(value)
                tensor_inputs.append("")
            else:
                tensor_inputs.append(self.sink.const(f"{layer.name}.{pname}", value))
        while tensor_inputs and not tensor_inputs[-1]:
            tensor_inputs.pop()
        self.sink.node(op, inputs + tensor_inputs, layer.name, outputs, domain=DOMAIN, **attrs)

    def _multilevel(self, layer: MultiLevelSpike) -> None:
        (current,) = layer.inputs
        rank = len(self.graph.shape(layer.name))
        axis = None if layer.axis is None else layer.axis % rank + 1  # ONNX counts the batch
        if self.form == "primitive":
            emit_multilevel(self.sink, layer.name, current, layer.name, layer.levels,
                            layer.alpha, axis, layer.theta)
            return
        attrs: dict[str, object] = {"levels": layer.levels, "alpha": layer.alpha}
        if axis is None:
            attrs["theta"] = float(layer.theta if layer.theta is not None else 1.0)
        else:
            attrs["axis"] = axis
        self.sink.node("MultiLevelSpike", [current], layer.name, [layer.name], domain=DOMAIN,
                       **attrs)

    def _attention(self, layer: SpikingSelfAttention) -> None:
        length, dim = self.graph.shape(layer.name)
        if self.form == "primitive":
            emit_attention(self.sink, layer.name, *layer.inputs, layer.name, layer.heads,
                           layer.scale, np.asarray(layer.gammas, F32), length, dim)
            return
        self.sink.node("SpikingSelfAttention", list(layer.inputs), layer.name, [layer.name],
                       domain=DOMAIN, heads=layer.heads, scale=float(layer.scale),
                       gammas=[float(g) for g in layer.gammas])


def _neuron_params(layer: LIF | CubaLIF, beta: np.ndarray | None) -> NeuronParams:
    return NeuronParams(
        threshold=np.asarray(layer.threshold, F32), beta=beta,
        bias=None if layer.bias is None else np.asarray(layer.bias, F32),
        reset=layer.reset, reset_timing=layer.reset_timing, compare=layer.compare)
