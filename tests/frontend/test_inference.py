"""Shape inference and constant lookups without copies of the weights."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from snnc.frontend.inference import LARGE_CONSTANT, InitializerValues, infer_shapes, without_weights


def _model(rows: int) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.arange(rows * 80, dtype=np.float32).reshape(rows, 80),
                                     "w")
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="fc"),
             helper.make_node("Reshape", ["y", "shape"], ["z"], name="flat")]
    graph = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT,
                                                             [1, 80])],
                              [helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT,
                                                             None)],
                              initializer=[weight, shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_inferred_shapes_equal_onnx_inference_on_the_full_model() -> None:
    model = _model(100)  # 8000 weights: above LARGE_CONSTANT
    assert model.graph.initializer[0].ByteSize() > 4 * LARGE_CONSTANT
    want = shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    got = infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    assert list(got.graph.value_info) == list(want.graph.value_info)
    assert list(got.graph.output) == list(want.graph.output)
    assert [d.dim_value for d in got.graph.output[0].type.tensor_type.shape.dim] == [1, 100]


def test_large_initializers_lose_only_their_data() -> None:
    model = _model(100)
    light = without_weights(model)
    weight, shape = light.graph.initializer
    assert list(weight.dims) == [100, 80] and not weight.raw_data and not weight.float_data
    assert shape == model.graph.initializer[1]  # small constants are kept whole
    assert list(light.graph.node) == list(model.graph.node)
    assert light.opset_import == model.opset_import
    assert len(model.graph.initializer[0].raw_data) == 100 * 80 * 4  # the model is untouched
    small = _model(10)
    assert without_weights(small) is small


def test_initializer_values_read_each_constant_on_demand() -> None:
    model = _model(100)
    values = InitializerValues(model.graph)
    assert set(values) == {"w", "shape"} and len(values) == 2 and "w" in values
    assert "x" not in values and values.get("x") is None
    assert np.array_equal(values["w"], numpy_helper.to_array(model.graph.initializer[0]))
    assert values["w"] is not values["w"]  # a weight matrix is not kept
    assert values["shape"] is values["shape"]  # a small constant is
