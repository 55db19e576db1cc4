"""Compiling the same model gives byte-identical output trees, for every target.

Twice in one process (no hidden state between compilations), and in two fresh processes with
different ``PYTHONHASHSEED`` values and output folders (no set/dict-order dependence on string
hashes, no timestamps, no absolute paths). The model exercises convolution, pooling, a recurrent
projection, an Add, CubaLIF and LIF neurons, rate encoding and calibration data (so the
calibration, dead-neuron, kernel-choice and mapping passes all run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from snnc import api
from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Pool2d
from snnc.onnx_builder import graph_to_onnx

F32 = np.float32
TARGETS = ("cortex-m4", "loihi2", "spinnaker2")
SNNC = Path(sys.executable).with_name("snnc")


def repro_net() -> tuple[Graph, np.ndarray]:
    rng = np.random.default_rng(4)
    graph = Graph((
        Input("img", (), shape=(2, 8, 8)),
        Conv2d("conv", ("img",), weight=rng.normal(0, 0.8, (4, 2, 3, 3)).astype(F32),
               padding=(1, 1, 1, 1)),
        LIF("lif_c", ("conv",), beta=F32(0.8),
            threshold=rng.uniform(0.5, 1.0, (4, 1, 1)).astype(F32)),
        Pool2d("pool", ("lif_c",), pool="sum", kernel=(2, 2), stride=(2, 2)),
        Flatten("flat", ("pool",)),
        Dense("fc", ("flat",), weight=rng.normal(0, 0.3, (12, 64)).astype(F32),
              bias=rng.normal(0, 0.1, 12).astype(F32)),
        Dense("rec", ("hid",), weight=rng.normal(0, 0.3, (12, 12)).astype(F32), recurrent=True),
        Add("sum", ("fc", "rec")),
        CubaLIF("hid", ("sum",), current_decay=F32(0.3), voltage_decay=F32(0.1)),
        Dense("out_w", ("hid",), weight=rng.normal(0, 0.8, (5, 12)).astype(F32)),
        LIF("out", ("out_w",), beta=F32(0.9), reset="subtract"),
    ), output="out", timesteps=8, encoding="rate", name="repro")
    return graph, rng.uniform(0, 1, (6, 2, 8, 8)).astype(F32)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_tree(first: Path, second: Path) -> None:
    a, b = tree(first), tree(second)
    assert sorted(a) == sorted(b)
    differing = [name for name in a if a[name] != b[name]]
    assert not differing, f"files differ: {differing}"


@pytest.mark.parametrize("target", TARGETS)
def test_compiling_twice_in_one_process_gives_identical_bytes(target: str,
                                                               tmp_path: Path) -> None:
    graph, calib = repro_net()
    first = api.compile(graph, target, tmp_path / "one", calib=calib).artifact.out_dir
    second = api.compile(graph, target, tmp_path / "two" / "deeper", calib=calib).artifact.out_dir
    assert len(tree(first)) > 3
    assert_same_tree(first, second)


def test_hash_seed_and_output_folder_do_not_change_any_byte(tmp_path: Path) -> None:
    graph, calib = repro_net()
    model, x = tmp_path / "repro.onnx", tmp_path / "calib.npy"
    onnx.save(graph_to_onnx(graph), model)
    np.save(x, calib)
    runs = []
    for seed, out in (("1", tmp_path / "a"), ("987654", tmp_path / "other" / "b")):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        runs.append((out, subprocess.Popen(
            [str(SNNC), "compile", str(model), "--target", "all", "--calib", str(x),
             "--out", str(out)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)))
    for _, proc in runs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    (first, _), (second, _) = runs
    assert sorted(p.name for p in first.iterdir()) == ["loihi", "mcu", "spinnaker2"]
    assert_same_tree(first, second)
