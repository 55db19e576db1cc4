"""Train the digits demo: a 64-128-10 LIF network on scikit-learn's bundled 8x8 digits.

Rate-coded input (the deterministic code of ``snnc.reference.encode.rate_code``), T = 8 steps,
LIF neurons with reset to zero, trained with surrogate-gradient backpropagation through time in
plain numpy (no deep-learning framework needed), then exported with the ``snnc`` ONNX ops.

    python examples/digits/train.py            # writes examples/digits/digits.onnx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from snnc.ir.layers import LIF, Dense, Graph, Input
from snnc.onnx_builder import graph_to_onnx
from snnc.reference.encode import rate_code
from snnc.reference.simulate import simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/_common.py
from _common import count_cross_entropy

STEPS = 8
BETA = np.float32(0.9)
THETA = np.float32(1.0)
HIDDEN = 128
SEED = 7


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel intensities scaled to [0, 1]; a fixed 70/30 stratified split."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    return train_test_split(x, digits.target, test_size=0.3, random_state=0,
                            stratify=digits.target)


def surrogate(v: np.ndarray) -> np.ndarray:
    """Derivative of a fast sigmoid, standing in for the spike's Dirac delta."""
    return 1.0 / (1.0 + 5.0 * np.abs(v - THETA)) ** 2


def forward(w1: np.ndarray, w2: np.ndarray, spikes_in: np.ndarray) -> dict[str, np.ndarray]:
    steps, batch = spikes_in.shape[:2]
    v1 = np.zeros((batch, w1.shape[0]), np.float32)
    v2 = np.zeros((batch, w2.shape[0]), np.float32)
    rec = {k: [] for k in ("s1", "s2", "p1", "p2")}
    for t in range(steps):
        v1 = BETA * v1 + spikes_in[t] @ w1.T
        s1 = (v1 > THETA).astype(np.float32)
        rec["p1"].append(v1)
        v1 = v1 * (1 - s1)
        v2 = BETA * v2 + s1 @ w2.T
        s2 = (v2 > THETA).astype(np.float32)
        rec["p2"].append(v2)
        v2 = v2 * (1 - s2)
        rec["s1"].append(s1)
        rec["s2"].append(s2)
    return {k: np.stack(v) for k, v in rec.items()}


def loss_grads(w1, w2, spikes_in, labels, logit_scale=1.5):
    """Cross-entropy on output spike counts; BPTT with the reset treated as a constant."""
    f = forward(w1, w2, spikes_in)
    loss, d_logits = count_cross_entropy(f["s2"].sum(0), labels, logit_scale)
    batch = labels.shape[0]
    d_counts = d_logits * logit_scale / batch
    g1, g2 = np.zeros_like(w1), np.zeros_like(w2)
    carry1 = np.zeros((batch, w1.shape[0]), np.float32)
    carry2 = np.zeros((batch, w2.shape[0]), np.float32)
    for t in reversed(range(spikes_in.shape[0])):
        d_v2 = d_counts * surrogate(f["p2"][t]) + carry2
        g2 += d_v2.T @ f["s1"][t]
        carry2 = d_v2 * BETA * (1 - f["s2"][t])
        d_s1 = d_v2 @ w2
        d_v1 = d_s1 * surrogate(f["p1"][t]) + carry1
        g1 += d_v1.T @ spikes_in[t]
        carry1 = d_v1 * BETA * (1 - f["s1"][t])
    return loss, g1, g2


def train(x: np.ndarray, y: np.ndarray, epochs: int = 40, lr: float = 2e-3):
    rng = np.random.default_rng(SEED)
    w1 = (rng.normal(0, 1, (HIDDEN, 64)) * np.sqrt(2 / 64) * 1.5).astype(np.float32)
    w2 = (rng.normal(0, 1, (10, HIDDEN)) * np.sqrt(2 / HIDDEN) * 1.5).astype(np.float32)
    params = [w1, w2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    spikes = rate_code(x, STEPS)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), 64):
            idx = order[start:start + 64]
            loss, g1, g2 = loss_grads(w1, w2, spikes[:, idx], y[idx])
            losses.append(loss)
            step += 1
            for p, g, mi, vi in zip(params, (g1, g2), m, v, strict=True):
                mi *= 0.9
                mi += 0.1 * g
                vi *= 0.999
                vi += 0.001 * g * g
                p -= lr * (mi / (1 - 0.9**step)) / (np.sqrt(vi / (1 - 0.999**step)) + 1e-8)
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}")
    return w1, w2


def build_graph(w1: np.ndarray, w2: np.ndarray) -> Graph:
    return Graph(
        (
            Input("pixels", (), shape=(64,)),
            Dense("fc1", ("pixels",), weight=w1),
            LIF("lif1", ("fc1",), beta=BETA, threshold=THETA),
            Dense("fc2", ("lif1",), weight=w2),
            LIF("lif2", ("fc2",), beta=BETA, threshold=THETA),
        ),
        output="lif2", timesteps=STEPS, encoding="rate", name="digits",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-o", "--output", default=str(Path(__file__).with_name("digits.onnx")))
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    x_tr, x_te, y_tr, y_te = load_split()
    w1, w2 = train(x_tr, y_tr, epochs=args.epochs)
    graph = build_graph(w1, w2)
    counts = simulate(graph, x_te).spike_counts()
    print(f"float reference test accuracy: {np.mean(counts.argmax(1) == y_te):.4f}")
    Path(args.output).write_bytes(graph_to_onnx(graph).SerializeToString())
    np.save(Path(args.output).with_name("test_x.npy"), x_te)
    np.save(Path(args.output).with_name("test_y.npy"), y_te)
    np.save(Path(args.output).with_name("calib_x.npy"), x_tr[:256])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
