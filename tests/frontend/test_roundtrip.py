"""Graph -> ONNX -> Graph keeps every layer (type, name, inputs, parameters) in both forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netgen import layers_equal, nets

from snnc.frontend.onnx import import_onnx
from snnc.ir.layers import (
    ALL_LAYER_TYPES,
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
from snnc.onnx_builder import graph_to_onnx

F32 = np.float32
FORMS = ("snnc", "primitive")
RNG = np.random.default_rng(11)


def _w(*shape: int) -> np.ndarray:
    return (RNG.integers(-32, 32, shape) / 64).astype(F32)


def _with(extra: list[Layer], input_shape: tuple[int, ...], output: str | None = None) -> Graph:
    layers = (Input("x", (), shape=input_shape), *extra)
    return Graph(layers, output=output or layers[-1].name, timesteps=5, encoding="rate",
                 name="example")


EXAMPLES: dict[type, Graph] = {
    Input: _with([LIF("n", ("x",), beta=F32(0.5))], (3,)),
    Dense: _with([Dense("fc", ("x",), weight=_w(4, 3), bias=_w(4)),
                  LIF("n", ("fc",), beta=F32(0.5))], (3,)),
    Conv2d: _with([Conv2d("conv", ("x",), weight=_w(4, 1, 3, 3), bias=_w(4), stride=(2, 1),
                          padding=(1, 0, 1, 2), dilation=(1, 2), groups=2),
                   LIF("n", ("conv",), beta=F32(0.5))], (2, 6, 6)),
    Pool2d: _with([Pool2d("max", ("x",), pool="max", kernel=(2, 2), stride=(1, 1),
                          padding=(1, 1, 0, 0)),
                   Pool2d("avg", ("max",), pool="avg", kernel=(2, 1), stride=(2, 1),
                          padding=(0, 0, 1, 0)),
                   Pool2d("sum", ("avg",), pool="sum", kernel=(2, 2), stride=(2, 2))],
                  (2, 6, 6)),
    Flatten: _with([Flatten("fl", ("x",)), LIF("n", ("fl",), beta=F32(0.5))], (2, 3, 2)),
    Reshape: _with([Reshape("rs", ("x",), shape=(3, 4)), LIF("n", ("rs",), beta=F32(0.5))],
                   (2, 3, 2)),
    Add: _with([Dense("a", ("x",), weight=_w(3, 3)), Dense("b", ("x",), weight=_w(3, 3)),
                Add("sum", ("a", "b")), LIF("n", ("sum",), beta=F32(0.5))], (3,)),
    LIF: _with([LIF("lif", ("x",), beta=np.asarray([0.25, 0.5, 0.75], F32),
                    threshold=F32(0.375), bias=_w(3), reset="subtract", reset_timing="next",
                    compare="ge"),
                LIF("if", ("lif",), beta=F32(1.0), threshold=np.asarray([0.5, 1, 2], F32),
                    reset="zero", reset_timing="next"),
                LIF("leaky", ("if",), beta=F32(0.75), reset="none")], (3,)),
    CubaLIF: _with([CubaLIF("cuba", ("x",), current_decay=F32(0.25),
                            voltage_decay=np.asarray([0.5, 0.125, 0.0], F32),
                            threshold=F32(0.5), bias=_w(3), reset="subtract",
                            reset_timing="next", compare="ge")], (3,)),
    MultiLevelSpike: _with([MultiLevelSpike("adaptive", ("x",), levels=3, alpha=0.5, axis=-1),
                            MultiLevelSpike("fixed", ("adaptive",), levels=2, axis=None,
                                            theta=0.25)], (2, 4)),
    SpikingSelfAttention: _with([
        LIF("q", ("x",), beta=F32(0.5), threshold=F32(0.25)),
        LIF("k", ("x",), beta=F32(0.5), threshold=F32(0.125)),
        SpikingSelfAttention("att", ("q", "k", "x"), heads=2, scale=0.5,
                             gammas=np.asarray([0.5, 0.75], F32))], (3, 4)),
}


def assert_same_layers(got: Graph, want: Graph) -> None:
    assert [lay.name for lay in got.layers] == [lay.name for lay in want.layers]
    for a, b in zip(got.layers, want.layers, strict=True):
        assert layers_equal(a, b), f"{a}\n!=\n{b}"
    assert (got.output, got.timesteps, got.encoding) == (want.output, want.timesteps,
                                                          want.encoding)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("layer_type", ALL_LAYER_TYPES, ids=lambda t: t.__name__)
def test_every_layer_type_round_trips_through_onnx(layer_type: type, form: str) -> None:
    graph = EXAMPLES[layer_type]
    assert any(type(lay) is layer_type for lay in graph.layers)
    assert_same_layers(import_onnx(graph_to_onnx(graph, form)).graph, graph)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=nets(), form=st.sampled_from(FORMS))
def test_generated_nets_round_trip_through_onnx(graph: Graph, form: str) -> None:
    assert_same_layers(import_onnx(graph_to_onnx(graph, form)).graph, graph)


def test_graph_to_onnx_is_byte_identical_across_runs() -> None:
    graph = EXAMPLES[SpikingSelfAttention]
    for form in FORMS:
        first = graph_to_onnx(graph, form).SerializeToString()
        assert graph_to_onnx(graph, form).SerializeToString() == first


@pytest.mark.parametrize("form", FORMS)
def test_recurrent_read_of_the_graph_input_round_trips(form: str) -> None:
    graph = _with([Dense("now", ("x",), weight=_w(3, 3)),
                   Dense("late", ("x",), weight=_w(3, 3), recurrent=True),
                   Add("sum", ("now", "late")), LIF("n", ("sum",), beta=F32(0.5))], (3,))
    assert_same_layers(import_onnx(graph_to_onnx(graph, form)).graph, graph)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=nets())
def test_snnc_and_primitive_forms_load_to_the_same_layer_view(graph: Graph) -> None:
    custom = import_onnx(graph_to_onnx(graph, "snnc")).graph
    primitive = import_onnx(graph_to_onnx(graph, "primitive")).graph
    assert_same_layers(custom, primitive)
