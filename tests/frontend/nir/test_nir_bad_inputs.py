"""Malformed NIR files give one-line snnc errors, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from snnc.errors import InputError, InvalidModelError, SnncError
from snnc.frontend.nir import load_nir, nir_to_graph

PAPER = Path(__file__).resolve().parents[2] / "fixtures" / "nir"


def test_non_hdf5_bytes_are_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.nir"
    bad.write_bytes(b"\x89NIR but not really" * 10)
    with pytest.raises(InputError, match="cannot read NIR file"):
        load_nir(bad)


def test_truncated_file_is_an_input_error(tmp_path: Path) -> None:
    data = (PAPER / "lif_norse.nir").read_bytes()
    cut = tmp_path / "cut.nir"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        load_nir(cut)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_nir(tmp_path / "absent.nir")


def test_text_where_a_weight_belongs_names_the_node(tmp_path: Path) -> None:
    path = tmp_path / "text.nir"
    shutil.copy(PAPER / "lif_norse.nir", path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/0/weight"]
        f["node/nodes/0/weight"] = "not a matrix"
    with pytest.raises(SnncError) as info:
        load_nir(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("field", ["stride", "dilation", "groups"])
def test_conv_with_zero_stride_dilation_or_groups_is_invalid(field: str) -> None:
    args = {"stride": 1, "dilation": 1, "groups": 1, field: 0}
    conv = nir.Conv2d(input_shape=None, weight=np.ones((1, 1, 2, 2)), padding=0,
                      bias=np.zeros(1), **args)
    graph = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([1, 4, 4])}), conv,
                                   type_check=False)
    with pytest.raises(InvalidModelError, match=field):
        nir_to_graph(graph)


def test_infinite_time_constant_names_the_node() -> None:
    lif = nir.LIF(tau=np.array([np.inf]), r=np.ones(1), v_leak=np.zeros(1),
                  v_threshold=np.ones(1))
    graph = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([1])}), lif,
                                   type_check=False)
    with pytest.raises(InvalidModelError, match=r"lif.*NaN or inf"):
        nir_to_graph(graph)
