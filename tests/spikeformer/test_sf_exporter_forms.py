"""IMLS and attention written in plain ONNX ops, as an exporter spells them, are raised to the
same layer view as the ``snnc`` ops, and the float reference equals onnxruntime on them.

Exactness: with dyadic weights, inputs, scales and decays every float32 operation of the net is
exact, so onnxruntime and the reference agree bit for bit on everything, whatever order either
sums in. On the trained example (arbitrary float weights) every spike level agrees exactly and
the real-valued read-out to float32 rounding of its sums.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from testkit.sf_exporter import Spelling, to_exporter_onnx

from snnc import api
from snnc.errors import ModelError, UnsupportedOpError
from snnc.frontend.expand import expand_snnc_ops
from snnc.frontend.onnx import import_onnx
from snnc.ir.layers import (
    Add,
    Dense,
    Graph,
    Input,
    Layer,
    MultiLevelSpike,
    SpikingSelfAttention,
)
from snnc.reference.simulate import run_graph

F32 = np.float32
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spikeformer"
SPELLINGS = [Spelling(), Spelling(clip="max_min"), Spelling(guard=True), Spelling(opset=18),
             Spelling(clip="max_min", guard=True, opset=18)]
L, D = 6, 4


def dyadic(rng: np.random.Generator, shape: tuple[int, ...], bits: int = 3) -> np.ndarray:
    """Small multiples of 2^-bits: products and sums stay exact in float32."""
    return (rng.integers(-8, 9, shape) / 2 ** bits).astype(F32)


def block(heads: int, seed: int = 0) -> Graph:
    """Q/K/V IMLS (features, tokens, constant threshold), attention, residual, IMLS."""
    rng = np.random.default_rng(seed)
    layers: list[Layer] = [Input("x", (), shape=(L, D))]
    neurons = {"q": dict(alpha=0.75, axis=-1), "k": dict(alpha=1.0, axis=0),
               "v": dict(axis=None, theta=0.5)}
    for role, kw in neurons.items():
        layers += [Dense(role, ("x",), weight=dyadic(rng, (D, D)), bias=dyadic(rng, (D,))),
                   MultiLevelSpike(f"{role}_s", (role,), levels=4, **kw)]
    gammas = np.array([0.5, 0.25, 1.0, 0.125][:heads], F32)
    layers += [SpikingSelfAttention("att", ("q_s", "k_s", "v_s"), heads=heads, scale=0.25,
                                    gammas=gammas),
               Dense("proj", ("att",), weight=dyadic(rng, (D, D))),
               Dense("skip", ("q_s",), weight=dyadic(rng, (D, D))),
               Add("res", ("proj", "skip")),
               MultiLevelSpike("out", ("res",), levels=3, alpha=1.25, axis=-1)]
    return Graph(tuple(layers), output="out", timesteps=1)


def with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """The model with extra graph outputs (ONNX shape inference fills in their types)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    declared = {o.name for o in out.graph.output}
    out.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in declared)
    return out


