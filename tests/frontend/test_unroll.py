"""A whole time loop exported at once is folded back into one step, or refused with advice.

The models are written the way ``torch.onnx.export`` inlines a loop: the input sliced per step
(``Gather``, ``Slice`` + ``Squeeze``, ``Split``), the step's nodes repeated with the state
threaded from copy to copy, the zero initial state a constant, and the spikes stacked with
``Unsqueeze`` + ``Concat``. onnxruntime runs the unrolled graph itself as the reference.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from snnc.errors import UnsupportedError, UnsupportedOpError
from snnc.frontend.onnx import import_onnx
from snnc.frontend.primitives import NeuronParams, NodeSink, emit_lif
from snnc.ir.layers import LIF, Add, Dense
from snnc.onnx_builder import make_model
from snnc.reference.simulate import run_graph

F32 = np.float32
RNG = np.random.default_rng(11)
WEIGHT = (RNG.integers(-8, 16, (5, 6)) / 16).astype(F32)
RECURRENT = (RNG.integers(-8, 4, (5, 5)) / 16).astype(F32)
PARAMS = NeuronParams(threshold=np.asarray(0.75, F32), beta=np.asarray(0.875, F32),
                      reset="subtract", reset_timing="next")


def _slice(sink: NodeSink, how: str, step: int, axis: int, steps: int) -> str:
    """Step ``step``'s input, cut from ``x`` the way ``how`` says."""
    if how == "gather":
        return sink.one("Gather", ["x", sink.const(f"t{step}", step, np.int64)],
                        f"select_{step}", axis=axis)
    if how == "slice":
        part = sink.one("Slice", ["x", sink.const(f"start{step}", [step], np.int64),
                                  sink.const(f"end{step}", [step + 1], np.int64),
                                  sink.const(f"axis{step}", [axis], np.int64)],
                        f"slice_{step}")
        return sink.one("Squeeze", [part, sink.const(f"sq{step}", [axis], np.int64)],
                        f"squeeze_{step}")
    if how == "split" and step == 0:
        parts = sink.node("Split", ["x"], "unbind", n_out=steps, axis=axis, num_outputs=steps)
        sink.split = parts  # type: ignore[attr-defined]
    if how == "split":
        return sink.one("Squeeze", [sink.split[step],  # type: ignore[attr-defined]
                                    sink.const(f"sq{step}", [axis], np.int64)],
                        f"squeeze_{step}")
    return "x"  # "same": every step reads the whole input


def unrolled(steps: int = 5, how: str = "gather", axis: int = 0, initial: float = 0.0,
             stacked: bool = True, reach_back: bool = False, state_input: bool = False,
             recurrent: bool = False) -> onnx.ModelProto:
    """A Linear(6 -> 5) + snnTorch-style LIF loop over ``steps`` steps, inlined;
    ``recurrent``: RLeaky, the previous spikes through a second Linear added to the charge."""
    sink = NodeSink(tensors={"x", "v_init"})
    weight = sink.const("fc.weight", WEIGHT)
    v = "v_init" if state_input else sink.const("zeros", np.full((1, 5), initial, F32))
    feedback = sink.const("rec.weight", RECURRENT)
    spikes: list[str] = [sink.const("no_spikes", np.zeros((1, 5), F32))]
    for step in range(steps):
        x_t = _slice(sink, how, step, axis, steps)
        current = sink.one("Gemm", [x_t, weight], f"fc_{step}/Gemm", transB=1)
        if reach_back and step >= 2:
            current = sink.one("Add", [current, spikes[step - 1]], f"late_{step}/Add")
        more = (sink.one("Gemm", [spikes[-1], feedback], f"rec_{step}/Gemm", transB=1),) \
            if recurrent else ()
        emit_lif(sink, f"lif_{step}", current, v, f"s{step}", f"v{step}", PARAMS,
                 style="snntorch", more=more)
        spikes.append(f"s{step}")
        v = f"v{step}"
    spikes = spikes[1:]
    if stacked:
        axes = sink.const("stack_axis", [0], np.int64)
        parts = [sink.one("Unsqueeze", [s, axes], f"unsqueeze_{k}") for k, s in enumerate(spikes)]
        sink.one("Concat", parts, "stack", "spk", axis=0)
    else:
        sink.one("Identity", [spikes[-1]], "last", "spk")
    dims = [1, 6] if how == "same" else [steps, 1, 6] if axis == 0 else [1, steps, 6]
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, dims)]
    if state_input:
        inputs.append(helper.make_tensor_value_info("v_init", onnx.TensorProto.FLOAT, [1, 5]))
    out_dims = [steps, 1, 5] if stacked else [1, 5]
    model = make_model(sink.nodes, inputs,
                       [helper.make_tensor_value_info("spk", onnx.TensorProto.FLOAT, out_dims)],
                       sink.initializers, opset=18)
    del model.metadata_props[:]  # exporters write no snnc metadata
    return model


