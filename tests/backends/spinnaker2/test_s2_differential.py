"""The layout simulator, running only the emitted files, equals the integer reference exactly."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testkit.s2_netgen import RECIPES, drive_for, group_block, machine_limits, spinnaker2
from testkit.traces import assert_equal_runs

from snnc import api
from snnc.backends.spinnaker2 import check_resources, simulate
from snnc.backends.spinnaker2.emit import write_layout
from snnc.backends.spinnaker2.layout import build_layout
from snnc.backends.spinnaker2.network import MacStage
from snnc.backends.spinnaker2.simulate import run_layout
from snnc.errors import ResourceError
from snnc.ir.layers import LIF, Dense, Flatten, Graph, Input, Layer
from snnc.passes.quantize import quantize
from snnc.reference.integer import run_quantized
from snnc.target import Target

NAMES = sorted(RECIPES)
SEEDS = range(40)  # four nets of each of the ten recipes


def _small_target(rng: np.random.Generator, graph: Graph) -> Target:
    # Input-aware thresholds need whole averaging groups on one PE.
    return machine_limits(rng, spinnaker2(), min_cap=group_block(graph))


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_net_equals_integer_reference(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    recipe = NAMES[seed % len(NAMES)]
    graph = RECIPES[recipe](rng)
    target = _small_target(rng, graph)
    qg = quantize(graph, target.numeric, target=target.name)
    drive = drive_for(rng, graph)
    ref = run_quantized(qg, drive)
    layout = build_layout(qg, target)
    write_layout(layout, tmp_path)
    got, stats = run_layout(tmp_path, qg.quantize_input(drive))
    assert_equal_runs(ref, got)
    assert stats.unmatched_at_pe == stats.dropped_no_route == stats.dropped_off_mesh == 0


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_nets_equal_integer_reference(seed: int) -> None:
    """The fixed seeds above, widened: any seed's net either fits and matches exactly or is
    refused with a ResourceError naming the limit."""
    rng = np.random.default_rng(seed)
    graph = RECIPES[NAMES[seed % len(NAMES)]](rng)
    target = _small_target(rng, graph)
    qg = quantize(graph, target.numeric, target=target.name)
    try:
        layout = build_layout(qg, target)
    except ResourceError as err:
        assert "SRAM per PE" in str(err) or "PEs" in str(err)
        return
    drive = drive_for(rng, graph)
    with tempfile.TemporaryDirectory() as work:
        write_layout(layout, Path(work))
        got, stats = run_layout(Path(work), qg.quantize_input(drive))
    assert_equal_runs(run_quantized(qg, drive), got)
    assert stats.unmatched_at_pe == stats.dropped_no_route == 0


def test_generated_suite_covers_multi_pe_multi_chip_and_mac_layouts() -> None:
    chips, split_layers, mac = 0, 0, 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        recipe = NAMES[seed % len(NAMES)]
        graph = RECIPES[recipe](rng)
        target = _small_target(rng, graph)
        layout = build_layout(quantize(graph, target.numeric, target=target.name), target)
        chips += len({site.chip for site in layout.sites.values()}) > 1
        split_layers += any(len(s) > 1 for s in layout.parts.values())
        mac += any(isinstance(st, MacStage) for st in layout.net.stages.values())
    assert chips >= 20 and split_layers >= 18 and mac >= 4


def test_fanout_spans_several_chips_and_still_matches(tmp_path: Path) -> None:
    rng = np.random.default_rng(101)
    graph = RECIPES["fanout"](rng)
    limits = dict(spinnaker2().limits, pes_per_chip=3, max_neurons_per_pe=16)
    target = replace(spinnaker2(), limits=MappingProxyType(limits))
    qg = quantize(graph, target.numeric, target=target.name)
    hidden = check_resources(qg, target)
    assert hidden["totals"]["chips"] >= 5
    drive = drive_for(rng, graph, batch=4)
    assert_equal_runs(run_quantized(qg, drive), simulate(qg, target, drive, "spinnaker2",
                                                          tmp_path))


def _digits_like(seed: int) -> tuple[Graph, np.ndarray]:
    """64-128-10 LIF network on scikit-learn's bundled 8x8 digits, rate-coded over 8 steps;
    the readout weights are a least-squares fit on the hidden spike counts so the output
    spikes are class-dependent like a trained model's."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.35, (128, 64)).astype(np.float32)
    hidden = np.maximum(x @ w1.T, 0)
    targets = np.eye(10, dtype=np.float32)[digits.target] * 2.0
    w2 = np.linalg.lstsq(hidden, targets, rcond=None)[0].T.astype(np.float32)
    layers: tuple[Layer, ...] = (
        Input("pixels", (), shape=(64,)),
        Dense("fc1", ("pixels",), weight=w1),
        LIF("hidden", ("fc1",), beta=np.float32(0.9), threshold=np.float32(1.0),
            reset="subtract"),
        Dense("fc2", ("hidden",), weight=w2),
        LIF("digits", ("fc2",), beta=np.float32(0.9), threshold=np.float32(1.0),
            reset="subtract"))
    graph = Graph(layers, output="digits", timesteps=8, encoding="rate", name="digits")
    samples = x[rng.choice(len(x), 24, replace=False)]
    from snnc.reference.encode import encode

    return graph, encode(samples, 8, "rate", (64,))


