"""Hostile model and layer names stay inert on every target.

Names reach generated C, Python and file names only through :mod:`snnc.ir.names`: a network
whose names hold quotes, ``*/``, ``#include``, shell metacharacters, path separators, keywords,
template syntax, non-ASCII text and a newline compiles for all three targets to exactly the file
names a plainly named twin gets, its code holds none of the raw names, and the artifacts built
and run (host C under sanitizers, Lava, the SpiNNaker 2 layout simulator) equal the integer
reference bit for bit. The ONNX path is covered through the command line, with names no
identifier can hold: control characters (NUL included), escape sequences and 10 000-character
names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from testkit.hostile_nets import (
    CODE_SUFFIXES,
    EXTREME_NAMES,
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


@pytest.fixture(scope="module")
def extreme_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The network with EXTREME_NAMES as an ONNX file, compiled for all targets by the CLI
    (which builds the Cortex-M4 image with -Wall -Wextra -Wpedantic -Werror for memory.json)."""
    tmp = tmp_path_factory.mktemp("extreme")
    model = tmp / "model.onnx"
    onnx.save(graph_to_onnx(hostile_net(EXTREME_NAMES)), model)
    result = CliRunner().invoke(app, ["compile", str(model), "--target", "all", "--out",
                                      str(tmp / "out")])
    assert result.exit_code == 0, result.output
    return model, tmp / "out"


@pytest.mark.needs("arm-none-eabi-gcc")
def test_onnx_names_with_control_characters_and_any_length_compile(extreme_onnx) -> None:
    model, out = extreme_onnx
    graph = api.load(model)
    assert [layer.name for layer in graph.layers] == list(EXTREME_NAMES)
    assert json.loads((out / "mcu" / "memory.json").read_text())["measured"] is not None
    for path in files_below(out):
        assert SAFE_FILE_NAME.fullmatch(path.name), path
        if path.suffix in CODE_SUFFIXES:
            text = path.read_text(encoding="utf-8")
            assert text.isascii(), path
            assert "\x00" not in text and "\x1b" not in text and "\r" not in text, path
            assert not [n for n in EXTREME_NAMES if n in text and len(n) > 3], path
            assert max(map(len, text.splitlines())) < 300, path
    probes = json.loads((out / "mcu" / "model.json").read_text())["probes"]
    assert {p["layer"] for p in probes} == {layer.name for layer in graph.neurons()}
    idents = identifiers(list(EXTREME_NAMES))
    assert len(set(idents.values())) == len(EXTREME_NAMES)


@pytest.mark.parametrize("target", TARGETS)
def test_onnx_names_with_control_characters_run_bit_exact(extreme_onnx, target: str,
                                                          request: pytest.FixtureRequest) -> None:
    request.applymarker(pytest.mark.needs(NEEDS[target]))
    graph, x = api.load(extreme_onnx[0]), inputs()
    want = api.simulate(graph, x, target=target).arrays()
    got = api.simulate(graph, x, target=target, backend=RUNNERS[target]).arrays()
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        assert np.array_equal(got[key], value), key[:40]
