"""Primitive one-step graphs written the way exporters write them are raised to layers.

The graphs mirror what ``torch.onnx.export`` produces for snnTorch neurons (node and tensor
names, ``Constant`` nodes, separate threshold constants, ``(v - theta) > 0`` spike tests), so
the patterns are exercised on more than snnc's own spelling.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from stepping import run_onnxruntime

from snnc.frontend.onnx import import_onnx
from snnc.frontend.primitives import NeuronParams, NodeSink, emit_lif
from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense
from snnc.onnx_builder import make_model, tensor_info
from snnc.reference.simulate import run_graph

F32 = np.float32
RNG = np.random.default_rng(5)


def const(name: str, value: object) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, F32), name)


def node(op: str, inputs: list[str], output: str, name: str, **attrs: object) -> onnx.NodeProto:
    return helper.make_node(op, inputs, [output], name=name, **attrs)


def fire(prefix: str, v: str, out: str) -> list[onnx.NodeProto]:
    """snnTorch's spike test ``(v - theta) > 0`` then ``Cast`` to float."""
    return [node("Sub", [v, "lif.threshold"], f"{prefix}sub", f"node_{prefix}sub"),
            node("Greater", [f"{prefix}sub", "zero"], f"{prefix}gt", f"node_{prefix}gt"),
            node("Cast", [f"{prefix}gt"], out, f"node_{prefix}cast", to=TensorProto.FLOAT)]


def leaky_model(recurrent: bool = False, synaptic: bool = False) -> onnx.ModelProto:
    """snnTorch Leaky / RLeaky / Synaptic as exported by the dynamo exporter (state names
    ``mem_in``/``mem_out`` paired by the naming convention, no metadata)."""
    weight = (RNG.integers(-32, 32, (5, 6)) / 16).astype(F32)
    inits = [const("fc.weight", weight), const("fc.bias", RNG.integers(-8, 8, 5) / 16),
             const("lif.threshold", np.full(5, 1.0 if recurrent else 0.75)),
             const("zero", 0.0), const("clamp", np.full(5, 0.875)),
             const("clamp_1", np.full(5, 0.75))]
    nodes = [node("Gemm", ["x", "fc.weight", "fc.bias"], "linear", "node_linear", transB=1),
             *fire("r_", "mem_in", "reset")]
    inputs = [tensor_info("x", [6]), tensor_info("mem_in", [5])]
    outputs = [tensor_info("spk", [5]), tensor_info("mem_out", [5])]
    current = "linear"
    if synaptic:
        nodes += [node("Mul", ["clamp_1", "syn_in"], "syn_decay", "node_mul_syn"),
                  node("Add", ["syn_decay", "linear"], "syn_out", "node_add_syn")]
        inputs.insert(1, tensor_info("syn_in", [5]))
        outputs.insert(1, tensor_info("syn_out", [5]))
        current = "syn_out"
    nodes += [node("Mul", ["clamp", "mem_in"], "decay", "node_mul"),
              node("Add", ["decay", current], "charge", "node_add")]
    if recurrent:
        inits.append(const("lif.recurrent.weight", RNG.integers(-8, 8, (5, 5)) / 16))
        nodes += [node("Gemm", ["spk_in", "lif.recurrent.weight"], "rec", "node_linear_1",
                       transB=1),
                  node("Add", ["charge", "rec"], "charge_1", "node_add_1"),
                  node("Sub", ["charge_1", "reset"], "mem_out", "node_sub_1")]
        inputs.insert(1, tensor_info("spk_in", [5]))
    else:
        nodes += [node("Mul", ["reset", "lif.threshold"], "drop", "node_mul_1"),
                  node("Sub", ["charge", "drop"], "mem_out", "node_sub_1")]
    nodes += fire("s_", "mem_out", "spk")
    model = make_model(nodes, inputs, outputs, inits, timesteps=12)
    del model.metadata_props[:]  # exporters write no snnc metadata: pairing by name
    return model


def spike_drive(steps: int = 12, batch: int = 3) -> np.ndarray:
    return RNG.integers(0, 2, (steps, batch, 6)).astype(F32)


def assert_matches_onnxruntime(model: onnx.ModelProto) -> None:
    imported = import_onnx(model)
    drive = spike_drive()
    reference = run_graph(imported.graph, drive)
    outputs = run_onnxruntime(model, imported.layout, drive)
    assert reference.output.sum() > 0
    assert np.array_equal(outputs[imported.layout.data_output], reference.output)


def test_snntorch_leaky_is_a_lif_with_subtract_reset_from_the_previous_membrane() -> None:
    model = leaky_model()
    layers = import_onnx(model).graph.layers
    assert [type(lay) for lay in layers[1:]] == [Dense, LIF]
    lif = layers[-1]
    assert (lif.reset, lif.reset_timing, lif.compare) == ("subtract", "next", "gt")
    assert np.array_equal(lif.beta, np.full(5, 0.875, F32))
    assert np.array_equal(lif.threshold, np.full(5, 0.75, F32))
    assert_matches_onnxruntime(model)


def test_snntorch_synaptic_is_a_cuba_neuron() -> None:
    model = leaky_model(synaptic=True)
    cuba = import_onnx(model).graph.layers[-1]
    assert isinstance(cuba, CubaLIF)
    assert np.array_equal(cuba.current_decay, np.full(5, 0.25, F32))
    assert np.array_equal(cuba.voltage_decay, np.full(5, 0.125, F32))
    assert_matches_onnxruntime(model)