def test_digits_like_net_on_one_chip_matches_reference(tmp_path: Path) -> None:
    graph, drive = _digits_like(7)
    target = spinnaker2()
    qg = quantize(graph, target.numeric, target=target.name)
    ref = run_quantized(qg, drive)
    assert ref.output.sum() > 0
    res = check_resources(qg, target)
    assert res["totals"]["pes"] == 3 and res["totals"]["chips"] == 1
    assert_equal_runs(ref, simulate(qg, target, drive, "spinnaker2", tmp_path))


def test_digits_like_net_split_over_chips_matches_reference(tmp_path: Path) -> None:
    graph, drive = _digits_like(8)
    limits = dict(spinnaker2().limits, pes_per_chip=4, max_neurons_per_pe=24,
                  sram_per_pe_bytes=32768 + 8000)
    target = replace(spinnaker2(), limits=MappingProxyType(limits))
    qg = quantize(graph, target.numeric, target=target.name)
    res = check_resources(qg, target)
    assert res["totals"]["chips"] >= 3 and res["totals"]["total_hops"] > 0
    assert_equal_runs(run_quantized(qg, drive),
                      simulate(qg, target, drive, "spinnaker2", tmp_path))


def test_qnn_annotated_stage_runs_on_the_mac_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    graph = RECIPES["mlp"](rng)
    layers = [lay.with_attrs(mapping="qnn") if isinstance(lay, Dense) else lay
              for lay in graph.layers]
    graph = graph.replace_layers(layers)
    target = machine_limits(rng, spinnaker2())
    qg = quantize(graph, target.numeric, target=target.name)
    layout = build_layout(qg, target)
    assert all(isinstance(st, MacStage) for st in layout.net.stages.values())
    drive = drive_for(rng, graph)
    assert_equal_runs(run_quantized(qg, drive), simulate(qg, target, drive, "spinnaker2",
                                                          tmp_path))


def test_weights_too_wide_for_the_synapse_word_fall_back_to_mac(tmp_path: Path) -> None:
    """Two Dense layers with no neuron between compose to weights beyond int16 (a Flatten
    between them keeps the quantizer from folding them into one dense layer)."""
    rng = np.random.default_rng(4)
    layers = (Input("x", (), shape=(40,)),
              Dense("a", ("x",), weight=rng.uniform(0, 1, (200, 40)).astype(np.float32)),
              Flatten("f", ("a",)),
              Dense("b", ("f",), weight=rng.uniform(0, 1, (20, 200)).astype(np.float32)),
              LIF("n", ("b",), beta=np.float32(0.8), threshold=np.float32(1500.0)))
    graph = Graph(layers, output="n", timesteps=6, encoding="rate")
    target = spinnaker2()
    qg = quantize(graph, target.numeric, target=target.name)
    layout = build_layout(qg, target)
    assert isinstance(layout.net.stages[1], MacStage)
    drive = (rng.random((6, 3, 40)) < 0.5).astype(np.float32)
    ref = run_quantized(qg, drive)
    assert ref.spikes["n"].any()
    assert_equal_runs(ref, simulate(qg, target, drive, "spinnaker2", tmp_path))


