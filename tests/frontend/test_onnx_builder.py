"""snnc.onnx_builder writes checker-clean one-step models with the snnc metadata."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from snnc.ir.layers import LIF, CubaLIF, Dense, Graph, Input
from snnc.onnx_builder import graph_to_onnx, make_model, snnc_node, tensor_info

F32 = np.float32


def recurrent_graph() -> Graph:
    return Graph((
        Input("x", (), shape=(3,)),
        Dense("ff", ("x",), weight=np.full((2, 3), 0.5, F32)),
        Dense("rec", ("out",), weight=np.eye(2, dtype=F32), recurrent=True),
        CubaLIF("out", ("ff",), current_decay=F32(0.5)),
    ), output="out", timesteps=11, encoding="rate", name="rnn")


@pytest.mark.parametrize("form", ["snnc", "primitive"])
def test_models_pass_the_onnx_checker_and_carry_metadata(form: str) -> None:
    model = graph_to_onnx(recurrent_graph(), form)
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["snnc.timesteps"] == "11" and meta["snnc.encoding"] == "rate"
    assert json.loads(meta["snnc.state"]) == {
        "out.prev": "out", "out.u": "out.u.next", "out.v": "out.v.next"}
    assert model.graph.output[0].name == "out"


def test_snnc_form_uses_custom_ops_and_primitive_form_only_standard_ones() -> None:
    custom = graph_to_onnx(recurrent_graph(), "snnc")
    primitive = graph_to_onnx(recurrent_graph(), "primitive")
    assert [n.op_type for n in custom.graph.node if n.domain == "snnc"] == ["CubaLIF"]
    assert all(n.domain == "" for n in primitive.graph.node)
    assert {o.domain for o in primitive.opset_import} == {""}


def test_scalar_neuron_parameters_are_attributes_and_arrays_are_inputs() -> None:
    graph = Graph((Input("x", (), shape=(2,)),
                   LIF("a", ("x",), beta=F32(0.5), threshold=np.asarray([1, 2], F32))),
                  output="a")
    (node,) = graph_to_onnx(graph).graph.node
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["beta"] == 0.5 and "threshold" not in attrs
    assert list(node.input) == ["x", "a.v", "", "a.threshold"]


def test_hand_written_model_with_the_helpers_is_valid() -> None:
    node = snnc_node("LIF", ["x", "v"], ["s", "v.next"], "lif", beta=0.9, reset="subtract")
    model = make_model([node], [tensor_info("x", [4]), tensor_info("v", [4])],
                       [tensor_info("s", [4]), tensor_info("v.next", [4])],
                       state={"v": "v.next"}, timesteps=3)
    onnx.checker.check_model(model)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17), ("snnc", 1)]
