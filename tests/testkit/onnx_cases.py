"""A valid small model to corrupt, and the assertion every bad-input test makes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from snnc.errors import SnncError
from snnc.frontend.onnx import import_onnx
from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.onnx_builder import graph_to_onnx

F32 = np.float32


def good_model() -> onnx.ModelProto:
    """x -> Dense 'fc' -> LIF 'lif', state pair lif.v -> lif.v.next."""
    graph = Graph((Input("x", (), shape=(4,)),
                   Dense("fc", ("x",), weight=np.full((3, 4), 0.25, F32)),
                   LIF("lif", ("fc",), beta=F32(0.5))), output="lif")
    return graph_to_onnx(graph)


def node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def attribute(model: onnx.ModelProto, node_name: str, attr: str) -> onnx.AttributeProto:
    return next(a for a in node(model, node_name).attribute if a.name == attr)


def set_metadata(model: onnx.ModelProto, key: str, value: str) -> None:
    next(p for p in model.metadata_props if p.key == key).value = value


def rejects(source: object, error: type[SnncError], *fragments: str) -> SnncError:
    """Importing ``source`` raises ``error`` with a one-line message holding ``fragments``."""
    with pytest.raises(error) as info:
        import_onnx(source)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return info.value
