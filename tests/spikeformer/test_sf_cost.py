"""Energy of multi-level spikes and attention (docs/cost-model.md, section 5).

A spike of level ``s`` costs ``s`` accumulates; attention's products of two activations cost a
MAC each on every target, every step, whatever the spike rate; the literature figure compares
with an ANN of the same architecture.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnc.cost.analysis import analyze, target_params
from snnc.cost.model import LIT_E_AC_PJ, LIT_E_MAC_PJ, Activity, snn_energy
from snnc.cost.shapes import stage_shape
from snnc.ir.layers import (
    LIF,
    Dense,
    Flatten,
    Graph,
    Input,
    MultiLevelSpike,
    SpikingSelfAttention,
)
from snnc.ir.stages import stage_of
from snnc.passes.calibrate import calibrate
from snnc.target import load_target

F32 = np.float32
TARGETS = ("loihi2", "cortex-m4", "spinnaker2")
L, D, H = 6, 8, 2


def attention_net(readout: bool) -> Graph:
    """Q/K/V levels -> attention -> (IMLS | Dense -> LIF)."""
    rng = np.random.default_rng(0)
    layers = [Input("x", (), shape=(L, D))]
    for role in "qkv":
        layers += [Dense(role, ("x",), weight=rng.normal(0, 1, (D, D)).astype(F32)),
                   MultiLevelSpike(f"{role}_s", (role,), levels=4, axis=-1)]
    layers.append(SpikingSelfAttention("att", ("q_s", "k_s", "v_s"), heads=H, scale=0.1,
                                       gammas=np.array([0.5, 0.9], F32)))
    if readout:
        layers += [Dense("proj", ("att",), weight=rng.normal(0, 1, (3, D)).astype(F32)),
                   LIF("out", ("proj",), beta=F32(1), threshold=F32(1))]
    else:
        layers.append(MultiLevelSpike("out", ("att",), levels=4, axis=-1))
    return Graph(tuple(layers), output="out", timesteps=2)


@pytest.mark.parametrize("readout", [False, True])
def test_attention_products_are_macs_not_synaptic_events(readout):
    graph = attention_net(readout)
    shape = stage_shape(graph, stage_of(graph, "out"), load_target("loihi2").numeric)
    products = 2 * L * L * D + H * L * L
    proj = 3 * D * L if readout else 0  # every weight applied to the wide attention output
    assert shape.dynamic_macs == products + proj
    assert shape.synapses == 0


@pytest.mark.parametrize("target", TARGETS)
def test_attention_mac_energy_is_charged_every_step_at_any_rate(target):
    graph = attention_net(readout=False)
    shape = stage_shape(graph, stage_of(graph, "out"), load_target(target).numeric)
    params = target_params(load_target(target))
    mac = params.mac(shape.weight_bits, shape.weight_bits)
    for df in params.dataflows:
        energies = [snn_energy(shape, Activity(timesteps=t, rate_in=r), params, df).compute
                    for t in (1, 3) for r in (0.0, 0.7)]
        silent_1, busy_1, silent_3, busy_3 = energies
        # no synapse: nothing scales with the rate
        assert silent_1 == pytest.approx(busy_1) and silent_3 == pytest.approx(busy_3)
        neuron = shape.outputs * params.cmp_pj
        assert silent_1 == pytest.approx(neuron + shape.dynamic_macs * mac)
        assert silent_3 == pytest.approx(3 * silent_1)


def constant_level_net(level: int) -> tuple[Graph, np.ndarray]:
    """An IMLS layer whose every output is ``level`` (constant threshold 1, input level)
    feeding a 5 x 4 Dense."""
    graph = Graph((Input("x", (), shape=(4,)),
                   MultiLevelSpike("ml", ("x",), levels=7, axis=None, theta=1.0),
                   Dense("fc", ("ml",), weight=np.ones((5, 4), F32)),
                   LIF("out", ("fc",), beta=F32(1), threshold=F32(100.0))),
                  output="out", timesteps=3)
    return graph, np.full((2, 4), float(level), F32)


@pytest.mark.parametrize("level", [1, 3, 6])
def test_a_level_s_spike_costs_s_accumulates(level):
    graph, x = constant_level_net(level)
    cost = {c.head: c for c in analyze(calibrate(graph, x), load_target("loihi2"))}["out"]
    assert cost.activity.rate_in == level
    assert cost.literature["sops"] == 20 * 3 * level  # synapses x steps x level
    assert cost.literature["snn_pj"] == pytest.approx(20 * 3 * level * LIT_E_AC_PJ)
    one, _ = constant_level_net(1)
    base = {c.head: c for c in analyze(calibrate(one, np.ones((2, 4), F32)),
                                       load_target("loihi2"))}["out"]
    params = target_params(load_target("loihi2"))
    extra = cost.snn_by_dataflow["sparse"].compute - base.snn_by_dataflow["sparse"].compute
    assert extra == pytest.approx(20 * 3 * (level - 1) * params.synop)


def test_literature_energy_counts_attention_as_macs_for_snn_and_ann():
    graph = attention_net(readout=False)
    x = np.random.default_rng(1).normal(0, 1, (3, L, D)).astype(F32)
    cost = {c.head: c for c in analyze(calibrate(graph, x), load_target("spinnaker2"))}["out"]
    products = 2 * L * L * D + H * L * L
    assert cost.literature["macs"] == products * graph.timesteps
    assert cost.literature["sops"] == 0
    assert cost.literature["ann_pj"] == pytest.approx(products * LIT_E_MAC_PJ)


def test_a_dense_read_out_counts_its_own_synapses():
    """The example's classifier is a Dense graph output: a stage whose head is the Dense."""
    graph = Graph((Input("x", (), shape=(2, 4)),
                   MultiLevelSpike("ml", ("x",), levels=3, axis=-1),
                   Flatten("flat", ("ml",)),
                   Dense("fc", ("flat",), weight=np.ones((3, 8), F32))), output="fc")
    stage = stage_of(graph, "fc")
    assert stage.members == ("flat", "fc")
    assert stage_shape(graph, stage, load_target("loihi2").numeric).synapses == 24
