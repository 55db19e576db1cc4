"""Hostile model and layer names stay inert on every target.

Names reach generated C, Python and file names only through :mod:`snnc.ir.names`: a network
whose names hold quotes, ``*/``, ``#include``, shell metacharacters, path separators, keywords,
template syntax, non-ASCII text and a newline compiles for all three targets to exactly the file
names a plainly named twin gets, its code holds none of the raw names, and the artifacts built
and run (host C under sanitizers, Lava, the SpiNNaker 2 layout simulator) equal the integer
reference bit for bit. The ONNX path is covered through the command line with the names the
ONNX reader accepts (everything but control characters).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from testkit.hostile_nets import (
    CODE_SUFFIXES,
    HOSTILE_MODEL,
    HOSTILE_NAMES,
    NEEDS,
    RUNNERS,
    SAFE_FILE_NAME,
    TARGETS,
    distinctive,
    hostile_net,
    inputs,
    plain_net,
)
from typer.testing import CliRunner

from snnc import api
from snnc.cli import app
from snnc.ir.names import identifiers
from snnc.onnx_builder import graph_to_onnx

ALL_NAMES = (*HOSTILE_NAMES, HOSTILE_MODEL)


def files_below(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def code_files(folder: Path) -> list[Path]:
    return [p for p in files_below(folder) if p.suffix in CODE_SUFFIXES]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per target: the output folders of the hostile and the plain network."""
    result = {}
    for target in TARGETS:
        folders = []
        for which, graph in (("hostile", hostile_net()), ("plain", plain_net())):
            out = tmp_path_factory.mktemp(f"{which}-{target}")
            folders.append(api.compile(graph, target, out).artifact.out_dir)
        result[target] = (folders[0], folders[1])
    return result


@pytest.mark.parametrize("target", TARGETS)
def test_file_names_do_not_depend_on_model_names(compiled, target: str) -> None:
    hostile, plain = compiled[target]
    names = [str(p.relative_to(hostile)) for p in files_below(hostile)]
    assert names == [str(p.relative_to(plain)) for p in files_below(plain)]
    for name in names:
        assert SAFE_FILE_NAME.fullmatch(name), name


@pytest.mark.parametrize("target", TARGETS)
def test_generated_code_holds_no_raw_name(compiled, target: str) -> None:
    hostile, _ = compiled[target]
    for path in code_files(hostile):
        text = path.read_text(encoding="utf-8")
        assert text.isascii(), path.name
        for name in ALL_NAMES:
            if distinctive(name):
                assert name not in text, (path.name, name)


@pytest.mark.parametrize(("target", "code", "prefix"), [("cortex-m4", "model.c", "n"),
                                                        ("loihi2", "network.py", "p")])
def test_layers_appear_under_their_sanitized_identifiers(compiled, target: str, code: str,
                                                         prefix: str) -> None:
    hostile, _ = compiled[target]
    text = (hostile / code).read_text(encoding="utf-8")
    graph = hostile_net()
    idents = identifiers([layer.name for layer in graph.layers], prefix=prefix)
    assert len(set(idents.values())) == len(idents)
    for layer in graph.neurons():
        assert idents[layer.name] in text, layer.name


@pytest.mark.parametrize("target", TARGETS)
def test_json_files_keep_the_exact_names(compiled, target: str) -> None:
    """Metadata files are JSON: the raw names survive as escaped strings and parse back."""
    hostile, _ = compiled[target]
    found: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for path in hostile.glob("*.json"):
        collect(json.loads(path.read_text(encoding="utf-8")))
    neurons = {layer.name for layer in hostile_net().neurons()}
    assert neurons <= found


def test_report_tables_keep_their_shape(compiled) -> None:
    """A name holding ``|`` or a newline must not break the Markdown tables of report.md."""
    hostile, _ = compiled["cortex-m4"]
    lines = (hostile / "report.md").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# Energy report: ") and lines[0].endswith(" on cortex-m4")
    table: list[int] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            table.append(line.replace("\\|", "").count("|"))
        elif table:
            assert len(set(table)) == 1, table
            table = []


@pytest.mark.parametrize("target", TARGETS)
def test_hostile_network_runs_bit_exact(target: str, request: pytest.FixtureRequest) -> None:
    request.applymarker(pytest.mark.needs(NEEDS[target]))
    graph, x = hostile_net(), inputs()
    expected = api.simulate(graph, x, target=target)
    got = api.simulate(graph, x, target=target, backend=RUNNERS[target])
    assert sorted(got.spikes) == sorted(expected.spikes) == sorted(
        layer.name for layer in graph.neurons())
    assert np.array_equal(got.output, expected.output)
    for name in expected.spikes:
        assert np.array_equal(got.spikes[name], expected.spikes[name]), name
    for name in expected.v:
        assert np.array_equal(got.v[name], expected.v[name]), name


def onnx_safe(name: str) -> str:
    return name.replace("\n", " ")


@pytest.mark.needs("gcc")
def test_onnx_model_with_hostile_names_through_the_command_line(tmp_path: Path) -> None:
    graph = hostile_net(tuple(onnx_safe(n) for n in HOSTILE_NAMES))
    model = tmp_path / "model.onnx"
    onnx.save(graph_to_onnx(graph), model)
    np.save(tmp_path / "x.npy", inputs())
    runner = CliRunner()
    result = runner.invoke(app, ["compile", str(model), "--target", "all", "--out",
                                 str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for path in files_below(tmp_path / "out"):
        assert SAFE_FILE_NAME.fullmatch(path.name), path
        if path.suffix in CODE_SUFFIXES:
            text = path.read_text(encoding="utf-8")
            assert not [n for n in graph_names(graph) if distinctive(n) and n in text], path
    traces = {}
    for backend in ("reference", "host"):
        out = tmp_path / f"{backend}.npz"
        result = runner.invoke(app, ["simulate", str(model), "--input", str(tmp_path / "x.npy"),
                                     "--target", "cortex-m4", "--backend", backend,
                                     "--output", str(out)])
        assert result.exit_code == 0, result.output
        with np.load(out) as data:
            traces[backend] = {key: data[key] for key in data.files}
    assert sorted(traces["host"]) == sorted(traces["reference"])
    for key, value in traces["reference"].items():
        assert np.array_equal(traces["host"][key], value), key


def graph_names(graph) -> list[str]:
    return [layer.name for layer in graph.layers] + [graph.name]
