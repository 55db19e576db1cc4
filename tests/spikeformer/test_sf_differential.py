"""Generated spikeformer nets: every backend's artifact equals the integer reference exactly.

24 networks (``sf_netgen``: 6 recipes x 4 seeds) run through the C project on the host (under
ASan/UBSan), the SpiNNaker-2 layout simulator (reading only the emitted files) and Lava's
fixed-point simulation; a few also under QEMU on a Cortex-M4. Each comparison is
``numpy.array_equal`` on the output and on every layer's spike levels and membranes, over
``latency + T`` steps so that the delayed targets (one step per synaptic stage) reach their
steady output too. Where a target cannot run a net, the refusal must be an
``UnsupportedError`` raised before anything is written, naming the layer and the target.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from testkit.sf_netgen import RECIPES, Net, all_nets, make_net
from testkit.traces import assert_same_trace

from snnc import api
from snnc.backends import get_backend
from snnc.backends.mcu.simulate import simulate as mcu_simulate
from snnc.errors import UnsupportedError
from snnc.ir.layers import MultiLevelSpike, SpikingSelfAttention
from snnc.ir.quantized import QuantizedGraph
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.simulate import Trace
from snnc.target import Target, load_target

NETS = all_nets(4)
LAVA_FAST = [(recipe, 0) for recipe in sorted(RECIPES)]
LAVA_SLOW = [case for case in NETS if case not in LAVA_FAST]
QEMU = [("conv_frontend", 1), ("two_blocks", 2), ("binary_qkv", 3)]
LOIHI_REFUSED = {"attention_residual"}  # host attention must be its stage's only source


def prepare(net: Net, target: Target) -> tuple[QuantizedGraph, np.ndarray, Trace]:
    qg = quantize(net.graph, target.numeric, calib=net.inputs, target=target.name)
    steps = latency(net.graph, qg.profile) + net.graph.timesteps
    drive = encode(net.inputs, steps, net.graph.encoding, net.graph.input.shape)
    return qg, drive, run_quantized(qg, drive)


def run_backend(net: Net, target_name: str, runner: str, work: Path) -> tuple[Trace, Trace]:
    target = load_target(target_name)
    qg, drive, ref = prepare(net, target)
    backend = get_backend(target.backend)
    backend.resources(qg, target)
    return backend.simulate(qg, target, drive, runner, work), ref


@pytest.mark.parametrize(("recipe", "seed"), NETS)
def test_generated_net_exercises_levels_and_attention(recipe, seed):
    """Not vacuous: some IMLS layer emits levels of 2 or more, every net has an attention
    layer, and the output is not all zero."""
    net = make_net(recipe, seed)
    _, _, ref = prepare(net, load_target("cortex-m4"))
    kinds = {type(layer) for layer in net.graph.layers}
    assert {MultiLevelSpike, SpikingSelfAttention} <= kinds
    levels = [ref.spikes[lay.name] for lay in net.graph.layers
              if isinstance(lay, MultiLevelSpike)]
    assert max(int(s.max()) for s in levels) >= 2
    assert np.count_nonzero(ref.output) > 0


@pytest.mark.needs("gcc")
@pytest.mark.parametrize(("recipe", "seed"), NETS)
def test_mcu_host_build_equals_integer_reference(recipe, seed, tmp_path):
    target = load_target("cortex-m4")
    net = make_net(recipe, seed)
    qg, drive, ref = prepare(net, target)
    got = mcu_simulate(qg, target, drive, runner="host", work_dir=tmp_path, sanitize=True)
    assert_same_trace(got, ref)


@pytest.mark.needs("arm-none-eabi-gcc", "qemu")
@pytest.mark.parametrize(("recipe", "seed"), QEMU)
def test_mcu_under_qemu_equals_integer_reference(recipe, seed, tmp_path):
    got, ref = run_backend(make_net(recipe, seed), "cortex-m4", "qemu", tmp_path)
    assert_same_trace(got, ref)


@pytest.mark.parametrize(("recipe", "seed"), NETS)
def test_spinnaker2_layout_equals_integer_reference(recipe, seed, tmp_path):
    got, ref = run_backend(make_net(recipe, seed), "spinnaker2", "spinnaker2", tmp_path)
    assert_same_trace(got, ref)


def _lava_case(recipe: str, seed: int, work: Path) -> None:
    net = make_net(recipe, seed)
    if recipe in LOIHI_REFUSED:
        with pytest.raises(UnsupportedError, match="layer 'att', target 'loihi2'"):
            run_backend(net, "loihi2", "lava", work)
        return
    got, ref = run_backend(net, "loihi2", "lava", work)
    assert_same_trace(got, ref)


@pytest.mark.needs("lava")
@pytest.mark.parametrize(("recipe", "seed"), LAVA_FAST)
def test_lava_equals_integer_reference_or_names_the_refused_layer(recipe, seed, tmp_path):
    _lava_case(recipe, seed, tmp_path)


@pytest.mark.slow
@pytest.mark.needs("lava")
@pytest.mark.parametrize(("recipe", "seed"), LAVA_SLOW)
def test_lava_on_every_generated_net(recipe, seed, tmp_path):
    _lava_case(recipe, seed, tmp_path)


def test_loihi_refusal_happens_before_anything_is_written(tmp_path):
    net = make_net("attention_residual", 0)
    out = tmp_path / "out"
    with pytest.raises(UnsupportedError) as err:
        api.compile(net.graph, "loihi2", out, calib=net.inputs)
    message = str(err.value)
    assert "'att'" in message and "loihi2" in message and "neuron layer in between" in message
    assert not (out / "loihi").exists()
