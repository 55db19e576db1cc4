"""The ONNX graph index and idiom matcher the exporter rewrites are built on."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from snnc.frontend.onnx_graph import Const, GraphIndex, Named, Var, alt, either, match, op

F32 = np.float32


def _graph(nodes: list, inits: dict[str, object]) -> GraphIndex:
    tensors = [numpy_helper.from_array(np.asarray(v, F32), k) for k, v in inits.items()]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    return GraphIndex(helper.make_graph(nodes, "g", [x], [y], tensors))


def test_constants_fold_through_exact_elementwise_ops_only() -> None:
    index = _graph([helper.make_node("Clip", ["beta", "lo", "hi"], ["b"], name="clip"),
                    helper.make_node("Neg", ["b"], ["nb"], name="neg"),
                    helper.make_node("Exp", ["b"], ["eb"], name="exp"),
                    helper.make_node("Mul", ["nb", "x"], ["y"], name="mul")],
                   {"beta": [1.5, 0.25, -1.0], "lo": 0.0, "hi": 1.0})
    assert np.array_equal(index.const("b"), np.asarray([1.0, 0.25, 0.0], F32))
    assert np.array_equal(index.const("nb"), np.asarray([-1.0, -0.25, -0.0], F32))
    assert index.const("eb") is None  # not folded: not an exact op
    assert index.const("y") is None  # reads the graph input
    assert {"b", "nb", "eb"} <= index.constant_names() and "y" not in index.constant_names()


def test_either_matches_a_commutative_op_in_both_orders() -> None:
    pattern = either("Mul", Var("v"), Const("beta"))
    for inputs in (["x", "c"], ["c", "x"]):
        index = _graph([helper.make_node("Mul", inputs, ["y"], name="mul")], {"c": 0.5})
        found = match(index, pattern, "y")
        assert found is not None and found.tensors["v"] == "x"
        assert float(found.values["beta"]) == 0.5 and list(found.nodes) == ["mul"]
    assert match(_graph([helper.make_node("Mul", ["x", "c"], ["y"], name="m")], {"c": 0.5}),
                 op("Mul", Const("beta"), Var("v")), "y") is None  # ordered: no swap


def test_a_variable_used_twice_must_be_the_same_tensor() -> None:
    index = _graph([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                    helper.make_node("Add", ["x", "r"], ["y"], name="add")], {})
    assert match(index, op("Add", Var("a"), Var("a")), "y") is None
    assert match(index, op("Add", Var("a"), op("Relu", Var("a"))), "y") is not None


def test_alternatives_backtrack_from_a_failure_deeper_down() -> None:
    # the first alternative matches the Add but its operand is not a Sub: the second one wins
    index = _graph([helper.make_node("Mul", ["x", "c"], ["m"], name="mul"),
                    helper.make_node("Add", ["x", "m"], ["y"], name="add")], {"c": 0.25})
    pattern = Named("h", alt(either("Add", Var("v"), op("Sub", Var("v"), Const("k"))),
                             either("Add", Var("v"), either("Mul", Var("v"), Const("k")))))
    found = match(index, pattern, "y")
    assert found is not None and found.tensors["h"] == "y" and float(found.values["k"]) == 0.25
