"""Graph-level defects: shapes, cycles, duplicate names, dynamic dims, state and metadata."""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper
from testkit.onnx_cases import good_model, node, rejects, set_metadata

from snnc.errors import InvalidModelError, ShapeError


def test_shape_mismatch_names_the_node() -> None:
    model = good_model()
    weight = model.graph.initializer[0]
    weight.CopyFrom(numpy_helper.from_array(np.ones((3, 5), np.float32), weight.name))
    rejects(model, ShapeError, "'fc'", "shapes do not fit")


def test_cycle_without_state_names_a_node_on_it() -> None:
    model = good_model()
    node(model, "fc").input[0] = "lif"  # fc reads lif's spikes of the same step
    error = rejects(model, InvalidModelError, "cycle without state")
    assert error.node in ("fc", "lif")


def test_duplicate_node_names_are_rejected() -> None:
    model = good_model()
    node(model, "lif").name = "fc"
    rejects(model, InvalidModelError, "'fc'", "duplicate node name")


def test_tensor_defined_twice_is_rejected() -> None:
    model = good_model()
    node(model, "fc").output[0] = "x"
    rejects(model, InvalidModelError, "'fc'", "already defined by graph input")


def test_an_error_naming_a_hostile_node_stays_one_short_line() -> None:
    """Control characters and any length are valid in names; messages escape and shorten
    them (the exception keeps the original)."""
    model = good_model()
    node(model, "fc").name = "evil\nname" + "x" * 10_000
    node(model, "lif").name = "evil\nname" + "x" * 10_000
    error = rejects(model, InvalidModelError, "duplicate node name", "evil\\nname")
    assert error.node == "evil\nname" + "x" * 10_000
    assert "\n" not in str(error) and len(str(error)) < 200


def test_only_the_batch_axis_may_be_dynamic() -> None:
    model = good_model()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "F"
    rejects(model, ShapeError, "'x'", "only the batch axis")


def test_input_without_a_batch_axis_is_rejected() -> None:
    model = good_model()
    del model.graph.input[0].type.tensor_type.shape.dim[0]
    rejects(model, ShapeError, "'x'", "batch axis")


def test_unpaired_state_input_reports_the_extra_inputs() -> None:
    model = good_model()
    del model.metadata_props[:]
    model.graph.input[1].name = "hidden"
    node(model, "lif").input[1] = "hidden"
    rejects(model, InvalidModelError, "exactly one data input", "hidden", "snnc.state")


def test_state_metadata_must_be_json_naming_inputs_and_outputs() -> None:
    model = good_model()
    set_metadata(model, "snnc.state", "{not json")
    rejects(model, InvalidModelError, "not a JSON object")
    model = good_model()
    set_metadata(model, "snnc.state", '{"lif.v": "nowhere"}')
    rejects(model, InvalidModelError, "'lif.v'", "nowhere")


def test_state_pair_with_different_shapes_is_rejected() -> None:
    model = good_model()
    model.graph.input[1].type.tensor_type.shape.dim[1].dim_value = 7
    rejects(model, ShapeError)


def test_state_paired_with_the_wrong_output_is_rejected() -> None:
    model = good_model()
    set_metadata(model, "snnc.state", '{"lif.v": "lif"}')  # spikes instead of membrane
    rejects(model, InvalidModelError, "lif.v", "not the next v")


def test_invalid_run_metadata_is_rejected() -> None:
    model = good_model()
    set_metadata(model, "snnc.timesteps", "-3")
    rejects(model, InvalidModelError, "snnc.timesteps")
    model = good_model()
    set_metadata(model, "snnc.encoding", "morse\ncode")
    rejects(model, InvalidModelError, "snnc.encoding")


def test_graph_output_listed_twice_is_rejected() -> None:
    model = good_model()
    model.graph.output.append(model.graph.output[0])
    rejects(model, InvalidModelError, "'lif'", "listed twice")
