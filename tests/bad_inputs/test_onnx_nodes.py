"""Unknown operators and domains, broken attributes, non-finite constants."""

from __future__ import annotations

import numpy as np
from onnx import AttributeProto, helper, numpy_helper
from testkit.onnx_cases import attribute, good_model, node, rejects, set_metadata

from snnc.errors import InvalidModelError, ModelError, UnsupportedOpError


def test_unknown_standard_operator_names_the_node() -> None:
    model = good_model()
    node(model, "fc").op_type = "Frobnicate"
    rejects(model, UnsupportedOpError, "'fc'", "Frobnicate")


def test_operator_of_an_unknown_domain_names_the_domain() -> None:
    model = good_model()
    node(model, "lif").domain = "acme"
    rejects(model, UnsupportedOpError, "'lif'", "acme::LIF")


def test_unknown_snnc_operator_is_rejected() -> None:
    model = good_model()
    node(model, "lif").op_type = "Lif"
    rejects(model, UnsupportedOpError, "'lif'", "snnc::Lif")


def test_missing_required_attribute_is_named() -> None:
    model = good_model()
    lif = node(model, "lif")
    kept = [a for a in lif.attribute if a.name != "beta"]
    del lif.attribute[:]
    lif.attribute.extend(kept)
    rejects(model, ModelError, "'lif'", "requires attribute 'beta'")


def test_attribute_of_the_wrong_type_is_rejected() -> None:
    model = good_model()
    attribute(model, "lif", "beta").type = AttributeProto.STRING
    rejects(model, ModelError, "'lif'", "'beta' must be of type float")


def test_attribute_outside_its_choices_lists_the_choices() -> None:
    model = good_model()
    attribute(model, "lif", "reset").s = b"sideways"
    rejects(model, ModelError, "'lif'", "sideways", "zero, subtract, none")


def test_unknown_attribute_is_rejected() -> None:
    model = good_model()
    node(model, "lif").attribute.append(helper.make_attribute("colour", 3))
    rejects(model, ModelError, "'lif'", "no attribute 'colour'")


def test_parameter_input_that_is_not_a_constant_is_rejected() -> None:
    model = good_model()
    lif = node(model, "lif")
    kept = [a for a in lif.attribute if a.name != "beta"]
    del lif.attribute[:]
    lif.attribute.extend(kept)
    lif.input.append("x")  # beta read from the data input
    rejects(model, ModelError, "'lif'", "must be a constant")


def test_nan_weights_name_the_consuming_node_and_tensor() -> None:
    model = good_model()
    weight = model.graph.initializer[0]
    bad = numpy_helper.to_array(weight).copy()
    bad[1, 2] = np.nan
    weight.CopyFrom(numpy_helper.from_array(bad, weight.name))
    rejects(model, InvalidModelError, "'fc'", "fc.weight", "NaN or inf")


def test_infinite_attribute_is_rejected() -> None:
    model = good_model()
    attribute(model, "lif", "threshold").f = float("inf")
    rejects(model, InvalidModelError, "'lif'", "NaN or inf")


def test_supported_op_outside_any_raisable_idiom_names_its_node() -> None:
    model = good_model()
    model.graph.node.append(helper.make_node("Relu", ["lif"], ["r"], name="relu"))
    model.graph.output[0].name = "r"
    set_metadata(model, "snnc.state", '{"lif.v": "lif.v.next"}')
    rejects(model, ModelError, "'relu'", "Relu")
