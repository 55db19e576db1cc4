"""Constant folding, time-structure recovery and neuron recovery on small hand-written graphs.

The graphs spell one network the ways exporters do: in-graph constant arithmetic, a
vectorized synapse applied to the whole ``[T, B, F]`` sequence with only the neuron unrolled,
SpikingJelly's and Norse's neuron arithmetic. onnxruntime on the graph itself is the reference.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from snnc.errors import ModelError
from snnc.frontend.fold import fold_constants
from snnc.frontend.onnx import acceptance_failure, import_onnx
from snnc.frontend.timeline import TimeAxis, from_steps, layouts, recover_time, to_steps
from snnc.ir.layers import LIF, CubaLIF, Dense
from snnc.reference.simulate import run_graph

F32 = np.float32
T, B, F_IN, F_OUT = 6, 3, 4, 5
RNG = np.random.default_rng(3)
WEIGHT = (RNG.integers(-4, 12, (F_IN, F_OUT)) / 16).astype(F32)


def const(name: str, value: object, dtype: type = F32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype), name)


def ort_run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def vectorized(tau: float = 2.0, v_reset: float = 0.0, layout: str = "TB") -> onnx.ModelProto:
    """SpikingJelly's multi-step LIF: one MatMul on the whole sequence, the neuron unrolled
    over slices of it, ``v + (x - v)/tau``, ``>=``, hard reset ``s*v_reset + (1 - s)*h``;
    ``layout="BT"`` is the batch-first spelling (time on axis 1)."""
    axis = 0 if layout == "TB" else 1
    shape = [T, B, F_IN] if layout == "TB" else [B, T, F_IN]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["cur"], name="fc/MatMul")]
    inits = [const("w", WEIGHT), const("tau", tau), const("theta", 0.5), const("zero", 0.0),
             const("one", 1.0), const("v_reset", v_reset)]
    # the initial membrane, as SpikingJelly's containers build it: zeros shaped like a step
    nodes += [helper.make_node("Shape", ["cur"], ["shape"], name="init/Shape"),
              helper.make_node("Gather", ["shape", "sample_dims"], ["dims"], name="init/Gather",
                               axis=0),
              helper.make_node("ConstantOfShape", ["dims"], ["v0"], name="init/Fill")]
    inits.append(const("sample_dims", [1 - axis, 2], np.int64))
    v, spikes = "v0", []
    for t in range(T):
        p = f"lif_{t}/"
        nodes += [
            helper.make_node("Gather", ["cur", f"t{t}"], [p + "x"], name=p + "Gather",
                             axis=axis),
            helper.make_node("Sub", [p + "x", v], [p + "d"], name=p + "Sub"),
            helper.make_node("Div", [p + "d", "tau"], [p + "q"], name=p + "Div"),
            helper.make_node("Add", [v, p + "q"], [p + "h"], name=p + "Add"),
            helper.make_node("Sub", [p + "h", "theta"], [p + "m"], name=p + "Sub_1"),
            helper.make_node("GreaterOrEqual", [p + "m", "zero"], [p + "f"], name=p + "Ge"),
            helper.make_node("Cast", [p + "f"], [p + "s"], name=p + "Cast",
                             to=TensorProto.FLOAT),
            helper.make_node("Mul", [p + "s", "v_reset"], [p + "a"], name=p + "Mul"),
            helper.make_node("Sub", ["one", p + "s"], [p + "k"], name=p + "Sub_2"),
            helper.make_node("Mul", [p + "k", p + "h"], [p + "b"], name=p + "Mul_1"),
            helper.make_node("Add", [p + "a", p + "b"], [p + "v"], name=p + "Add_1"),
            helper.make_node("Unsqueeze", [p + "s", "stack_axis"], [p + "u"],
                             name=p + "Unsqueeze"),
        ]
        inits.append(const(f"t{t}", t, np.int64))
        v = p + "v"
        spikes.append(p + "u")
    inits.append(const("stack_axis", [axis], np.int64))
    nodes.append(helper.make_node("Concat", spikes, ["spikes"], name="stack", axis=axis))
    out_shape = [T, B, F_OUT] if layout == "TB" else [B, T, F_OUT]
    graph = helper.make_graph(nodes, "sj", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, shape)], [helper.make_tensor_value_info(
            "spikes", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("axis, merged", [(0, ""), (1, ""), (0, "tb"), (0, "bt")])
def test_a_time_layout_takes_and_stacks_steps_back(axis: int, merged: str) -> None:
    layout = TimeAxis(axis, merged)
    steps = 4
    shape = (steps * 3, 5) if merged else (steps, 3, 5) if axis == 0 else (3, steps, 5)
    x = np.arange(np.prod(shape)).reshape(shape)
    parts = [layout.take(x, t, steps) for t in range(steps)]
    assert np.array_equal(layout.stack(parts), x)
    assert np.array_equal(from_steps(to_steps(x, layout, steps), layout), x)


def test_constant_folding_evaluates_shapes_and_in_graph_arithmetic() -> None:
    folded = fold_constants(vectorized())
    ops = {n.op_type for n in folded.graph.node}
    assert not ops & {"Shape", "ConstantOfShape"}
    v0 = next(t for t in folded.graph.initializer if t.name == "v0")
    assert not numpy_helper.to_array(v0).any()


@pytest.mark.parametrize("layout", ["TB", "BT"])
def test_a_vectorized_synapse_is_recovered_per_step(layout: str) -> None:
    model = vectorized(layout=layout)
    canonical = recover_time(fold_constants(model))
    meta = {p.key: p.value for p in canonical.metadata_props}
    assert "snnc.input_layout" in meta
    x = RNG.uniform(0, 2, [T, B, F_IN] if layout == "TB" else [B, T, F_IN]).astype(F32)
    layout_in = TimeAxis(0 if layout == "TB" else 1)
    got = ort_run(canonical, to_steps(x, layout_in, T))
    assert np.array_equal(from_steps(got, layout_in), ort_run(model, x))


@pytest.mark.parametrize("layout", ["TB", "BT"])
def test_spikingjelly_arithmetic_becomes_a_lif_that_reproduces_onnxruntime(layout: str) -> None:
    model = vectorized(layout=layout)
    graph = import_onnx(model).graph
    lif = next(layer for layer in graph.layers if isinstance(layer, LIF))
    assert lif.program is not None and lif.compare == "ge" and lif.reset == "zero"
    assert float(lif.beta) == 0.5 and float(lif.threshold) == 1.0  # units of 1/tau
    assert isinstance(graph.layer(lif.inputs[0]), Dense)
    found = layouts(graph.layout)
    assert found is not None
    x = RNG.uniform(0, 2, [T, B, F_IN] if layout == "TB" else [B, T, F_IN]).astype(F32)
    out = from_steps(run_graph(graph, to_steps(x, found[0], found[2])).output, found[1])
    assert np.array_equal(out, ort_run(model, x))


def test_a_reset_to_another_value_is_refused_naming_why() -> None:
    with pytest.raises(ModelError, match="v_reset") as caught:
        import_onnx(vectorized(v_reset=0.25))
    assert "\n" not in str(caught.value)


def test_a_wrong_recovery_is_caught_by_the_acceptance_run() -> None:
    model = vectorized()
    imported = import_onnx(model)
    graph = imported.graph
    lif = next(layer for layer in graph.layers if isinstance(layer, LIF))
    wrong = graph.with_layer(type(lif)(**{**{f: getattr(lif, f) for f in (
        "name", "inputs", "beta", "bias", "reset", "reset_timing", "compare", "program")},
        "threshold": np.asarray(0.9, F32)}))
    from dataclasses import replace

    assert acceptance_failure(fold_constants(model), imported) is None
    reason = acceptance_failure(fold_constants(model), replace(imported, graph=wrong))
    assert reason is not None and "equations" in reason


def norse_step() -> onnx.ModelProto:
    """Norse's LIFCell as a hand-wrapped step ``(x, i, v) -> (z, i', v')``:
    ``i_new = i + I``; ``v_dec = v + c_m*((v_leak - v) + i_new)``; ``i' = i_new - c_s*i_new``;
    ``z = (v_dec - theta) > 0``; ``v' = (1 - z)*v_dec + z*v_reset``."""
    w = (RNG.integers(-4, 12, (F_OUT, F_IN)) / 16).astype(F32)
    inits = [const("w", w), const("c_m", 0.1), const("neg_c_s", -0.2), const("v_leak", 0.0),
             const("theta", 0.3), const("zero", 0.0), const("one", 1.0), const("v_reset", 0.0)]
    n = helper.make_node
    nodes = [n("Gemm", ["x", "w"], ["I"], name="fc/Gemm", transB=1),
             n("Add", ["i_in", "I"], ["i_new"], name="cell/Add"),
             n("Sub", ["v_leak", "v_in"], ["leak"], name="cell/Sub"),
             n("Add", ["leak", "i_new"], ["drive"], name="cell/Add_1"),
             n("Mul", ["c_m", "drive"], ["dv"], name="cell/Mul"),
             n("Add", ["v_in", "dv"], ["v_dec"], name="cell/Add_2"),
             n("Mul", ["neg_c_s", "i_new"], ["di"], name="cell/Mul_1"),
             n("Add", ["i_new", "di"], ["i_out"], name="cell/Add_3"),
             n("Sub", ["v_dec", "theta"], ["m"], name="cell/Sub_1"),
             n("Greater", ["m", "zero"], ["f"], name="cell/Greater"),
             n("Cast", ["f"], ["z"], name="cell/Cast", to=TensorProto.FLOAT),
             n("Sub", ["one", "z"], ["k"], name="cell/Sub_2"),
             n("Mul", ["k", "v_dec"], ["kept"], name="cell/Mul_2"),
             n("Mul", ["z", "v_reset"], ["rv"], name="cell/Mul_3"),
             n("Add", ["kept", "rv"], ["v_out"], name="cell/Add_4")]
    info = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes, "norse", [info("x", TensorProto.FLOAT, ["N", F_IN]),
                         info("i_in", TensorProto.FLOAT, ["N", F_OUT]),
                         info("v_in", TensorProto.FLOAT, ["N", F_OUT])],
        [info("z", TensorProto.FLOAT, ["N", F_OUT]), info("i_out", TensorProto.FLOAT,
                                                          ["N", F_OUT]),
         info("v_out", TensorProto.FLOAT, ["N", F_OUT])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_norse_current_based_arithmetic_becomes_a_cuba_neuron() -> None:
    model = norse_step()
    graph = import_onnx(model).graph
    cuba = next(layer for layer in graph.layers if isinstance(layer, CubaLIF))
    assert cuba.program is not None
    assert np.isclose(float(cuba.current_decay), 0.2) and np.isclose(
        float(cuba.voltage_decay), 0.1)
    assert np.isclose(float(cuba.threshold), 3.0)  # theta / c_m: the membrane in units of c_m
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    drive = RNG.uniform(0, 2, (20, B, F_IN)).astype(F32)
    i = v = np.zeros((B, F_OUT), F32)
    want = []
    for x in drive:
        z, i, v = session.run(None, {"x": x, "i_in": i, "v_in": v})
        want.append(z)
    assert np.array_equal(run_graph(graph, drive).output, np.stack(want))
