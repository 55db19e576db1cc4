"""``network.net`` as a lava-dl user loads it: lava-dl 0.6.0's netx against ``simulate -b lava``.

A netx user builds ``netx.hdf5.Network`` from the file and feeds samples one after another,
resetting the network every ``simulation/tSample`` steps. ``tSample`` is the model's steps plus
its latency, so each sample's window holds all its output spikes; these must equal, spike for
spike, the run of the same artifact's ``run.py`` (what ``snnc simulate -b lava`` runs) on the
sample followed by ``latency`` silent steps.

Needs lava-dl, torch (CPU) and OpenCV: ``make test-netx`` installs them and runs these tests
(``.ci/run`` too); ``make test`` leaves them out (marker ``netx``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from snnc import api
from snnc.backends.loihi.simulate import run_artifact
from snnc.reference.encode import encode

pytestmark = [pytest.mark.netx, pytest.mark.needs("lava-dl")]

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "examples" / "digits"

# Runs in the artifact folder (its lava_compat.py makes Lava 0.10 importable on Python 3.11).
NETX_RUN = """
import sys
import types

import numpy as np

# lava-dl's slayer package imports slayer.object_detection, which needs torchvision; the only
# torchvision build available here is CUDA-linked and fails to load. netx never uses object
# detection, so an empty module stands in for it.
sys.modules["lava.lib.dl.slayer.object_detection"] = types.ModuleType(
    "lava.lib.dl.slayer.object_detection")

import lava_compat

lava_compat.activate()
from lava.lib.dl import netx
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source

path, spikes, reset, out = sys.argv[1], np.load(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
net = netx.hdf5.Network(net_config=path, reset_interval=reset)
steps = spikes.shape[0]
source = Source(data=spikes.reshape(steps, -1).T)
sink = Sink(shape=net.out.shape, buffer=steps)
source.s_out.connect(net.inp)
net.out.connect(sink.a_in)
net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
np.save(out, sink.data.get().T)
net.stop()
"""


def test_lava_dl_netx_runs_the_digits_network_net_spike_for_spike_like_simulate_lava(tmp_path):
    graph = api.load(DIGITS / "digits.onnx")
    x = np.load(DIGITS / "test_x.npy")[:6]
    result = api.compile(graph, "loihi2", tmp_path / "out")
    folder = result.artifact.out_dir
    meta = json.loads((folder / "network.json").read_text())
    assert meta["netx"]["written"], meta["netx"]["reason"]
    with h5py.File(folder / "network.net", "r") as f:
        sample_steps = int(f["simulation/tSample"][()])
    steps, latency = graph.timesteps, meta["latency"]
    assert sample_steps == steps + latency and latency == 2

    drive = encode(x, steps, graph.encoding, graph.input.shape)
    padded = np.concatenate([drive, np.zeros((latency, *drive.shape[1:]), drive.dtype)])
    ours = run_artifact(folder, result.quantized.quantize_input(padded), tmp_path,
                        voltages=False).output

    batch = x.shape[0]
    sequence = padded.transpose(1, 0, *range(2, padded.ndim)).reshape(
        batch * sample_steps, *graph.input.shape)
    np.save(tmp_path / "sequence.npy", sequence)
    done = subprocess.run(
        [sys.executable, "-c", NETX_RUN, str(folder / "network.net"),
         str(tmp_path / "sequence.npy"), str(sample_steps), str(tmp_path / "netx.npy")],
        cwd=folder, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = np.load(tmp_path / "netx.npy").reshape(batch, sample_steps, -1).transpose(1, 0, 2)

    assert ours.sum() > 0 and ours[steps:].sum() > 0  # spikes in the latency steps too
    assert np.array_equal(theirs.astype(ours.dtype), ours)