def test_snntorch_rleaky_sums_its_two_currents_before_the_neuron() -> None:
    model = leaky_model(recurrent=True)
    graph = import_onnx(model).graph
    kinds = {lay.name: type(lay) for lay in graph.layers}
    lif = graph.layer(graph.output)
    assert isinstance(lif, LIF) and lif.reset == "subtract"
    (summed,) = lif.inputs
    assert kinds[summed] is Add
    recurrent = [lay for lay in graph.layers if getattr(lay, "recurrent", False)]
    assert [lay.inputs for lay in recurrent] == [(graph.output,)]
    assert_matches_onnxruntime(model)


def _single_lif(style: str, reset: str) -> onnx.ModelProto:
    sink = NodeSink(tensors={"x", "v", "s", "v.next"})
    params = NeuronParams(threshold=np.asarray(0.5, F32), beta=np.asarray(0.75, F32),
                          reset=reset)
    emit_lif(sink, "lif", "x", "v", "s", "v.next", params, style)
    return make_model(sink.nodes, [tensor_info("x", [4]), tensor_info("v", [4])],
                      [tensor_info("s", [4]), tensor_info("v.next", [4])], sink.initializers,
                      state={"v": "v.next"})


def test_where_and_arithmetic_zero_resets_raise_the_same_neuron() -> None:
    where = import_onnx(_single_lif("compare", "zero")).graph.layers[-1]
    arithmetic = import_onnx(_single_lif("snntorch", "zero")).graph.layers[-1]
    for lif in (where, arithmetic):
        assert isinstance(lif, LIF)
        assert (lif.name, lif.reset, float(lif.beta), float(lif.threshold)) == \
            ("lif", "zero", 0.75, 0.5)


def test_torch_scope_names_become_layer_names() -> None:
    inits = [const("w", RNG.integers(-8, 8, (3, 4)) / 8), const("beta", 0.5),
             const("theta", 1.0)]
    nodes = [node("Gemm", ["x", "w"], "cur", "/fc1/Gemm", transB=1),
             node("Mul", ["v", "beta"], "bv", "/lif1/Mul"),
             node("Add", ["bv", "cur"], "h", "/lif1/Add"),
             node("Greater", ["h", "theta"], "f", "/lif1/Greater"),
             node("Cast", ["f"], "s", "/lif1/Cast", to=TensorProto.FLOAT),
             node("Mul", ["s", "theta"], "r", "/lif1/Mul_1"),
             node("Sub", ["h", "r"], "v_out", "/lif1/Sub")]
    model = make_model(nodes, [tensor_info("x", [4]), tensor_info("v", [3])],
                       [tensor_info("s", [3]), tensor_info("v_out", [3])], inits,
                       state={"v": "v_out"})
    assert [lay.name for lay in import_onnx(model).graph.layers] == ["x", "fc1", "lif1"]


def test_batch_normalization_after_conv_is_folded_into_its_weights() -> None:
    weight = (RNG.integers(-8, 8, (2, 1, 3, 3)) / 8).astype(F32)
    eps = 2.0**-10  # var + eps == 1 exactly: the fold is exact and comparable bit for bit
    gamma, shift, mean = np.asarray([0.5, 2.0], F32), np.asarray([0.25, -0.5], F32), \
        np.asarray([0.125, 0.0], F32)
    inits = [const("w", weight), const("b", [0.25, 0.5]), const("g", gamma),
             const("shift", shift), const("mean", mean), const("var", [1 - eps] * 2),
             const("beta", 0.5), const("theta", 0.5)]
    sink = NodeSink(tensors={"x", "v", "s", "v.next", "conv", "bn"})
    sink.nodes += [node("Conv", ["x", "w", "b"], "conv", "conv", pads=[1, 1, 1, 1]),
                   node("BatchNormalization", ["conv", "g", "shift", "mean", "var"], "bn",
                        "bn", epsilon=eps)]
    emit_lif(sink, "lif", "bn", "v", "s", "v.next",
             NeuronParams(threshold=np.asarray(0.5, F32), beta=np.asarray(0.5, F32)))
    model = make_model(sink.nodes, [tensor_info("x", [1, 4, 4]), tensor_info("v", [2, 4, 4])],
                       [tensor_info("s", [2, 4, 4]), tensor_info("v.next", [2, 4, 4])],
                       inits + sink.initializers, state={"v": "v.next"})
    conv = import_onnx(model).graph.layers[1]
    assert isinstance(conv, Conv2d)
    assert np.array_equal(conv.weight, weight * gamma[:, None, None, None])
    assert np.array_equal(conv.bias, (np.asarray([0.25, 0.5], F32) - mean) * gamma + shift)
    imported = import_onnx(model)
    drive = RNG.integers(0, 2, (6, 2, 1, 4, 4)).astype(F32)
    reference = run_graph(imported.graph, drive)
    outputs = run_onnxruntime(model, imported.layout, drive)
    assert np.array_equal(outputs["s"], reference.output)


def test_dead_nodes_and_constant_clips_are_ignored() -> None:
    model = leaky_model()
    model.graph.node.append(node("Relu", ["linear"], "unused", "node_dead"))
    clip_bounds = [const("lo", 0.0), const("hi", 1.0), const("raw_beta", np.full(5, 1.5))]
    model.graph.initializer.extend(clip_bounds)
    model.graph.node.insert(0, node("Clip", ["raw_beta", "lo", "hi"], "beta_clamped", "clip"))
    for n in model.graph.node:
        if n.name == "node_mul":
            n.input[0] = "beta_clamped"
    lif = import_onnx(model).graph.layers[-1]
    assert isinstance(lif, LIF) and np.array_equal(lif.beta, np.ones(5, F32))
