"""The backend contract: one :class:`Backend` subclass per tag, reached through ``get_backend``;
each says which layers it refuses, and each writes the ``resources.json`` it reports."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from snnc import api
from snnc.backends import BACKENDS, RESOURCES_FILE, Backend, get_backend
from snnc.ir.layers import LIF, Dense, Flatten, Input, MultiLevelSpike, Pool2d
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
    ("mcu", Pool2d("p", ("x",), pool="avg", kernel=(2, 2), stride=(2, 2),
                   padding=(2, 0, 0, 0)), "padding"),
    ("mcu", MultiLevelSpike("m", ("x",), levels=-1), "levels"),
])
def test_unsupported_names_what_a_backend_refuses(tag, layer, reason):
    assert reason in get_backend(tag).unsupported(layer)


# Xylo and Akida (as snnc lowers it) have dense synapses between 1-D populations only.
SPATIAL = [tag for tag in TAGS if tag not in ("akida", "xylo")]


@pytest.mark.parametrize("tag", TAGS)
def test_plain_layers_run_everywhere(tag):
    backend = get_backend(tag)
    for layer in (Input("x", (), shape=(4,)), Dense("d", ("x",), weight=np.ones((2, 4), F32)),
                  LIF("l", ("d",), beta=F32(1.0), reset="subtract")):
        assert backend.unsupported(layer) is None, layer.name


@pytest.mark.parametrize("tag", SPATIAL)
def test_sum_pooling_runs_on_the_backends_with_spatial_layers(tag):
    layer = Pool2d("p", ("x",), pool="sum", kernel=(2, 2), stride=(2, 2))
    assert get_backend(tag).unsupported(layer) is None


@pytest.mark.parametrize("tag", ["akida", "xylo"])
def test_dense_only_backends_name_pooling_as_unsupported(tag):
    layer = Pool2d("p", ("x",), pool="sum", kernel=(2, 2), stride=(2, 2))
    assert "pool2d layers" in get_backend(tag).unsupported(layer)


def test_max_pooling_is_refused_only_where_its_input_decides():
    # Loihi max-pools spikes with an OR neuron; what feeds the pool decides (found by emit)
    from snnc.ir.layers import Graph, Layer

    layer = Pool2d("p", ("x",), pool="max", kernel=(2, 2), stride=(2, 2))
    assert get_backend("loihi").unsupported(layer) is None
    rest: tuple[Layer, ...] = (layer, Flatten("f", ("p",)),
                               Dense("d", ("f",), weight=np.ones((2, 4), F32)), LIF("o", ("d",)))
    spikes = Graph((Input("x", (), shape=(1, 4, 4)), *rest), output="o", encoding="rate")
    values = Graph((Input("x", (), shape=(1, 4, 4)), *rest), output="o", encoding="direct")
    assert get_backend("loihi").unsupported_in(spikes, layer) is None
    assert "real-valued input" in get_backend("loihi").unsupported_in(values, layer)
    for tag in ("mcu", "spinnaker2"):
        assert get_backend(tag).unsupported_in(values, layer) is None


@pytest.mark.parametrize("tag", TAGS)
def test_every_backend_writes_the_resources_it_reports(tag, tmp_path: Path):
    from snnc.ir.layers import Graph

    rng = np.random.default_rng(0)
    graph = Graph((Input("x", (), shape=(6,)),
                   Dense("fc", ("x",), weight=rng.normal(0, 1, (5, 6)).astype(F32)),
                   LIF("out", ("fc",))), output="out", timesteps=4, encoding="rate")
    target = load_target(FIRST_TARGET[tag].name)
    backend = get_backend(tag)
    # the public quantization: on Akida it lowers the stages to QNN twins (--mapping qnn: the
    # LIF's reset to zero makes its twin an approximation)
    qg = api.quantize(graph, target, mapping="qnn")
    figures = backend.resources(qg, target)
    artifact = backend.emit(qg, target, tmp_path)
    assert RESOURCES_FILE in artifact.files
    written = json.loads((tmp_path / RESOURCES_FILE).read_text())
    assert written == json.loads(json.dumps(artifact.resources))
    assert {k: v for k, v in written.items() if k != "measured"} == json.loads(
        json.dumps(figures))