def _drive(steps: int, how: str, axis: int) -> np.ndarray:
    """Dyadic inputs as (steps, 1, 6) for the reference and as the model's own layout."""
    return (RNG.integers(0, 8, (steps, 1, 6)) / 8).astype(F32)


def _onnxruntime(model: onnx.ModelProto, drive: np.ndarray, how: str, axis: int) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = drive[0] if how == "same" else drive if axis == 0 else drive.transpose(1, 0, 2)
    return session.run(["spk"], {"x": x})[0]


@pytest.mark.parametrize(("how", "axis", "steps"), [
    ("gather", 0, 5), ("gather", 1, 4), ("slice", 0, 3), ("split", 0, 6), ("same", 0, 5)])
def test_a_whole_loop_folds_into_one_step_that_runs_like_the_loop(how: str, axis: int,
                                                                   steps: int) -> None:
    model = unrolled(steps, how, axis)
    graph = import_onnx(model).graph
    assert [type(lay) for lay in graph.layers[1:]] == [Dense, LIF]
    assert graph.timesteps == steps
    assert [lay.name for lay in graph.layers[1:]] == ["fc", "lif"]  # per-copy counters gone
    dense, lif = graph.layers[1:]
    assert np.array_equal(dense.weight, WEIGHT)
    assert (lif.reset, lif.reset_timing, float(lif.beta), float(lif.threshold)) == \
        ("subtract", "next", 0.875, 0.75)
    drive = _drive(steps, how, axis)
    if how == "same":
        drive = np.repeat(drive[:1], steps, axis=0)
    expected = _onnxruntime(model, drive, how, axis)
    assert expected.any()
    assert np.array_equal(run_graph(graph, drive).output, expected)


@pytest.mark.parametrize(("change", "reason"), [
    ({"steps": 2}, "needs at least 3"),
    ({"initial": 0.5}, "zero initial state"),
    ({"stacked": False}, "no output stacks the steps"),
    ({"reach_back": True}, "reads a value of step"),
    ({"state_input": True}, "must create its initial state itself"),
])
def test_a_loop_that_cannot_be_folded_is_refused_with_advice(change: dict,
                                                             reason: str) -> None:
    with pytest.raises(UnsupportedError, match=reason) as info:
        import_onnx(unrolled(**change))
    assert "export one step instead" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_single_sliced_step_is_not_taken_for_a_loop() -> None:
    with pytest.raises(UnsupportedOpError, match="Gather"):
        import_onnx(unrolled(1, stacked=False))


def test_a_recurrent_loop_keeps_the_previous_spikes_as_state_for_its_synapse() -> None:
    # The spikes of copy k-1 feed copy k's recurrent Linear: computable from the membrane,
    # they stay state all the same, so the synapse becomes a recurrent Dense.
    model = unrolled(5, recurrent=True)
    graph = import_onnx(model).graph
    assert [type(lay) for lay in graph.layers[1:]] == [Dense, Dense, Add, LIF]
    rec = graph.layers[2]
    assert rec.recurrent and rec.inputs == (graph.output,)
    assert np.array_equal(rec.weight, RECURRENT)
    drive = _drive(5, "gather", 0)
    expected = _onnxruntime(model, drive, "gather", 0)
    assert expected.any()
    assert np.array_equal(run_graph(graph, drive).output, expected)
