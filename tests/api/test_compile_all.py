"""``snnc.api.compile_all`` and ``snnc compile --target all``: all targets or none, the error of
the first failing target, the same bytes as compiling target by target, shared passes."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from snnc import api
from snnc.backends import get_backend
from snnc.cli import app
from snnc.errors import ResourceError
from snnc.ir.layers import LIF, Add, Conv2d, CubaLIF, Dense, Flatten, Graph, Input, Pool2d
from snnc.onnx_builder import graph_to_onnx
from snnc.passes.pipeline import SharedPasses, optimize
from snnc.target import load_target

F32 = np.float32
runner = CliRunner()


def mixed_net() -> tuple[Graph, np.ndarray]:
    """Convolution, pooling, a recurrent projection into an Add, CubaLIF and LIF neurons, with
    calibration inputs, so every pass of the pipeline runs."""
    rng = np.random.default_rng(11)
    graph = Graph((
        Input("img", (), shape=(2, 8, 8)),
        Conv2d("conv", ("img",), weight=rng.normal(0, 0.8, (4, 2, 3, 3)).astype(F32),
               padding=(1, 1, 1, 1)),
        LIF("lif_c", ("conv",), beta=F32(0.8), threshold=F32(0.7)),
        Pool2d("pool", ("lif_c",), pool="sum", kernel=(2, 2), stride=(2, 2)),
        Flatten("flat", ("pool",)),
        Dense("fc", ("flat",), weight=rng.normal(0, 0.3, (12, 64)).astype(F32)),
        Dense("rec", ("hid",), weight=rng.normal(0, 0.3, (12, 12)).astype(F32), recurrent=True),
        Add("sum", ("fc", "rec")),
        CubaLIF("hid", ("sum",), current_decay=F32(0.3), voltage_decay=F32(0.1)),
        Dense("out_w", ("hid",), weight=rng.normal(0, 0.8, (5, 12)).astype(F32)),
        LIF("out", ("out_w",), beta=F32(0.9)),
    ), output="out", timesteps=6, encoding="rate", name="mixed")
    return graph, rng.uniform(0, 1, (5, 2, 8, 8)).astype(F32)


def too_big_for_the_mcu() -> Graph:
    """About 1.06 M int8 weights: over the Cortex-M4's 1 MB flash, easy for Loihi 2 and
    SpiNNaker 2."""
    rng = np.random.default_rng(0)
    n = 1030
    return Graph((Input("x", (), shape=(n,)),
                  Dense("fc", ("x",), weight=rng.normal(0, 0.1, (n, n)).astype(F32)),
                  LIF("out", ("fc",))), output="out", timesteps=4, encoding="rate", name="wide")


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compile_all_writes_the_bytes_of_compiling_target_by_target(tmp_path: Path) -> None:
    graph, calib = mixed_net()
    targets = api.targets_for("all")
    together = api.compile_all(graph, targets, tmp_path / "together", calib=calib, prune=0.05)
    for t in targets:
        api.compile(graph, t, tmp_path / "alone", calib=calib, prune=0.05)
    assert [r.target.name for r in together] == [t.name for t in targets]
    assert [r.artifact.out_dir for r in together] == [
        tmp_path / "together" / api.OUT_FOLDERS[t.backend] for t in targets]
    a, b = tree(tmp_path / "together"), tree(tmp_path / "alone")
    assert len(a) > 10 and sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []


def test_cli_all_targets_leaves_no_folder_when_one_target_does_not_fit(tmp_path: Path) -> None:
    model = tmp_path / "wide.onnx"
    onnx.save(graph_to_onnx(too_big_for_the_mcu()), model)
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(model), "--target", "all", "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "cortex-m4" in result.output and "flash bytes" in result.output
    assert not out.exists()


def test_a_failed_compile_all_keeps_the_previous_output(tmp_path: Path) -> None:
    graph, _ = mixed_net()
    out = tmp_path / "out"
    api.compile_all(graph, api.targets_for("all"), out)
    before = tree(out)
    with pytest.raises(ResourceError, match="cortex-m4"):
        api.compile_all(too_big_for_the_mcu(), api.targets_for("all"), out)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_the_first_failing_target_in_order_is_raised_whatever_finishes_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The MCU fails at once while Loihi fails only after the MCU did: Loihi comes first in
    target order, so its error is the one a target-by-target compilation raises."""
    mcu_failed = threading.Event()

    def loihi_emit(*_args: object, **_kw: object) -> None:
        assert mcu_failed.wait(timeout=60)
        raise ResourceError("loihi2", "neuro cores", 200, 128)

    def mcu_emit(*_args: object, **_kw: object) -> None:
        mcu_failed.set()
        raise ResourceError("cortex-m4", "flash bytes", 2 << 20, 1 << 20)

    monkeypatch.setattr(get_backend("loihi"), "emit", loihi_emit)
    monkeypatch.setattr(get_backend("mcu"), "emit", mcu_emit)
    graph, _ = mixed_net()
    with pytest.raises(ResourceError, match="loihi2"):
        api.compile_all(graph, api.targets_for("all"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("backend", "limits"), [
    ("loihi", {"neurons_per_core": 8, "cores_per_chip": 2}),
    ("mcu", {"flash_bytes": 1024, "ram_bytes": 262144}),
    ("spinnaker2", {"mesh_width": 1, "mesh_height": 1, "pes_per_chip": 3}),
])
def test_every_backend_checks_resources_in_emit_before_writing(
        backend: str, limits: dict[str, int], tmp_path: Path) -> None:
    """``compile_all`` relies on ``emit`` running the resource check first (it no longer calls
    ``check_resources`` separately)."""
    graph, calib = mixed_net()
    base = next(t for t in api.targets_for("all") if t.backend == backend)
    small = replace(base, limits={**base.limits, **limits})
    qg = api.quantize(api.optimize(graph, small, calib=calib), small, calib=calib)
    with pytest.raises(ResourceError):
        get_backend(backend).resources(qg, small)
    folder = tmp_path / "emit"
    folder.mkdir()
    with pytest.raises(ResourceError):
        get_backend(backend).emit(qg, small, folder)
    assert list(folder.iterdir()) == []


def test_shared_passes_run_once_and_give_each_target_its_own_graph() -> None:
    graph, calib = mixed_net()
    targets = api.targets_for("all")
    shared = SharedPasses(graph, calib)
    lines: list[str] = []
    together = [optimize(graph, t, calib=calib, prune=0.05, log=lines.append, shared=shared)
                for t in targets]
    alone = [optimize(graph, t, calib=calib, prune=0.05) for t in targets]
    assert lines.count("pass prune") == 1 and lines.count("pass eliminate_dead_neurons") == 1
    assert lines.count("pass choose_kernels") == len(targets)
    for a, b in zip(together, alone, strict=True):
        assert [lay.name for lay in a.layers] == [lay.name for lay in b.layers]
        for x, y in zip(a.layers, b.layers, strict=True):
            assert same(dict(x.attrs), dict(y.attrs)), x.name
            assert same(getattr(x, "weight", None), getattr(y, "weight", None)), x.name


def same(a: object, b: object) -> bool:
    """Equal values, arrays compared element by element (NaN equal to NaN), containers deeply."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)  # NaN is the one value unequal to itself


def test_shared_passes_refuse_another_graph() -> None:
    graph, calib = mixed_net()
    shared = SharedPasses(graph, calib)
    with pytest.raises(ValueError, match="another graph"):
        optimize(too_big_for_the_mcu(), load_target("loihi2"), calib=calib, shared=shared)
