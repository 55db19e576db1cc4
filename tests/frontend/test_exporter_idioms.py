"""Primitive one-step graphs written the way exporters write them are raised to layers.

The graphs mirror what ``torch.onnx.export`` produces for snnTorch neurons (node and tensor
names, ``Constant`` nodes, separate threshold constants, ``(v - theta) > 0`` spike tests), so
the patterns are exercised on more than snnc's own spelling.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from stepping import run_onnxruntime

from snnc.errors import ModelError
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


def test_snntorch_rleaky_adds_its_two_currents_to_the_neuron_in_turn() -> None:
    model = leaky_model(recurrent=True)
    graph = import_onnx(model).graph
    lif = graph.layer(graph.output)
    assert isinstance(lif, LIF) and lif.reset == "subtract"
    (summed,) = lif.inputs
    add = graph.layer(summed)
    assert isinstance(add, Add) and add.into_neuron
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


# -- SpikingJelly, Norse and snnTorch's reset_delay=False, as torch.onnx.export writes them ----

def _int64(name: str, value: object) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, np.int64), name)


def _one_step(nodes: list[onnx.NodeProto], inits: list[TensorProto], states: list[str],
              outputs: list[str]) -> onnx.ModelProto:
    """x (6 features) through fc (5 units), then the neuron; state pairing by name."""
    weight = (RNG.integers(-8, 16, (5, 6)) / 16).astype(F32)
    inits = [const("fc.weight", weight), const("fc.bias", RNG.integers(-4, 4, 5) / 16),
             *inits]
    nodes = [node("Gemm", ["x", "fc.weight", "fc.bias"], "linear", "node_linear", transB=1),
             *nodes]
    inputs = [tensor_info("x", [6]), *[tensor_info(s, [5]) for s in states]]
    model = make_model(nodes, inputs, [tensor_info(o, [5]) for o in outputs], inits,
                       timesteps=12, opset=18)
    del model.metadata_props[:]
    return model


def spikingjelly_model(tau: float | None = 2.0, v_reset: float | None = 0.0,
                       decay_input: bool = True) -> onnx.ModelProto:
    """SpikingJelly's LIFNode (``tau``) or IFNode (``None``) in single-step mode: the current
    wrapped in a one-step sequence and unwrapped again, ``v + (x - v)/tau`` (or
    ``v - v/tau + x`` without ``decay_input``), a ``>=`` test, then ``s*v_reset + (1 - s)*h``
    (hard reset) or ``h - s*theta`` (``v_reset=None``)."""
    inits = [_int64("axis0", [0]), _int64("one_i", [1]), _int64("index0", 0),
             const("tau", tau or 1.0), const("theta", 0.5), const("zero", 0.0),
             const("one", 1.0), const("v_reset", v_reset or 0.0)]
    nodes = [node("Unsqueeze", ["linear", "axis0"], "seq", "node_unsqueeze"),
             helper.make_node("Slice", ["seq", "axis0", "one_i", "axis0"], ["first"],
                              name="node_slice"),
             node("Squeeze", ["first", "axis0"], "x_t", "node_unbind")]
    if tau is None:
        nodes.append(node("Add", ["v_in", "x_t"], "h", "node_add"))
    elif not decay_input:
        nodes += [node("Div", ["v_in", "tau"], "leak", "node_div"),
                  node("Sub", ["v_in", "leak"], "decayed", "node_sub"),
                  node("Add", ["decayed", "x_t"], "h", "node_add")]
    else:
        nodes += [node("Sub", ["x_t", "v_in"], "diff", "node_sub"),
                  node("Div", ["diff", "tau"], "scaled", "node_div"),
                  node("Add", ["v_in", "scaled"], "h", "node_add")]
    nodes += [node("Sub", ["h", "theta"], "over", "node_sub_1"),
              node("GreaterOrEqual", ["over", "zero"], "ge", "node_ge"),
              node("Cast", ["ge"], "s", "node_cast", to=TensorProto.FLOAT)]
    if v_reset is None:
        nodes += [node("Mul", ["s", "theta"], "drop", "node_mul"),
                  node("Sub", ["h", "drop"], "v_out", "node_sub_2")]
    else:
        nodes += [node("Mul", ["s", "v_reset"], "at_reset", "node_mul"),
                  node("Sub", ["one", "s"], "kept", "node_sub_2"),
                  node("Mul", ["kept", "h"], "stays", "node_mul_1"),
                  node("Add", ["at_reset", "stays"], "v_out", "node_add_1")]
    nodes += [node("Unsqueeze", ["s", "axis0"], "s_seq", "node_unsqueeze_1"),
              node("Gather", ["s_seq", "index0"], "spk", "node_select", axis=0)]
    return _one_step(nodes, inits, ["v_in"], ["spk", "v_out"])


def norse_model(v_leak: float = 0.0) -> onnx.ModelProto:
    """Norse's LIFCell step: ``i' = i + I``, ``v + c_m*((v_leak - v) + i')``,
    ``i' + (-c_s)*i'``, ``(v - theta) > 0``, ``(1 - s)*v + s*v_reset``."""
    inits = [const("v_leak", np.full(5, v_leak)), const("c_mem", np.full(5, 0.25)),
             const("neg_c_syn", np.full(5, -0.5)), const("theta", np.full(5, 0.375)),
             const("zero", 0.0), const("one", 1.0), const("v_reset", np.zeros(5))]
    nodes = [node("Add", ["i_in", "linear"], "i_new", "node_add"),
             node("Sub", ["v_leak", "v_in"], "towards", "node_sub"),
             node("Add", ["towards", "i_new"], "drive", "node_add_1"),
             node("Mul", ["c_mem", "drive"], "dv", "node_mul_1"),
             node("Add", ["v_in", "dv"], "v_dec", "node_add_2"),
             node("Mul", ["neg_c_syn", "i_new"], "di", "node_mul_3"),
             node("Add", ["i_new", "di"], "i_out", "node_add_3"),
             node("Sub", ["v_dec", "theta"], "over", "node_sub_1"),
             node("Greater", ["over", "zero"], "gt", "node_gt"),
             node("Cast", ["gt"], "spk", "node_cast", to=TensorProto.FLOAT),
             node("Sub", ["one", "spk"], "kept", "node_sub_2"),
             node("Mul", ["kept", "v_dec"], "stays", "node_mul_4"),
             node("Mul", ["spk", "v_reset"], "at_reset", "node_mul_5"),
             node("Add", ["stays", "at_reset"], "v_out", "node_add_4")]
    return _one_step(nodes, inits, ["i_in", "v_in"], ["spk", "i_out", "v_out"])


def snntorch_zero_model(gain: float = 1.0, delayed: bool = False) -> onnx.ModelProto:
    """snnTorch ``Leaky(reset_mechanism="zero", reset_delay=False)`` (TorchScript): beta via
    ``Clip``, a reset ``r`` from the previous membrane and ``h - (spk/gain - r)*h``; with
    ``delayed`` (``reset_delay=True``) the membrane out is ``h`` itself."""
    inits = [const("beta", np.full(5, 0.875)), const("lo", 0.0), const("hi", 1.0),
             const("lif.threshold", np.full(5, 0.75)), const("zero", 0.0), const("one", 1.0),
             const("gain", gain)]
    nodes = [*fire("r_", "mem_in", "r"),
             node("Sub", ["one", "r"], "keep", "/lif/Sub_1"),
             node("Mul", ["keep", "mem_in"], "kept", "/lif/Mul"),
             node("Clip", ["beta", "lo", "hi"], "clamped", "/lif/Clip"),
             node("Mul", ["clamped", "kept"], "leak", "/lif/Mul_1"),
             node("Add", ["leak", "linear"], "mem_out" if delayed else "h", "/lif/Add")]
    if delayed:
        return _one_step([*nodes, *fire("s_", "mem_out", "spk")], inits, ["mem_in"],
                         ["spk", "mem_out"])
    nodes += [*fire("s_", "h", "s0"),
              node("Mul", ["s0", "gain"], "spk", "/lif/Mul_2"),
              node("Div", ["spk", "gain"], "unscaled", "/lif/Div"),
              node("Sub", ["unscaled", "r"], "delta", "/lif/Sub_3"),
              node("Mul", ["delta", "h"], "drop", "/lif/Mul_3"),
              node("Sub", ["h", "drop"], "mem_out", "/lif/Sub_4")]
    return _one_step(nodes, inits, ["mem_in"], ["spk", "mem_out"])


@pytest.mark.parametrize(("tau", "v_reset", "decay_input", "beta", "reset", "threshold"), [
    (2.0, 0.0, True, 0.5, "zero", 1.0), (4.0, None, True, 0.75, "subtract", 2.0),
    (None, 0.0, True, 1.0, "zero", 0.5), (2.0, 0.0, False, 0.5, "zero", 0.5),
    (4.0, None, False, 0.75, "subtract", 0.5)])
def test_spikingjelly_node_is_a_lif_measured_in_units_of_one_over_tau(
        tau: float | None, v_reset: float | None, decay_input: bool, beta: float, reset: str,
        threshold: float) -> None:
    # with decay_input the input is divided by tau too: the membrane unit is 1/tau (v' = tau*v)
    model = spikingjelly_model(tau, v_reset, decay_input)
    lif = import_onnx(model).graph.layers[-1]
    assert isinstance(lif, LIF)
    assert (float(lif.beta), lif.reset, lif.reset_timing, lif.compare) == \
        (beta, reset, "same", "ge")
    assert float(lif.threshold) == threshold
    assert_matches_onnxruntime(model)


def test_spikingjelly_reset_to_a_voltage_other_than_zero_is_refused() -> None:
    with pytest.raises(ModelError, match=r"v_reset=0\.25"):
        import_onnx(spikingjelly_model(v_reset=0.25))


@pytest.mark.parametrize("v_leak", [0.0, 0.125])
def test_norse_lifcell_is_a_cuba_neuron_with_its_leak_as_bias(v_leak: float) -> None:
    model = norse_model(v_leak)
    cuba = import_onnx(model).graph.layers[-1]
    assert isinstance(cuba, CubaLIF)
    assert np.array_equal(cuba.current_decay, np.full(5, 0.5, F32))
    assert np.array_equal(cuba.voltage_decay, np.full(5, 0.25, F32))
    assert np.array_equal(cuba.threshold, np.full(5, 1.5, F32))  # theta / c_mem
    assert (cuba.bias is None) == (v_leak == 0.0)
    assert_matches_onnxruntime(model)


@pytest.mark.parametrize("delayed", [False, True])
def test_snntorch_zero_reset_is_a_zero_reset_at_the_spiking_step(delayed: bool) -> None:
    model = snntorch_zero_model(delayed=delayed)
    layers = import_onnx(model).graph.layers
    assert [lay.name for lay in layers] == ["x", "node_linear", "lif"]
    lif = layers[-1]
    assert (lif.reset, lif.reset_timing, lif.compare) == ("zero", "same", "gt")
    assert np.array_equal(lif.beta, np.full(5, 0.875, F32))
    assert_matches_onnxruntime(model)


def test_graded_spikes_are_not_taken_for_binary_ones() -> None:
    # spikes scaled by a graded factor of 2 have no snnc neuron: nothing is raised
    with pytest.raises(ModelError,
                       match=r"is not part of any neuron|not a neuron snnc can compile"):
        import_onnx(snntorch_zero_model(gain=2.0))


def test_two_currents_keep_the_models_rounding_order() -> None:
    # (v + I) + J with v = 1, I = J = 2**-24 rounds to 1 (no spike at theta = 1), while
    # v + (I + J) = 1 + 2**-23 would fire: the neuron must add its currents in the model's order.
    inits = [const("w_i", [[1.0, 0.0]]), const("w_j", [[0.0, 1.0]]), const("theta", 1.0)]
    nodes = [node("Gemm", ["x", "w_i"], "i", "node_i", transB=1),
             node("Gemm", ["x", "w_j"], "j", "node_j", transB=1),
             node("Add", ["v_in", "i"], "h0", "node_add"),
             node("Add", ["h0", "j"], "h", "node_add_1"),
             node("Greater", ["h", "theta"], "fired", "node_gt"),
             node("Cast", ["fired"], "spk", "node_cast", to=TensorProto.FLOAT),
             node("Sub", ["h", "spk"], "v_out", "node_sub")]
    model = make_model(nodes, [tensor_info("x", [2]), tensor_info("v_in", [1])],
                       [tensor_info("spk", [1]), tensor_info("v_out", [1])], inits,
                       state={"v_in": "v_out"})
    imported = import_onnx(model)
    tiny = np.float32(2.0**-24)
    drive = np.asarray([[[1.0, 0.0]], [[tiny, tiny]], [[tiny, tiny]]], F32)
    expected = run_onnxruntime(model, imported.layout, drive)["spk"]
    assert expected[:, 0, 0].tolist() == [0.0, 0.0, 0.0]
    assert np.array_equal(run_graph(imported.graph, drive).output, expected)


def _scoped(model: onnx.ModelProto, scopes: dict[str, str]) -> onnx.ModelProto:
    """Node metadata as the dynamo exporter writes it: ``name_scopes`` per node."""
    for n in model.graph.node:
        value = scopes.get(n.name, scopes.get("*"))
        if value is not None:
            entry = n.metadata_props.add()
            entry.key, entry.value = "pkg.torch.onnx.name_scopes", value
    return model


def test_dynamo_module_scopes_name_the_layers() -> None:
    model = _scoped(leaky_model(), {"node_linear": "['', 'encoder.fc', 'linear']",
                                    "*": "['', 'encoder.lif', 'op']"})
    assert [lay.name for lay in import_onnx(model).graph.layers] == \
        ["x", "encoder.fc", "encoder.lif"]


def test_malformed_module_scopes_fall_back_to_node_names() -> None:
    for junk in ("not a list", "[1, 2]", "__import__('os')", "[" * 5000):
        model = _scoped(leaky_model(), {"*": junk})
        assert [lay.name for lay in import_onnx(model).graph.layers] == \
            ["x", "node_linear", "node_add"]
