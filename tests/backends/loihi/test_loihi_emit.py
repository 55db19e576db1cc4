"""The emitted ``out/loihi`` folder: files, determinism, safe code, weights and netx HDF5."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from testkit import child_env
from testkit.loihi_netgen import conv_net, generated_net

from snnc.backends.loihi import emit
from snnc.ir.layers import LIF, Conv2d, CubaLIF, Dense, Flatten, Graph, Input
from snnc.ir.quantized import QuantizedGraph, QuantLayer
from snnc.passes.quantize import quantize
from snnc.reference.integer import run_quantized
from snnc.target import load_target

LOIHI = load_target("loihi2")
F32 = np.float32
ALWAYS = {"lava_compat.py", "network.json", "network.py", "resources.json", "run.py",
          "snnc_processes.py", "weights.npz"}


def q(graph: Graph) -> QuantizedGraph:
    return quantize(graph, LOIHI.numeric, target=LOIHI.name)


def netx_chain(seed: int = 0, biased: bool = False) -> Graph:
    """Input -> conv -> CUBA -> flatten -> dense -> LIF: every block netx can express (biases
    only with ``biased``: they start with each layer's input, which netx cannot express)."""
    rng = np.random.default_rng(seed)
    conv_weight = rng.normal(0, 0.6, (3, 2, 3, 3)).astype(F32)
    c1_bias = rng.normal(0, 0.05, (3, 1, 1)).astype(F32)
    fc_weight = rng.normal(0, 0.3, (4, 3 * 6 * 2)).astype(F32)
    fc_bias = rng.normal(0, 0.1, 4).astype(F32)
    return Graph((
        Input("x", (), shape=(2, 6, 5)),
        Conv2d("conv", ("x",), weight=conv_weight, padding=(1, 0, 1, 0), stride=(1, 2)),
        CubaLIF("c1", ("conv",), current_decay=F32(0.3), voltage_decay=F32(0.1),
                bias=c1_bias if biased else None),
        Flatten("flat", ("c1",)),
        Dense("fc", ("flat",), weight=fc_weight, bias=fc_bias if biased else None),
        LIF("out", ("fc",), beta=F32(0.875), threshold=F32(1.0)),
    ), output="out", timesteps=9, encoding="rate")


def test_emit_writes_the_documented_files(tmp_path):
    artifact = emit(q(netx_chain()), LOIHI, tmp_path)
    assert set(artifact.files) == ALWAYS | {"network.net"}
    assert {p.name for p in tmp_path.iterdir()} == set(artifact.files)
    assert artifact.resources == json.loads((tmp_path / "resources.json").read_text())


@pytest.mark.parametrize("seed", [0, 6, 9])
def test_emitting_twice_gives_identical_bytes(tmp_path, seed):
    qg = q(netx_chain() if seed == 0 else generated_net(seed))
    first, second = tmp_path / "a", tmp_path / "b"
    emit(qg, LOIHI, first)
    emit(qg, LOIHI, second)
    for path in sorted(first.iterdir()):
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name


def test_generated_python_compiles_and_holds_no_model_names(tmp_path):
    hostile = 'h"""; import os; os.system("x") #'
    graph = Graph((Input("x", (), shape=(3,)), Dense("fc", ("x",), weight=np.eye(3, dtype=F32)),
                   LIF(hostile, ("fc",))), output=hostile, name='evil"""\nmodel')
    emit(q(graph), LOIHI, tmp_path)
    for name in ("network.py", "run.py"):
        text = (tmp_path / name).read_text()
        compile(text, name, "exec")
        assert "os.system" not in text and 'evil"""' not in text
    meta = json.loads((tmp_path / "network.json").read_text())
    assert meta["layers"][0]["layer"] == hostile and meta["model"] == 'evil"""\nmodel'


def test_weights_archive_holds_doubled_integer_weights_per_synapse(tmp_path):
    qg = q(netx_chain())
    emit(qg, LOIHI, tmp_path)
    meta = json.loads((tmp_path / "network.json").read_text())
    with np.load(tmp_path / "weights.npz") as w:
        values = {k: w[k] for k in w.files}
    fc_rows, fc_cols = values["syn1_/rows"], values["syn1_/cols"]
    fc = np.zeros((4, 36), np.int64)
    fc[fc_rows, fc_cols] = values["syn1_/values"]
    # stored: doubled 8-bit mantissas; network.py shifts them by the layer's weight exponent
    k = qg.q("fc").weight_exp
    assert np.max(np.abs(fc)) <= 254
    assert np.array_equal(fc << k, 2 * qg.q("fc").weight)
    assert f"weight_exp={k - 1}" in (tmp_path / "network.py").read_text()
    assert meta["output"] == {"kind": "spikes", "layer": "out", "population": "out",
                              "shape": [4], "latency": 2, "offset": 0}
    assert [layer["latency"] for layer in meta["layers"]] == [1, 2]
    assert meta["run_steps"] == meta["timesteps"]  # no QNN stage: one step per step
    assert meta["latency"] == 2 and meta["input"]["graded"] is False


def test_netx_file_follows_the_schema(tmp_path):
    qg = q(netx_chain())
    emit(qg, LOIHI, tmp_path)
    with h5py.File(tmp_path / "network.net", "r") as f:
        layer = f["layer"]
        assert sorted(layer.keys(), key=int) == ["0", "1", "2", "3"]
        types = [layer[str(i)]["type"] for i in range(4)]
        assert all(t.dtype == np.dtype("S10") and t.shape == (1,) for t in types)
        assert [t[0].decode("ascii") for t in types] == ["input", "conv", "flatten", "dense"]
        assert list(layer["0/shape"][()]) == [2, 6, 5]
        conv, dense = layer["1"], layer["3"]
        assert np.array_equal(conv["weight"][()], qg.q("conv").weight)
        assert list(conv["shape"][()]) == [3, 6, 2] and list(conv["stride"][()]) == [1, 2]
        assert list(conv["padding"][()]) == [1, 0]
        assert np.array_equal(dense["weight"][()], qg.q("fc").weight)
        cuba = conv["neuron"]
        assert cuba["type"][0] == b"CUBA"
        assert int(cuba["iDecay"][()]) - 1 == int(qg.q("c1").du)
        assert int(cuba["vDecay"][()]) == int(qg.q("c1").dv)
        assert int(dense["neuron/iDecay"][()]) == 4096
        assert int(dense["neuron/vThMant"][()]) == int(qg.q("out").vth)
        # biases start with their input, which netx cannot express: a netx chain has none
        assert not dense["bias"][()].any() and not conv["bias"][()].any()


def read_netx_as_quantized(path: Path, like: QuantizedGraph) -> QuantizedGraph:
    """A netx-style reader: rebuild the network with netx's own parameter mapping (du = iDecay
    - 1, dv = vDecay, vth = vThMant, bias_mant = bias with bias_exp = 6, shapes reversed)."""
    layers: list = []
    quant: dict[str, QuantLayer] = {}
    with h5py.File(path, "r") as f:
        blocks = f["layer"]
        for i in range(len(blocks)):
            block = blocks[str(i)]
            kind = block["type"][0].decode("ascii")
            src = layers[-1].name if layers else None
            if kind == "input":
                layers.append(Input("in", (), shape=tuple(int(s) for s in block["shape"][()])))
                quant["in"] = QuantLayer()
            elif kind == "flatten":
                layers.append(Flatten(f"flat{i}", (src,)))
                quant[f"flat{i}"] = QuantLayer()
            else:
                weight = block["weight"][()].astype(np.int64)
                if kind == "conv":
                    py, px = (int(v) for v in block["padding"][()])
                    syn = Conv2d(f"syn{i}", (src,), weight=weight.astype(F32),
                                 stride=tuple(int(v) for v in block["stride"][()]),
                                 padding=(py, px, py, px),
                                 dilation=tuple(int(v) for v in block["dilation"][()]),
                                 groups=int(block["groups"][()]))
                else:
                    syn = Dense(f"syn{i}", (src,), weight=weight.astype(F32))
                n = block["neuron"]
                neuron = CubaLIF(f"n{i}", (syn.name,), bias=np.zeros(1, F32))
                layers += [syn, neuron]
                quant[syn.name] = QuantLayer(weight=weight)
                bias = block["bias"][()].astype(np.int64)
                quant[neuron.name] = QuantLayer(
                    du=np.asarray(int(n["iDecay"][()]) - 1),
                    dv=np.asarray(int(n["vDecay"][()])), vth=np.asarray(int(n["vThMant"][()])),
                    bias=bias.reshape(-1, 1, 1) if kind == "conv" else bias)
    graph = Graph(tuple(layers), output=layers[-1].name, timesteps=like.graph.timesteps,
                  encoding=like.graph.encoding)
    return QuantizedGraph(graph, like.profile, quant, input_scale=like.input_scale,
                          target=like.target)


def test_netx_file_read_back_runs_like_the_compiled_network(tmp_path):
    qg = q(netx_chain(seed=2))
    emit(qg, LOIHI, tmp_path)
    again = read_netx_as_quantized(tmp_path / "network.net", qg)
    drive = (np.random.default_rng(5).random((9, 3, 2, 6, 5)) < 0.4).astype(F32)
    expected = run_quantized(qg, drive)
    got = run_quantized(again, drive)
    assert expected.output.sum() > 0
    assert np.array_equal(expected.output, got.output)
    assert np.array_equal(expected.spikes["c1"], got.spikes[again.graph.layers[2].name])


def test_a_bias_that_starts_with_its_input_gets_no_netx_file_and_the_reason(tmp_path):
    emit(q(netx_chain(biased=True)), LOIHI, tmp_path)
    meta = json.loads((tmp_path / "network.json").read_text())
    assert not (tmp_path / "network.net").exists()
    assert meta["netx"]["reason"] == ("layer 'c1' adds its bias from step 1, when its input "
                                      "arrives; netx neurons add theirs from step 0")


def test_networks_netx_cannot_express_get_no_file_and_a_reason(tmp_path):
    emit(q(conv_net(np.random.default_rng(0), "rate")), LOIHI, tmp_path)
    meta = json.loads((tmp_path / "network.json").read_text())
    assert not (tmp_path / "network.net").exists()
    assert meta["netx"]["written"] is False
    # netx has no pooling block (a max pool of spikes is a sum pool into an OR neuron here)
    assert re.fullmatch(r"layer 'pool(_window)?' \(pool2d\) has no netx block",
                        meta["netx"]["reason"])


EMIT_SCRIPT = """
import sys
from testkit.loihi_netgen import generated_net
from snnc.backends.loihi import emit
from snnc.passes.quantize import quantize
from snnc.target import load_target
target = load_target("loihi2")
for seed in (6, 7, 9, 10):
    qg = quantize(generated_net(seed), target.numeric, target=target.name)
    emit(qg, target, f"{sys.argv[1]}/{seed}")
"""


def test_emitted_bytes_do_not_depend_on_the_hash_seed(tmp_path):
    for hash_seed in ("1", "2"):
        env = child_env(PYTHONHASHSEED=hash_seed)
        done = subprocess.run([sys.executable, "-c", EMIT_SCRIPT, str(tmp_path / hash_seed)],
                              env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
    first = sorted(p for p in (tmp_path / "1").rglob("*") if p.is_file())
    assert len(first) > 20
    for path in first:
        twin = tmp_path / "2" / path.relative_to(tmp_path / "1")
        assert path.read_bytes() == twin.read_bytes(), path
