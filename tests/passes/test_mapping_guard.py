"""The accuracy guard of --mapping auto: twins kept only where the answers stay within the
tolerance on the calibration data, and the agreement reported."""

import numpy as np
import pytest
from testkit.digits_net import digits_like, digits_x

from snnc import api
from snnc.errors import InputError, UnsupportedError
from snnc.passes.mapping_guard import agreement, guard_mapping
from snnc.passes.pipeline import optimize
from snnc.reference.encode import encode
from snnc.target import load_target


def _mapped(graph):
    return {lay.name for lay in graph.neurons() if lay.attrs["mapping"] == "qnn"}


def test_auto_without_calibration_keeps_every_stage_snn():
    graph = optimize(digits_like(), load_target("cortex-m4"))
    assert _mapped(graph) == set()
    assert all("without calibration data" in lay.attrs["mapping_reason"]
               for lay in graph.neurons() if lay.attrs["cost_choice"] == "qnn")


def test_default_tolerance_keeps_the_calibration_answers_identical():
    x = digits_x()[:80]
    graph = optimize(digits_like(), load_target("cortex-m4"), calib=x)
    kept = sorted(_mapped(graph))
    drive = encode(x, graph.timesteps, graph.encoding, graph.input.shape)
    assert agreement(graph, kept, drive) == 1.0
    assert all(lay.attrs["mapping_agreement"] == 1.0 for lay in graph.neurons())


def test_a_lower_tolerance_admits_every_cheaper_twin_and_reports_its_agreement():
    x = digits_x()[:80]
    strict = optimize(digits_like(), load_target("cortex-m4"), calib=x)
    loose = optimize(digits_like(), load_target("cortex-m4"), calib=x, tolerance=0.0)
    cheaper = {lay.name for lay in loose.neurons() if lay.attrs["cost_choice"] == "qnn"}
    assert _mapped(loose) == cheaper and _mapped(strict) <= cheaper
    drive = encode(x, loose.timesteps, loose.encoding, loose.input.shape)
    score = agreement(loose, sorted(cheaper), drive)
    assert loose.layer("lif1").attrs["mapping_agreement"] == score


def test_a_backend_without_the_mixed_schedule_keeps_snn_and_refuses_forced_qnn():
    graph = optimize(digits_like(), load_target("cortex-m4"), calib=digits_x()[:40])
    with pytest.raises(UnsupportedError, match="runs every stage as SNN"):
        guard_mapping(graph.replace_layers([
            lay.with_attrs(mapping="qnn") if lay.is_neuron else lay for lay in graph.layers]),
            None, mode="qnn", runs_qnn=False)


def test_tolerance_outside_zero_one_is_an_input_error():
    with pytest.raises(InputError, match="mapping-tolerance"):
        optimize(digits_like(), load_target("cortex-m4"), tolerance=1.5)


def test_forced_qnn_ignores_the_guard():
    graph = optimize(digits_like(), load_target("cortex-m4"), calib=digits_x()[:40],
                     mapping="qnn")
    assert _mapped(graph) == {"lif1", "lif2"}
    assert np.isfinite(graph.layer("lif1").attrs["mapping_agreement"])


@pytest.mark.parametrize("target", ["akida1", "xylo-audio2"])
def test_a_one_mapping_target_keeps_the_mapping_its_chip_runs(target):
    """Xylo only spikes and Akida only runs twins: no guard re-decides their stages."""
    from snnc.cost.analysis import fixed_mapping
    from snnc.passes.pipeline import build_pipeline

    t = api.as_target(target)
    steps = [s.name for s in build_pipeline(t, calib=digits_x(), mapping="auto").steps]
    assert fixed_mapping(t) is not None and "guard_mapping" not in steps
    assert "guard_mapping" in [s.name for s in build_pipeline(
        api.as_target("cortex-m4"), calib=digits_x(), mapping="auto").steps]
