"""ONNX shape inference and constant lookups without copies of the weights.

``onnx.shape_inference.infer_shapes`` serialises the whole model and parses back an inferred
copy: for a board-size network, two more copies of every weight, several times per import.
Shapes never depend on the values of large constants (a shape-like tensor has a handful of
elements), so inference runs on a view of the model whose large initializers keep their type
and dimensions but not their data; callers read only the inferred types and shapes. Passes
that look constants up by name read them through :class:`InitializerValues`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import onnx
from google.protobuf.descriptor import FieldDescriptor
from onnx import numpy_helper, shape_inference

LARGE_CONSTANT = 4096  # elements: from this size an initializer's data is left out


def infer_shapes(model: onnx.ModelProto, **options: Any) -> onnx.ModelProto:
    """``onnx.shape_inference.infer_shapes(model, **options)`` on :func:`without_weights`
    of ``model``: the same types and shapes, without copying large constants."""
    return shape_inference.infer_shapes(without_weights(model), **options)


def without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose initializers of :data:`LARGE_CONSTANT` elements or more hold
    their name, type and dimensions but no data (``model`` itself when it has none)."""
    graph = model.graph
    if not any(_large(t) for t in graph.initializer):
        return model
    light = onnx.ModelProto()
    _copy_fields(model, light, skip="graph")
    _copy_fields(graph, light.graph, skip="initializer")
    for tensor in graph.initializer:
        if _large(tensor):
            light.graph.initializer.add(name=tensor.name, data_type=tensor.data_type,
                                        dims=tensor.dims)
        else:
            light.graph.initializer.add().CopyFrom(tensor)
    return light


def _large(tensor: onnx.TensorProto) -> bool:
    return math.prod(tensor.dims) >= LARGE_CONSTANT


def _copy_fields(src: Any, dst: Any, skip: str) -> None:
    """Every set field of message ``src`` except ``skip`` into the empty message ``dst``."""
    for field, value in src.ListFields():
        if field.name == skip:
            continue
        if field.is_repeated:
            getattr(dst, field.name).extend(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(dst, field.name).CopyFrom(value)
        else:
            setattr(dst, field.name, value)


class InitializerValues(Mapping[str, np.ndarray]):
    """A graph's initializers by name, as arrays read on access: a small one is kept after the
    first read, a large one (:data:`LARGE_CONSTANT` elements or more, a weight matrix) is read
    anew each time, so a pass that looks up a few constants does not hold a copy of every
    weight."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self._tensors = {t.name: t for t in graph.initializer}
        self._small: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._small:
            return self._small[name]
        tensor = self._tensors[name]
        value = numpy_helper.to_array(tensor)
        if not _large(tensor):
            self._small[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __contains__(self, name: object) -> bool:
        return name in self._tensors
