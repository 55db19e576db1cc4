"""Files that are not (whole) ONNX models, oversized declarations and external data."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto
from testkit.onnx_cases import good_model, rejects

from snnc.errors import InputError, InvalidModelError
from snnc.frontend import load


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_file_is_rejected(tmp_path: Path, keep: float) -> None:
    data = good_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * keep)])
    rejects(path, InputError, "cut.onnx", "truncated")


@pytest.mark.parametrize("content", [b"", b"hello, I am text\n", b"\x89PNG\r\n\x1a\n" + bytes(64),
                                     np.random.default_rng(1).bytes(400)],
                         ids=["empty", "text", "png", "random"])
def test_non_onnx_bytes_are_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    rejects(path, InputError, "model.onnx", "not an ONNX model")


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    rejects(tmp_path / "absent.onnx", InputError, "absent.onnx", "does not exist")


def test_load_reports_bad_onnx_through_the_same_error(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"garbage")
    with pytest.raises(InputError, match="not an ONNX model"):
        load(path)


def test_huge_declared_tensor_is_refused_before_allocating() -> None:
    model = good_model()
    weight = model.graph.initializer[0]
    del weight.dims[:]
    weight.dims.extend([200_000, 100_000])  # 2e10 float32 would be 80 GB
    start = time.perf_counter()
    rejects(model, InvalidModelError, weight.name, "limit 100000000")
    assert time.perf_counter() - start < 5


def test_huge_declared_input_is_refused() -> None:
    model = good_model()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 10**9
    rejects(model, InvalidModelError, "'x'", "limit")


def test_tensor_whose_payload_disagrees_with_its_dims_is_rejected() -> None:
    model = good_model()
    model.graph.initializer[0].dims[0] = 7
    rejects(model, InvalidModelError, "fc.weight", "bytes")


def _externalise(model: onnx.ModelProto, location: str) -> onnx.ModelProto:
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.append(onnx.StringStringEntryProto(key="location", value=location))
    return model


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_model_folder_is_rejected(tmp_path: Path,
                                                            location: str) -> None:
    (tmp_path / "secret.bin").write_bytes(bytes(48))
    folder = tmp_path / "model"
    folder.mkdir()
    path = folder / "net.onnx"
    path.write_bytes(_externalise(good_model(), location).SerializeToString())
    rejects(path, InvalidModelError, "outside the model folder", "fc.weight")


def test_external_data_through_a_symlink_leaving_the_folder_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "secret.bin").write_bytes(bytes(48))
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").symlink_to(tmp_path / "secret.bin")
    path = folder / "net.onnx"
    path.write_bytes(_externalise(good_model(), "weights.bin").SerializeToString())
    rejects(path, InvalidModelError, "outside the model folder")


def test_external_data_inside_the_model_folder_is_read(tmp_path: Path) -> None:
    model = good_model()
    data = model.graph.initializer[0].raw_data
    (tmp_path / "weights.bin").write_bytes(data)
    path = tmp_path / "net.onnx"
    path.write_bytes(_externalise(model, "weights.bin").SerializeToString())
    dense = load(path).layers[1]
    assert np.array_equal(dense.weight, np.full((3, 4), 0.25, np.float32))
