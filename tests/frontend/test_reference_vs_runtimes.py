"""The float reference agrees with onnxruntime and with TVM's compiled Relax module.

Each runner executes the one-step graph in a Python loop for T steps, feeding state outputs back
to state inputs. Spikes must match exactly, membranes to 1e-5 (they match exactly with dyadic
parameters, but the contract is the tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netgen import KINDS, drives, nets
from stepping import run_onnxruntime, run_tvm

from snnc.frontend.onnx import ImportedModel, import_onnx
from snnc.ir.layers import LIF, CubaLIF, Graph
from snnc.onnx_builder import graph_to_onnx
from snnc.reference.simulate import Trace, run_graph

FORMS = ("snnc", "primitive")


def assert_agrees(reference: Trace, graph: Graph, imported: ImportedModel,
                  outputs: dict[str, np.ndarray]) -> None:
    data_output = imported.layout.data_output
    assert np.array_equal(outputs[data_output], reference.output)
    state = imported.layout.state
    for layer in graph.layers:
        if isinstance(layer, LIF | CubaLIF):
            membrane = outputs[state[f"{layer.name}.v"]]
            np.testing.assert_allclose(membrane, reference.v[layer.name], rtol=0, atol=1e-5)


def check_onnxruntime(data: st.DataObject) -> None:
    graph = data.draw(nets())
    form = data.draw(st.sampled_from(FORMS))
    drive = data.draw(drives(graph))
    model = graph_to_onnx(graph, form)
    imported = import_onnx(model)
    reference = run_graph(imported.graph, drive)
    assert_agrees(reference, graph, imported, run_onnxruntime(model, imported.layout, drive))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_agrees_with_onnxruntime_on_generated_nets(data: st.DataObject) -> None:
    check_onnxruntime(data)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_agrees_with_onnxruntime_on_many_generated_nets(data: st.DataObject) -> None:
    check_onnxruntime(data)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_agrees_with_compiled_relax_on_generated_nets(data: st.DataObject) -> None:
    graph = data.draw(nets(("dense", "recurrent", "cuba", "multilevel")))
    form = data.draw(st.sampled_from(FORMS))
    drive = data.draw(drives(graph))
    model = graph_to_onnx(graph, form)
    imported = import_onnx(model)
    reference = run_graph(imported.graph, drive)
    assert_agrees(reference, graph, imported, run_tvm(imported, model, drive))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=1, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_reference_agrees_with_compiled_relax_for_each_kind_of_net(
        kind: str, form: str, data: st.DataObject) -> None:
    """One example per kind and form (conv and attention compile slowly, so the generated
    sweep above sticks to the quick kinds)."""
    graph = data.draw(nets((kind,)))
    drive = data.draw(drives(graph))
    model = graph_to_onnx(graph, form)
    imported = import_onnx(model)
    reference = run_graph(imported.graph, drive)
    assert_agrees(reference, graph, imported, run_tvm(imported, model, drive))