def run_ort(model: onnx.ModelProto, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    runnable, _ = expand_snnc_ops(with_outputs(model, names), 17)
    session = ort.InferenceSession(runnable.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    feed = {model.graph.input[0].name: x}
    return dict(zip(names, session.run(names, feed), strict=True))


def assert_same_view(got: Graph, want: Graph) -> None:
    assert [(type(a), a.name, a.inputs) for a in got.layers] == \
        [(type(b), b.name, b.inputs) for b in want.layers]
    for a, b in zip(got.layers, want.layers, strict=True):
        if isinstance(b, MultiLevelSpike):
            rank = len(want.shape(b.name))
            axes = [None if x.axis is None else x.axis % rank for x in (a, b)]
            assert (a.levels, a.alpha, a.theta) == (b.levels, b.alpha, b.theta)
            assert axes[0] == axes[1]
        if isinstance(b, SpikingSelfAttention):
            assert (a.heads, a.scale) == (b.heads, b.scale)
            assert np.array_equal(a.gammas, b.gammas)
        if isinstance(b, Dense):
            assert np.array_equal(a.weight, b.weight)


@pytest.mark.parametrize("spelling", SPELLINGS, ids=repr)
@pytest.mark.parametrize("heads", [1, 2, 4])
def test_exporter_spelling_raises_to_the_same_layers_and_equals_onnxruntime(spelling, heads):
    graph = block(heads, seed=heads)
    model = to_exporter_onnx(graph, spelling)
    imported = import_onnx(model).graph
    assert_same_view(imported, graph)
    x = dyadic(np.random.default_rng(7), (5, L, D), bits=2)
    ref = run_graph(imported, x[None])
    neurons = [lay for lay in graph.layers if isinstance(lay, MultiLevelSpike)]
    currents = [lay.inputs[0] for lay in neurons]
    got = run_ort(model, x, [*(n.name for n in neurons), *currents])
    for lay in neurons:
        assert_levels_agree(lay, got[lay.name], ref.spikes[lay.name][0],
                            got[lay.inputs[0]], spelling.guard)
    assert max(int(ref.spikes[n.name].max()) for n in neurons) >= 2  # levels, not just 0/1


def assert_levels_agree(layer: MultiLevelSpike, got: np.ndarray, ref: np.ndarray,
                        current: np.ndarray, guarded: bool) -> None:
    """Equal levels, except that without a guard onnxruntime gives NaN for a group whose
    inputs are all zero (0/0), where snnc's level is 0."""
    if layer.axis is None or guarded:
        assert np.array_equal(got, ref), layer.name
        return
    axis = layer.axis % (current.ndim - 1) + 1
    silent = np.broadcast_to((current == 0).all(axis=axis, keepdims=True), current.shape)
    assert np.array_equal(np.isnan(got), silent), layer.name
    assert not ref[silent].any()
    assert np.array_equal(got[~silent], ref[~silent]), layer.name


def test_single_head_without_head_reshapes_is_raised_too():
    graph = block(1)
    model = to_exporter_onnx(graph, Spelling(split_heads=False))
    ops = {n.op_type for n in model.graph.node}
    assert "Reshape" not in ops and "Transpose" in ops
    imported = import_onnx(model).graph
    assert_same_view(imported, graph)
    x = dyadic(np.random.default_rng(3), (4, L, D), bits=2)
    assert np.array_equal(run_ort(model, x, ["out"])["out"], run_graph(imported, x[None])
                          .output[0])


@pytest.mark.parametrize("spelling", SPELLINGS[:3], ids=repr)
def test_trained_example_in_exporter_spelling_agrees_with_onnxruntime(spelling):
    graph = api.load(EXAMPLE / "model.onnx")
    model = to_exporter_onnx(graph, spelling)
    imported = import_onnx(model).graph
    assert_same_view(imported, graph)
    x = np.load(EXAMPLE / "test_x.npy")[:40]
    ref = run_graph(imported, x[None])
    neurons = [lay.name for lay in graph.layers if isinstance(lay, MultiLevelSpike)]
    got = run_ort(model, x, [*neurons, graph.output])
    for name in neurons:
        assert np.array_equal(got[name], ref.spikes[name][0]), name
    np.testing.assert_allclose(got[graph.output], ref.output[0], rtol=0, atol=1e-4)
    assert np.array_equal(got[graph.output].argmax(1), ref.output[0].argmax(1))


def test_unguarded_threshold_of_an_all_zero_group_is_zero_in_snnc_not_nan():
    """``x / mean(|x|)`` is 0/0 for a token whose features are all zero: onnxruntime gives
    NaN there, snnc defines the level as 0 (a silent input), everywhere else they agree."""
    graph = Graph((Input("x", (), shape=(3, 4)),
                   MultiLevelSpike("s", ("x",), levels=4, axis=-1)), output="s", timesteps=1)
    model = to_exporter_onnx(graph, Spelling(guard=False))
    x = np.array([[[1, 2, -1, 0.5], [0, 0, 0, 0], [3, 0, 1, 1]]], F32)
    got = run_ort(model, x, ["s"])["s"]
    ref = run_graph(import_onnx(model).graph, x[None]).output[0]
    assert np.isnan(got[0, 1]).all() and not ref[0, 1].any()
    assert np.array_equal(got[0, [0, 2]], ref[0, [0, 2]])
    guarded = to_exporter_onnx(graph, Spelling(guard=True))
    assert np.array_equal(run_ort(guarded, x, ["s"])["s"], ref)


def _replace_constant(model: onnx.ModelProto, name: str, value: float) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for t in out.graph.initializer:
        if t.name == name:
            t.CopyFrom(onnx.numpy_helper.from_array(np.asarray(value, F32), name))
    return out


def test_rounding_other_than_plus_one_half_is_refused_naming_the_layer():
    graph = Graph((Input("x", (), shape=(4,)),
                   MultiLevelSpike("s", ("x",), levels=4, axis=-1)), output="s", timesteps=1)
    model = _replace_constant(to_exporter_onnx(graph), "/s/half", 0.25)
    with pytest.raises(ModelError, match=r"'s'.*rounding"):
        import_onnx(model)


def test_clip_to_a_bound_other_than_the_level_count_is_refused():
    graph = Graph((Input("x", (), shape=(4,)),
                   MultiLevelSpike("s", ("x",), levels=4, axis=-1)), output="s", timesteps=1)
    model = to_exporter_onnx(graph)
    clip = next(n for n in model.graph.node if n.op_type == "Clip")
    lower = onnx.helper.make_node("Clip", [clip.input[0], clip.input[1], ""], ["low"],
                                  name="/s/Clip_low")
    upper = onnx.helper.make_node("Where", ["over", "/s/max", "low"], [clip.output[0]],
                                  name="/s/Where_high")
    over = onnx.helper.make_node("Greater", ["low", "/s/other"], ["over"], name="/s/Greater")
    nodes = [n for n in model.graph.node if n is not clip]
    del model.graph.node[:]
    model.graph.node.extend([*nodes, lower, over, upper])
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.asarray(3.0, F32),
                                                                "/s/other"))
    with pytest.raises(ModelError, match=r"'s'.*clip"):
        import_onnx(model)


def test_round_half_to_even_is_refused_with_the_node_named():
    """``Round`` rounds halves to even; the IMLS level rounds them up (floor(x + 1/2))."""
    graph = Graph((Input("x", (), shape=(4,)),
                   MultiLevelSpike("s", ("x",), levels=4, axis=-1)), output="s", timesteps=1)
    model = to_exporter_onnx(graph)
    floor = next(n for n in model.graph.node if n.op_type == "Floor")
    add = next(n for n in model.graph.node if n.output[0] == floor.input[0])
    rounded = onnx.helper.make_node("Round", [add.input[0]], [floor.output[0]],
                                    name="/s/Round")
    nodes = [rounded if n is floor else n for n in model.graph.node if n is not add]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    with pytest.raises(UnsupportedOpError, match=r"Round.*'/s/Round'|'/s/Round'.*Round"):
        import_onnx(model)
