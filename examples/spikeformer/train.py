"""Train the spikeformer example on spoken digits synthesised with espeak-ng, export the ONNX.

    python examples/spikeformer/train.py      # writes model.onnx, test_x/y.npy, calib_x.npy

Data (``speech.py``): the ten English digit words in 6 accents, 3 speeds, 2 pitches and 16
voice variants, with white noise at 15..35 dB SNR. Ten variants are for training, the other
six (unseen speakers) for testing. The whole model (``model.py``) is trained end to end in
numpy (Adam, cross-entropy, straight-through gradients through the IMLS levels), then written
as an ONNX step model with the ``snnc`` ops. The reported accuracies come from snnc itself:
the float reference executor and the integer reference of each target profile.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import model as arch
import numpy as np
import speech

from snnc import api
from snnc.ir.layers import Graph
from snnc.onnx_builder import graph_to_onnx
from snnc.passes.quantize import quantize
from snnc.reference.encode import encode
from snnc.reference.integer import latency, run_quantized
from snnc.reference.simulate import simulate
from snnc.target import load_target

HERE = Path(__file__).resolve().parent
SEED = 11
TEST_PER_CLASS = 25     # committed test set: 250 utterances of unseen voices
CALIB_SAMPLES = 64
SNR_DB = (15.0, 35.0)


def load_data(cache: Path) -> dict[str, np.ndarray]:
    """Synthesise (or read back) the noisy train and test sets."""
    if cache.is_file():
        with np.load(cache) as data:
            return dict(data)
    t0 = time.time()
    out: dict[str, np.ndarray] = {}
    for split, variants in (("train", speech.TRAIN_VARIANTS), ("test", speech.TEST_VARIANTS)):
        items = speech.utterances(variants)
        x, y = speech.dataset(items, snr_db=SNR_DB, seed=SEED + len(split))
        out[f"{split}_x"], out[f"{split}_y"] = x, y
    print(f"synthesised {len(out['train_y'])} + {len(out['test_y'])} utterances "
          f"in {time.time() - t0:.0f} s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **out)
    return out


def train(x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 2e-3,
          batch: int = 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    params = arch.init_params(rng)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        losses, correct = [], 0
        rate = lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))  # cosine schedule
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            nodes = {k: arch.leaf(val) for k, val in params.items()}
            logits = arch.forward(nodes, x[idx])
            loss = arch.cross_entropy(logits, y[idx])
            arch.backward(loss)
            losses.append(float(loss.value))
            correct += int(np.sum(logits.value.argmax(1) == y[idx]))
            step += 1
            for k, node in nodes.items():
                g = node.grad if node.grad is not None else np.zeros_like(params[k])
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                update = (m[k] / (1 - 0.9 ** step)) / (np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)
                params[k] = (params[k] - rate * update).astype(np.float32)
        if epoch % 5 == 4 or epoch == epochs - 1:
            print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}, "
                  f"train accuracy {correct / len(x):.3f}")
    return params


def stratified(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    picks = [rng.choice(np.flatnonzero(y == c), per_class, replace=False)
             for c in range(int(y.max()) + 1)]
    return np.sort(np.concatenate(picks))


def float_accuracy(graph: Graph, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(simulate(graph, x, record=False).output[-1].argmax(1) == y))


def integer_accuracy(graph: Graph, x: np.ndarray, y: np.ndarray, calib: np.ndarray,
                     target: str) -> float:
    """Accuracy in the target's integer mode, read after its pipeline latency."""
    t = load_target(target)
    qg = quantize(graph, t.numeric, calib=calib, target=t.name)
    steps = graph.timesteps + latency(graph, qg.profile)
    trace = run_quantized(qg, encode(x, steps, graph.encoding, graph.input.shape),
                          record=False)
    return float(np.mean(trace.output[-1].argmax(1) == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-o", "--output", default=str(HERE / "model.onnx"))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--cache", default=str(Path("out") / "spikeformer-data.npz"),
                        help="where the synthesised data set is kept between runs")
    args = parser.parse_args()
    data = load_data(Path(args.cache))
    params = train(data["train_x"], data["train_y"], args.epochs)
    graph = arch.build_graph(params)
    rng = np.random.default_rng(SEED)
    calib = data["train_x"][rng.choice(len(data["train_x"]), CALIB_SAMPLES, replace=False)]
    print(f"float reference accuracy on all {len(data['test_y'])} unseen-voice utterances: "
          f"{float_accuracy(graph, data['test_x'], data['test_y']):.4f}")
    keep = stratified(data["test_y"], TEST_PER_CLASS, rng)
    test_x, test_y = data["test_x"][keep], data["test_y"][keep]
    print(f"on the {len(keep)} committed test utterances: float reference "
          f"{float_accuracy(graph, test_x, test_y):.4f}")
    for target in ("cortex-m4", "loihi2", "spinnaker2"):
        acc = integer_accuracy(graph, test_x, test_y, calib, target)
        print(f"  {target} integer reference {acc:.4f}")
    out = Path(args.output)
    out.write_bytes(graph_to_onnx(graph).SerializeToString())
    np.save(out.with_name("test_x.npy"), test_x)
    np.save(out.with_name("test_y.npy"), test_y)
    np.save(out.with_name("calib_x.npy"), calib)
    reloaded = api.load(out)
    same = np.array_equal(simulate(reloaded, test_x).output, simulate(graph, test_x).output)
    print(f"wrote {out} (reloaded model equals the trained one: {same})")


if __name__ == "__main__":
    main()
