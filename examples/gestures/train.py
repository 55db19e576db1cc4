"""Train the gestures example: a Xylo-sized CUBA network on synthetic 3-axis IMU gestures.

Six gestures (still, shake along x, shake along y, circle, double tap, tilt) are synthesised as
40-step accelerometer traces (random amplitude, frequency, phase, gravity offset and sensor
noise; a different random stream for the test set). Each trace becomes 12 non-negative input
channels: the rectified positive and negative parts of each axis and of its step-to-step
change. The network, 12 -> 24 CubaLIF (recurrent) -> 6 CubaLIF, fits SynSense Xylo (16 input
channels, 8 readout neurons); its decays are powers of two (du = 1/4, dv = 1/8), which Xylo's
bit-shift neurons hold exactly, and it resets by subtraction, as Xylo does. Trained with
surrogate-gradient backpropagation through time in plain numpy, exported with the snnc ONNX ops.

    python examples/gestures/train.py          # writes examples/gestures/gestures.onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from snnc.ir.layers import Add, CubaLIF, Dense, Graph, Input
from snnc.onnx_builder import graph_to_onnx
from snnc.reference.simulate import run_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/_common.py
from _common import count_cross_entropy

STEPS = 40
CLASSES = ("still", "shake-x", "shake-y", "circle", "tap", "tilt")
INPUTS, HIDDEN = 12, 24
DU, DV = np.float32(0.25), np.float32(0.125)
THETA = np.float32(1.0)
SEED = 11


def gesture(kind: int, rng: np.random.Generator) -> np.ndarray:
    """One (STEPS, 3) accelerometer trace in g."""
    t = np.arange(STEPS) / 50.0                      # 50 Hz sampling
    amp = rng.uniform(0.4, 1.2)
    freq = rng.uniform(2.0, 4.0)
    phase = rng.uniform(0, 2 * np.pi)
    a = np.zeros((STEPS, 3))
    a[:, 2] = 1.0                                   # gravity on z
    if kind == 1:
        a[:, 0] += amp * np.sin(2 * np.pi * freq * t + phase)
    elif kind == 2:
        a[:, 1] += amp * np.sin(2 * np.pi * freq * t + phase)
    elif kind == 3:
        a[:, 0] += amp * np.sin(2 * np.pi * freq / 2 * t + phase)
        a[:, 1] += amp * np.cos(2 * np.pi * freq / 2 * t + phase)
    elif kind == 4:
        for start in rng.choice(np.arange(3, STEPS - 4), 2, replace=False):
            a[start:start + 2, 2] += 2.5 * amp
    elif kind == 5:
        angle = np.clip((t - t[rng.integers(5, 15)]) * rng.uniform(2.0, 4.0), 0, np.pi / 2)
        a[:, 0] = np.sin(angle)
        a[:, 2] = np.cos(angle)
    a += rng.normal(0, 0.05, a.shape)               # sensor noise
    a[:, :2] += rng.normal(0, 0.1, 2)               # small mounting offset
    return a


def channels(a: np.ndarray) -> np.ndarray:
    """(STEPS, 3) trace -> (STEPS, 12) non-negative channels: +/- of a - gravity and of da."""
    centred = a - np.array([0.0, 0.0, 1.0])
    delta = np.diff(a, axis=0, prepend=a[:1])
    parts = [np.maximum(centred, 0), np.maximum(-centred, 0),
             np.maximum(delta, 0) * 3, np.maximum(-delta, 0) * 3]
    return np.concatenate(parts, axis=1).astype(np.float32)


def dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (STEPS, count, 12) and labels (count,)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), count)
    x = np.stack([channels(gesture(int(k), rng)) for k in labels], axis=1)
    return x, labels


def surrogate(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + 5.0 * np.abs(v - THETA)) ** 2


def forward(params: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    """The float semantics of the exported graph (CUBA, reset by subtraction, recurrence)."""
    w1, r1, w2 = params["w1"], params["r1"], params["w2"]
    batch = x.shape[1]
    u1 = np.zeros((batch, HIDDEN), np.float32)
    v1 = np.zeros_like(u1)
    s1 = np.zeros_like(u1)
    u2 = np.zeros((batch, len(CLASSES)), np.float32)
    v2 = np.zeros_like(u2)
    rec = {k: [] for k in ("s0", "s1", "s2", "p1", "p2")}
    for t in range(x.shape[0]):
        rec["s0"].append(s1)
        u1 = (1 - DU) * u1 + x[t] @ w1.T + s1 @ r1.T
        v1 = (1 - DV) * v1 + u1
        rec["p1"].append(v1)
        s1 = (v1 > THETA).astype(np.float32)
        v1 = v1 - THETA * s1
        u2 = (1 - DU) * u2 + s1 @ w2.T
        v2 = (1 - DV) * v2 + u2
        rec["p2"].append(v2)
        s2 = (v2 > THETA).astype(np.float32)
        v2 = v2 - THETA * s2
        rec["s1"].append(s1)
        rec["s2"].append(s2)
    return {k: np.stack(v) for k, v in rec.items()}


def loss_grads(params, x, labels, logit_scale=0.5):
    """Cross-entropy on output spike counts; BPTT with the resets treated as constants."""
    f = forward(params, x)
    loss, d_counts = count_cross_entropy(f["s2"].sum(0), labels, logit_scale)
    batch = labels.shape[0]
    d_counts *= logit_scale / batch
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    cv1 = np.zeros((batch, HIDDEN), np.float32)
    cu1 = np.zeros_like(cv1)
    cv2 = np.zeros((batch, len(CLASSES)), np.float32)
    cu2 = np.zeros_like(cv2)
    d_s1_next = np.zeros_like(cv1)  # through the recurrent weights of the next step
    for t in reversed(range(x.shape[0])):
        d_v2 = d_counts * surrogate(f["p2"][t]) + cv2
        cv2 = (1 - DV) * d_v2
        d_u2 = d_v2 + cu2
        cu2 = (1 - DU) * d_u2
        grads["w2"] += d_u2.T @ f["s1"][t]
        d_s1 = d_u2 @ params["w2"] + d_s1_next
        d_v1 = d_s1 * surrogate(f["p1"][t]) + cv1
        cv1 = (1 - DV) * d_v1
        d_u1 = d_v1 + cu1
        cu1 = (1 - DU) * d_u1
        grads["w1"] += d_u1.T @ x[t]
        grads["r1"] += d_u1.T @ f["s0"][t]
        d_s1_next = d_u1 @ params["r1"]
    return loss, grads


def train(x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 3e-3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    params = {
        "w1": rng.normal(0, 0.6 / np.sqrt(INPUTS), (HIDDEN, INPUTS)).astype(np.float32),
        "r1": rng.normal(0, 0.1 / np.sqrt(HIDDEN), (HIDDEN, HIDDEN)).astype(np.float32),
        "w2": rng.normal(0, 0.6 / np.sqrt(HIDDEN), (len(CLASSES), HIDDEN)).astype(np.float32),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    s = {k: np.zeros_like(v) for k, v in params.items()}
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(x.shape[1])
        losses = []
        for start in range(0, len(order), 32):
            idx = order[start:start + 32]
            loss, grads = loss_grads(params, x[:, idx], y[idx])
            losses.append(loss)
            step += 1
            for k, g in grads.items():
                m[k] = 0.9 * m[k] + 0.1 * g
                s[k] = 0.999 * s[k] + 0.001 * g * g
                params[k] -= lr * (m[k] / (1 - 0.9**step)) / (
                    np.sqrt(s[k] / (1 - 0.999**step)) + 1e-8)
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}")
    return params


def build_graph(params: dict[str, np.ndarray]) -> Graph:
    return Graph(
        (
            Input("imu", (), shape=(INPUTS,)),
            Dense("fc1", ("imu",), weight=params["w1"]),
            Dense("rec1", ("cuba1",), weight=params["r1"], recurrent=True),
            Add("sum1", ("fc1", "rec1")),
            CubaLIF("cuba1", ("sum1",), current_decay=DU, voltage_decay=DV, threshold=THETA,
                    reset="subtract"),
            Dense("fc2", ("cuba1",), weight=params["w2"]),
            CubaLIF("cuba2", ("fc2",), current_decay=DU, voltage_decay=DV, threshold=THETA,
                    reset="subtract"),
        ),
        output="cuba2", timesteps=STEPS, encoding="direct", name="gestures",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-o", "--output",
                        default=str(Path(__file__).with_name("gestures.onnx")))
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    x_tr, y_tr = dataset(1200, seed=1)
    x_te, y_te = dataset(600, seed=2)
    params = train(x_tr, y_tr, args.epochs)
    graph = build_graph(params)
    counts = run_graph(graph, x_te).spike_counts()
    print(f"float reference test accuracy: {np.mean(counts.argmax(1) == y_te):.4f}")
    out = Path(args.output)
    out.write_bytes(graph_to_onnx(graph).SerializeToString())
    np.save(out.with_name("test_x.npy"), x_te)
    np.save(out.with_name("test_y.npy"), y_te)
    np.save(out.with_name("calib_x.npy"), x_tr[:, :200])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
