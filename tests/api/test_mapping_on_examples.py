"""The committed demos under every mapping: what a backend runs is the mapped reference.

``snnc simulate -t X -b <backend> --mapping M`` on digits and spikeformer, for the three
integer targets: the backend's trace equals ``-b reference --mapping M`` bit for bit, and
``--mapping qnn`` differs from ``--mapping snn`` exactly when a twin is an approximation
(digits: leaky LIF with reset to zero; spikeformer has multi-level layers only, which have no
twin, so forcing QNN changes nothing).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from snnc import api
from snnc.ir.layers import Graph
from snnc.reference.simulate import Trace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODELS = {"digits": "digits.onnx", "spikeformer": "model.onnx"}
RUNNER = {"cortex-m4": "qemu", "spinnaker2": "spinnaker2", "loihi2": "lava"}
NEEDS = {"cortex-m4": ("arm-none-eabi-gcc", "qemu"), "spinnaker2": (), "loihi2": ("lava",)}
SAMPLES = {"digits": 12, "spikeformer": 3}


@cache
def example(name: str) -> tuple[Graph, np.ndarray, np.ndarray]:
    folder = EXAMPLES / name
    return (api.load(folder / MODELS[name]), np.load(folder / "test_x.npy")[:SAMPLES[name]],
            np.load(folder / "calib_x.npy"))


@cache
def reference(name: str, target: str, mapping: str) -> Trace:
    graph, x, calib = example(name)
    return api.simulate(graph, x, target=target, calib=calib, mapping=mapping)


def twins(name: str, target: str) -> dict[str, bool]:
    """Every stage ``--mapping qnn`` runs as its QNN twin, with whether the calibration showed
    the twin exact."""
    graph, _, calib = example(name)
    optimized = api.optimize(graph, target, calib=calib, mapping="qnn")
    qg = api.quantize(optimized, target, calib=calib, mapping="qnn")
    return {lay.name: bool(optimized.layer(lay.name).attrs.get("twin_exact", False))
            for lay in qg.graph.layers if "twin_of" in lay.attrs}


def _same(a: Trace, b: Trace) -> bool:
    x, y = a.arrays(), b.arrays()
    return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


CASES = [pytest.param(name, target, marks=pytest.mark.needs(*NEEDS[target]))
         for name in MODELS for target in RUNNER]


@pytest.mark.parametrize(("name", "target"), CASES)
def test_the_backend_runs_the_mapped_reference_under_qnn(name, target):
    graph, x, calib = example(name)
    got = api.simulate(graph, x, target=target, backend=RUNNER[target], calib=calib,
                       mapping="qnn")
    want = reference(name, target, "qnn")
    assert want.output.any()
    assert _same(got, want)


@pytest.mark.parametrize(("name", "target"), CASES)
def test_forcing_qnn_changes_the_run_exactly_where_a_twin_is_approximate(name, target):
    forced = twins(name, target)
    changed = not _same(reference(name, target, "qnn"), reference(name, target, "snn"))
    if name == "digits":
        assert forced and not any(forced.values())  # leaky LIF, reset to zero
        assert changed
    else:
        assert forced == {} and not changed  # multi-level layers have no twin


@pytest.mark.parametrize("target", list(RUNNER))
def test_the_compiled_report_prices_the_mapping_the_program_runs(target, tmp_path):
    """The demos' energy column is ``report.json``'s ``chosen_pj``: it must be the energy of
    the stages the compiled program runs as QNN twins, and of the others as SNN."""
    graph, _, calib = example("digits")
    api.compile_all(graph, [target], tmp_path, calib=calib)
    folder = tmp_path / api.OUT_FOLDERS[api.as_target(target).backend]
    written = json.loads((folder / "report.json").read_text())
    qg = api.quantize(api.optimize(graph, target, calib=calib), target, calib=calib)
    runs_qnn = {lay.name for lay in qg.graph.layers if "twin_of" in lay.attrs}
    assert runs_qnn  # the guard keeps lif1's twin: its answers are unchanged
    assert {x["layer"] for x in written["layers"] if x["mapping"] == "qnn"} == runs_qnn
    chosen = sum(x["qnn_pj"]["total"] if x["layer"] in runs_qnn else x["snn_pj"]["total"]
                 for x in written["layers"])
    assert written["totals"]["chosen_pj"] == pytest.approx(chosen, rel=1e-9)
