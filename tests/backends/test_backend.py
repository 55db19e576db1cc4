"""The backend contract: one :class:`Backend` subclass per tag, reached through ``get_backend``;
each says which layers it refuses, and each writes the ``resources.json`` it reports."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from snnc.backends import BACKENDS, RESOURCES_FILE, Backend, get_backend
from snnc.ir.layers import LIF, Dense, Input, MultiLevelSpike, Pool2d
from snnc.passes.quantize import quantize
from snnc.target import list_targets, load_target

F32 = np.float32
TAGS = sorted(BACKENDS)
FIRST_TARGET = {tag: next(t for t in list_targets() if t.backend == tag) for tag in TAGS}


@pytest.mark.parametrize("tag", TAGS)
def test_every_tag_resolves_to_a_complete_backend_subclass(tag):
    backend = get_backend(tag)
    assert isinstance(backend, Backend) and backend.tag == tag
    assert not inspect.isabstract(type(backend))
    assert backend.runners and all(isinstance(r, str) for r in backend.runners)
    assert get_backend(tag) is backend


@pytest.mark.parametrize(("tag", "layer", "reason"), [
    ("loihi", Pool2d("p", ("x",), pool="max", kernel=(2, 2), stride=(2, 2)), "max pooling"),
    ("mcu", Pool2d("p", ("x",), pool="avg", kernel=(2, 2), stride=(2, 2),
                   padding=(2, 0, 0, 0)), "padding"),
    ("mcu", MultiLevelSpike("m", ("x",), levels=-1), "levels"),
])
def test_unsupported_names_what_a_backend_refuses(tag, layer, reason):
    assert reason in get_backend(tag).unsupported(layer)


@pytest.mark.parametrize("tag", TAGS)
def test_plain_layers_run_everywhere(tag):
    backend = get_backend(tag)
    for layer in (Input("x", (), shape=(4,)), Dense("d", ("x",), weight=np.ones((2, 4), F32)),
                  LIF("l", ("d",)),
                  Pool2d("p", ("x",), pool="sum", kernel=(2, 2), stride=(2, 2))):
        assert backend.unsupported(layer) is None, layer.name


@pytest.mark.parametrize("tag", TAGS)
def test_every_backend_writes_the_resources_it_reports(tag, tmp_path: Path):
    from snnc.ir.layers import Graph

    rng = np.random.default_rng(0)
    graph = Graph((Input("x", (), shape=(6,)),
                   Dense("fc", ("x",), weight=rng.normal(0, 1, (5, 6)).astype(F32)),
                   LIF("out", ("fc",))), output="out", timesteps=4, encoding="rate")
    target = load_target(FIRST_TARGET[tag].name)
    backend = get_backend(tag)
    qg = quantize(graph, target.numeric, target=target.name)
    figures = backend.resources(qg, target)
    artifact = backend.emit(qg, target, tmp_path)
    assert RESOURCES_FILE in artifact.files
    written = json.loads((tmp_path / RESOURCES_FILE).read_text())
    assert written == json.loads(json.dumps(artifact.resources))
    assert {k: v for k, v in written.items() if k != "measured"} == json.loads(
        json.dumps(figures))
