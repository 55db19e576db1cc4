"""Sinabs MultiSpike exports (graded spikes ``floor(v / theta)``) run on every integer target
as spike counts, bit-exact with the integer reference: the C project on the host, Lava (with
the max pool of the counts in a host process) and the SpiNNaker 2 layout simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snnc import api
from snnc.frontend.onnx import import_onnx
from snnc.frontend.timeline import layouts, to_steps
from snnc.ir.layers import LIF

MATRIX = Path(__file__).parents[1] / "fixtures" / "matrix"
RUNNERS = (("cortex-m4", "host"), ("loihi2", "lava"), ("spinnaker2", "spinnaker2"))


@pytest.mark.needs("gcc", "lava")
@pytest.mark.parametrize("name", ["sinabs_iaf_multispike_conv_max_ts17",
                                  "sinabs_iafsqueeze_multispike_mlp_dyn18"])
def test_graded_counts_of_a_sinabs_export_run_bit_exact_on_every_integer_target(name):
    graph = import_onnx(MATRIX / f"{name}.onnx").graph
    graded = [lay.name for lay in graph.layers if isinstance(lay, LIF) and lay.graded]
    assert graded
    with np.load(MATRIX / f"{name}.npz") as data:
        x = data["x"]
    found = layouts(graph.layout)
    assert found is not None
    drive = to_steps(x, found[0], found[2])
    for target, runner in RUNNERS:
        want = api.simulate(graph, drive, target=target, backend="reference")
        assert max(int(want.spikes[n].max()) for n in graded) > 1, target  # counts, not spikes
        got = api.simulate(graph, drive, target=target, backend=runner)
        assert np.array_equal(got.output, want.output), target
        for layer in graded:
            assert np.array_equal(got.spikes[layer], want.spikes[layer]), (target, layer)