def test_large_qnn_dense_layer_is_cut_by_output_rows_across_pes(tmp_path: Path) -> None:
    """600 x 400 int8 weights (240 KB) cannot sit on one PE: each PE keeps only its rows."""
    rng = np.random.default_rng(6)
    layers = (Input("x", (), shape=(600,)),
              Dense("fc", ("x",), weight=rng.normal(0, 0.1, (400, 600)).astype(np.float32),
                    attrs={"mapping": "qnn"}),
              LIF("n", ("fc",), beta=np.float32(0.9), threshold=np.float32(1.0),
                  attrs={"mapping": "qnn"}))
    graph = Graph(layers, output="n", timesteps=5, encoding="rate")
    target = spinnaker2()
    qg = quantize(graph, target.numeric, target=target.name)
    layout = build_layout(qg, target)
    assert isinstance(layout.net.stages[1], MacStage)
    assert len(layout.parts[1]) >= 3
    assert max(layout.sram_bytes.values()) <= 131072
    drive = (rng.random((5, 2, 600)) < 0.3).astype(np.float32)
    ref = run_quantized(qg, drive)
    assert ref.spikes["n"].any()
    assert_equal_runs(ref, simulate(qg, target, drive, "spinnaker2", tmp_path))


def test_profile_options_reach_the_pe_images(tmp_path: Path) -> None:
    """A profile with wrapping 12-bit current and state, truncating decays, shifted input and
    threshold (Loihi-like numbers on the SpiNNaker machine) still matches the reference."""
    rng = np.random.default_rng(12)
    graph = RECIPES["recurrent"](rng)
    base = spinnaker2()
    numeric = replace(base.numeric, decay_bits=12, current_decay_offset=1, state_bits=16,
                      current_bits=12, voltage_overflow="wrap", current_overflow="wrap",
                      rounding="trunc", input_shift=3, threshold_shift=3, threshold_bits=12,
                      lif_current_register=True)
    target = replace(machine_limits(rng, base), numeric=numeric)
    qg = quantize(graph, numeric, target=target.name)
    drive = drive_for(rng, graph, batch=4)
    ref = run_quantized(qg, drive)
    assert ref.spikes["n0"].any()
    assert_equal_runs(ref, simulate(qg, target, drive, "spinnaker2", tmp_path))


DIGITS = Path(__file__).resolve().parents[3] / "examples" / "digits"


def test_committed_digits_model_equals_reference_through_the_whole_pipeline() -> None:
    """examples/digits/digits.onnx: frontend, optimisation (the cost model's mapping),
    quantization, layout and simulator, on 60 held-out digits."""
    graph = api.load(DIGITS / "digits.onnx")
    x = np.load(DIGITS / "test_x.npy")[:60]
    calib = np.load(DIGITS / "calib_x.npy")
    ref = api.simulate(graph, x, target="spinnaker2", calib=calib)
    got = api.simulate(graph, x, target="spinnaker2", backend="spinnaker2", calib=calib)
    assert ref.output.sum() > 0
    assert ref.arrays().keys() == got.arrays().keys()
    for name, arr in ref.arrays().items():
        assert np.array_equal(arr, got.arrays()[name]), name


@pytest.mark.parametrize("event", [True, False])
def test_weight_exponents_and_biases_from_their_onset_equal_the_reference(event, tmp_path):
    """Thresholds far below the weights give the weight layers exponents (stored shifted in
    the synapse words or MAC tensors); the biased stages add their biases from the PE's
    ``bias_on`` step, the step their input arrives."""
    rng = np.random.default_rng(11)
    f32 = np.float32
    layers = (Input("x", (), shape=(12,)),
              Dense("a", ("x",), weight=rng.normal(0, 2, (10, 12)).astype(f32),
                    bias=rng.normal(0, 0.02, 10).astype(f32)),
              LIF("n1", ("a",), beta=f32(0.9), threshold=f32(0.01)),
              Dense("b", ("n1",), weight=rng.normal(0, 2, (4, 10)).astype(f32),
                    bias=rng.normal(0, 0.02, 4).astype(f32)),
              LIF("out", ("b",), beta=f32(1.0), threshold=f32(0.02)))
    graph = Graph(tuple(lay.with_attrs(mapping="qnn") if not event and isinstance(lay, Dense)
                        else lay for lay in layers), output="out", timesteps=7,
                  encoding="rate")
    target = spinnaker2()
    qg = quantize(graph, target.numeric, target=target.name)
    assert qg.q("a").weight_exp > 0 and qg.q("b").weight_exp > 0
    drive = (rng.random((7, 3, 12)) < 0.5).astype(f32)
    want = run_quantized(qg, drive)
    assert want.spikes["out"].any()
    assert_equal_runs(want, simulate(qg, target, drive, "spinnaker2", tmp_path))
