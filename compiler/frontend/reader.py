"""Read an ONNX file defensively: every malformed input becomes a one-line ``snnc.errors`` error.

Protobuf parsing accepts surprisingly much (a truncated file may parse into a partial model, an
empty file into an empty one), so a parsed model must still have a graph, an IR version and an
opset. Sizes are checked from the declared dimensions *before* any tensor is materialised, and
external data may only come from files inside the model's own folder.
"""

from __future__ import annotations

import math
from pathlib import Path

import onnx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from onnx import TensorProto, external_data_helper

from snnc.errors import InputError, InvalidModelError

MAX_ELEMENTS = 100_000_000  # per tensor and per declared graph value
MAX_FILE_BYTES = 2**31 - 1  # the protobuf limit; larger models need external data


def read_model(source: str | Path | bytes | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Parse and size-check a model; returns it (external data loaded) and a display name."""
    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)
        base, label = None, model.graph.name or "model"
    elif isinstance(source, bytes):
        model, base, label = _parse(source, "<bytes>"), None, "model"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"model file '{path}' does not exist")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"model file '{path}' is larger than 2 GiB")
        model, base, label = _parse(path.read_bytes(), str(path)), path.parent, path.stem
    _check_envelope(model, str(source) if isinstance(source, str | Path) else label)
    check_declared_sizes(model)
    _load_external(model, base)
    return model, label


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"'{where}' is not an ONNX model or is truncated ({_first_line(exc)})") from None
    return model


def _check_envelope(model: onnx.ModelProto, where: str) -> None:
    """A real ONNX model names an IR version and an opset and has a non-empty graph."""
    if model.ir_version <= 0 or not model.HasField("graph") or not model.opset_import:
        raise InputError(f"'{where}' is not an ONNX model or is truncated "
                         "(no IR version, graph or opset)")
    if not _text_is_utf8(model):
        raise InputError(f"'{where}' holds a name or string that is not valid UTF-8")
    if not model.graph.node or not model.graph.output:
        raise InputError(f"'{where}' has an empty graph (no nodes or no outputs)")


def _text_is_utf8(message: Message) -> bool:
    """Protobuf does not validate ONNX's (proto2) string fields: invalid UTF-8 comes back as
    ``bytes`` instead of ``str`` and would break every later name check."""
    for field, value in message.ListFields():
        # protobuf >= 6 has ``is_repeated``; older releases only ``label``
        repeated = getattr(field, "is_repeated", None)
        if repeated is None:
            repeated = field.label == FieldDescriptor.LABEL_REPEATED
        values = value if repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING and any(isinstance(v, bytes)
                                                              for v in values):
            return False
        if field.type == FieldDescriptor.TYPE_MESSAGE and not all(map(_text_is_utf8, values)):
            return False
    return True


def _elements(dims: list[int]) -> int:
    return math.prod(max(int(d), 0) for d in dims)


def _tensors(model: onnx.ModelProto) -> list[tuple[TensorProto, str]]:
    """Every constant tensor with the node that holds it (initializers: their own name)."""
    found = [(t, t.name) for t in model.graph.initializer]
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                found.append((attr.t, node.name or node.op_type))
    return found


def check_declared_sizes(model: onnx.ModelProto) -> None:
    """Refuse any tensor or graph value declaring more than ``MAX_ELEMENTS`` elements, and
    any in-file tensor whose payload does not match its declared size."""
    for tensor, owner in _tensors(model):
        if _itemsize(tensor.data_type) == 0:
            raise InvalidModelError(
                f"tensor '{tensor.name}' has unknown element type {tensor.data_type}", owner)
        count = _elements(list(tensor.dims))
        if any(d < 0 for d in tensor.dims) or count > MAX_ELEMENTS:
            raise InvalidModelError(
                f"tensor '{tensor.name}' declares {count} elements (limit {MAX_ELEMENTS})", owner)
        if tensor.data_location != TensorProto.EXTERNAL and tensor.HasField("raw_data"):
            itemsize = _itemsize(tensor.data_type)
            if itemsize and len(tensor.raw_data) != count * itemsize:
                raise InvalidModelError(
                    f"tensor '{tensor.name}' declares {count} elements but holds "
                    f"{len(tensor.raw_data)} bytes", owner)
    graph = model.graph
    for value in [*graph.input, *graph.output, *graph.value_info]:
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim if d.HasField("dim_value")]
        if _elements(dims) > MAX_ELEMENTS:
            raise InvalidModelError(
                f"value '{value.name}' declares {_elements(dims)} elements "
                f"(limit {MAX_ELEMENTS})", value.name)


def _itemsize(data_type: int) -> int:
    """Bytes per element of an ONNX element type; 0 for a number ONNX does not define."""
    if data_type == TensorProto.UNDEFINED:
        return 0
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize
    except (KeyError, TypeError, ValueError):
        return 0


def _load_external(model: onnx.ModelProto, base: Path | None) -> None:
    """Load external tensor data, only from regular files inside the model's folder."""
    external = [t for t in model.graph.initializer if t.data_location == TensorProto.EXTERNAL]
    if not external:
        return
    if base is None:
        raise InvalidModelError("a model with external data must be loaded from its file",
                                external[0].name)
    root = base.resolve()
    for tensor in external:
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        target = (root / location).resolve()
        if not location or Path(location).is_absolute() or not target.is_relative_to(root):
            raise InvalidModelError(
                f"external data '{location}' lies outside the model folder", tensor.name)
        if not target.is_file():
            raise InvalidModelError(f"external data file '{location}' does not exist",
                                    tensor.name)
        needed = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
        if needed > target.stat().st_size:
            raise InvalidModelError(
                f"external data '{location}' is shorter than declared", tensor.name)
    try:
        external_data_helper.load_external_data_for_model(model, str(root))
    except (OSError, ValueError) as exc:
        raise InvalidModelError(f"cannot read external data ({_first_line(exc)})") from None
    check_declared_sizes(model)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
