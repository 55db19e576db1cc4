"""A small IML-Spikeformer-style encoder: its layer view and a numpy forward/backward pass.

Architecture (one timestep: every spike is a multi-level IMLS spike, ``LEVELS`` virtual steps
in one step, so ``T = 1``)::

    spectrogram (TOKENS, 1, BANDS)
      -> frontend: Conv2d over frequency, FILTERS filters of 1 x KERNEL, stride 2, shared by
         every token (a grouped Conv2d with one group per token, so its output is already
         token-major and a Reshape gives (TOKENS, DIM) tokens without a transpose)
      -> embed: IMLS
      -> BLOCKS x [ HD-RepSSA: Q, K, V = IMLS(Dense(x)); A = SpikingSelfAttention(Q, K, V)
                    (per-head decay mask gamma_h^|n-m|); x1 = IMLS(Dense(IMLS(A)) + Dense(x))
                    MLP: x = IMLS(Dense(IMLS(Dense(x1))) + Dense(x1)) ]
      -> Flatten -> Dense classifier (the output: 10 currents)

Every IMLS neuron uses the input-aware threshold ``theta = ALPHA * mean(|I|)`` over the
token's features (axis -1), which also normalises each token like a layer norm. Residual
branches carry a Dense each because the integer backends add currents of one fixed-point unit.

The training forward below follows the float reference (``snnc.reference.simulate``) layer by
layer; the gradient of the spike levels is the straight-through estimate ``1/theta`` inside the
level range (theta treated as a constant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from snnc.ir.layers import (
    Add,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    Input,
    Layer,
    MultiLevelSpike,
    Reshape,
    SpikingSelfAttention,
)

F32 = np.float32

TOKENS, BANDS = 16, 16
FILTERS, KERNEL, STRIDE, PAD = 4, 5, 2, (2, 1)          # frequency padding (left, right)
WIDTH = (BANDS + sum(PAD) - KERNEL) // STRIDE + 1       # 8 frequency positions per filter
DIM = FILTERS * WIDTH                                   # 32 features per token
HEADS, HIDDEN, BLOCKS, CLASSES = 2, 64, 2, 10
LEVELS, ALPHA = 4, 1.0
GAMMAS = ((0.5, 0.875), (0.75, 0.9375))                 # per block, per head: short and long
SCALE = 1.0 / (DIM // HEADS)


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-style initial weights; residual branches start near the identity."""
    def dense(n_out: int, n_in: int) -> np.ndarray:
        return (rng.normal(0.0, 1.0, (n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(F32)

    p = {"frontend.weight": (rng.normal(0.0, 1.0, (FILTERS, KERNEL)) * 0.5).astype(F32),
         "frontend.bias": np.zeros(FILTERS, F32)}
    for b in range(BLOCKS):
        for name, (n_out, n_in) in {"q": (DIM, DIM), "k": (DIM, DIM), "v": (DIM, DIM),
                                    "proj": (DIM, DIM), "fc1": (HIDDEN, DIM),
                                    "fc2": (DIM, HIDDEN)}.items():
            p[f"b{b}.{name}.weight"] = dense(n_out, n_in)
            p[f"b{b}.{name}.bias"] = np.zeros(n_out, F32)
        for skip in ("skip1", "skip2"):
            p[f"b{b}.{skip}.weight"] = (np.eye(DIM) + dense(DIM, DIM) * 0.1).astype(F32)
    p["classifier.weight"] = dense(CLASSES, TOKENS * DIM)
    p["classifier.bias"] = np.zeros(CLASSES, F32)
    return p


# -- the layer view ---------------------------------------------------------------------------

def build_graph(p: dict[str, np.ndarray], name: str = "spikeformer") -> Graph:
    """The trained parameters as an snnc layer view (what ``model.onnx`` holds)."""
    conv_w = np.tile(p["frontend.weight"][:, None, None, :], (TOKENS, 1, 1, 1))
    layers: list[Layer] = [
        Input("spectrogram", (), shape=(TOKENS, 1, BANDS)),
        Conv2d("frontend", ("spectrogram",), weight=conv_w.astype(F32),
               bias=np.tile(p["frontend.bias"], TOKENS).astype(F32), stride=(1, STRIDE),
               padding=(0, PAD[0], 0, PAD[1]), groups=TOKENS),
        Reshape("tokens", ("frontend",), shape=(TOKENS, DIM)),
        _imls("embed", "tokens"),
    ]
    x = "embed"
    for b in range(BLOCKS):
        layers += _block(p, b, x)
        x = f"b{b}.out"
    layers += [
        Flatten("features", (x,)),
        Dense("classifier", ("features",), weight=p["classifier.weight"],
              bias=p["classifier.bias"]),
    ]
    return Graph(tuple(layers), output="classifier", timesteps=1, encoding="direct", name=name)


def _imls(name: str, src: str) -> MultiLevelSpike:
    return MultiLevelSpike(name, (src,), levels=LEVELS, alpha=ALPHA, axis=-1)


def _dense(p: dict[str, np.ndarray], name: str, src: str) -> Dense:
    return Dense(name, (src,), weight=p[f"{name}.weight"], bias=p.get(f"{name}.bias"))


def _block(p: dict[str, np.ndarray], b: int, x: str) -> list[Layer]:
    n = f"b{b}"
    out: list[Layer] = []
    for role in ("q", "k", "v"):
        out += [_dense(p, f"{n}.{role}", x), _imls(f"{n}.{role}_s", f"{n}.{role}")]
    out += [
        SpikingSelfAttention(f"{n}.attention", (f"{n}.q_s", f"{n}.k_s", f"{n}.v_s"),
                             heads=HEADS, scale=SCALE, gammas=np.asarray(GAMMAS[b], F32)),
        _imls(f"{n}.attention_s", f"{n}.attention"),
        _dense(p, f"{n}.proj", f"{n}.attention_s"), _dense(p, f"{n}.skip1", x),
        Add(f"{n}.res1", (f"{n}.proj", f"{n}.skip1")), _imls(f"{n}.mid", f"{n}.res1"),
        _dense(p, f"{n}.fc1", f"{n}.mid"), _imls(f"{n}.hidden", f"{n}.fc1"),
        _dense(p, f"{n}.fc2", f"{n}.hidden"), _dense(p, f"{n}.skip2", f"{n}.mid"),
        Add(f"{n}.res2", (f"{n}.fc2", f"{n}.skip2")), _imls(f"{n}.out", f"{n}.res2"),
    ]
    return out


# -- a minimal reverse-mode autodiff for training ------------------------------------------

@dataclass(eq=False)
class Node:
    """A value on the tape; ``back`` turns this node's gradient into its parents'."""

    value: np.ndarray
    parents: tuple[Node, ...] = ()
    back: Callable[[np.ndarray], tuple[np.ndarray, ...]] | None = None
    grad: np.ndarray | None = field(default=None, repr=False)


def leaf(value: np.ndarray) -> Node:
    return Node(np.asarray(value, F32))


def backward(loss: Node) -> None:
    """Accumulate d loss / d node into every node's ``grad`` (reverse topological order)."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(loss, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node.parents)
    loss.grad = np.ones_like(loss.value)
    for node in reversed(order):
        if node.back is None or node.grad is None:
            continue
        for parent, g in zip(node.parents, node.back(node.grad), strict=True):
            parent.grad = g if parent.grad is None else parent.grad + g


def linear(x: Node, w: Node, b: Node | None) -> Node:
    """``x @ W.T + b`` over the last axis."""
    y = x.value @ w.value.T + (0 if b is None else b.value)

    def back(g: np.ndarray) -> tuple[np.ndarray, ...]:
        flat_g, flat_x = g.reshape(-1, g.shape[-1]), x.value.reshape(-1, x.value.shape[-1])
        grads = (g @ w.value, flat_g.T @ flat_x)
        return grads if b is None else (*grads, flat_g.sum(axis=0))

    return Node(y.astype(F32), (x, w) if b is None else (x, w, b), back)


def add(a: Node, b: Node) -> Node:
    return Node(a.value + b.value, (a, b), lambda g: (g, g))


def imls(u: Node) -> Node:
    """Levels ``clip(floor(u/theta + 1/2), 0, LEVELS)``, ``theta = ALPHA mean|u|`` per token,
    computed in float32 in the reference's order; straight-through gradient ``1/theta``."""
    theta = (F32(ALPHA) * np.mean(np.abs(u.value), axis=-1, keepdims=True, dtype=F32))
    safe = np.where(theta > 0, theta, F32(1))
    scaled = u.value / safe
    level = np.where(theta > 0, np.clip(np.floor(scaled + F32(0.5)), 0, LEVELS), 0)
    inside = (scaled >= -0.5) & (scaled < LEVELS + 0.5) & (theta > 0)
    return Node(level.astype(F32), (u,), lambda g: (g * inside / safe,))


def frontend(x: np.ndarray, w: Node, b: Node) -> Node:
    """The shared per-token frequency convolution on (B, TOKENS, 1, BANDS) inputs, as a
    matrix product on patches; output (B, TOKENS, DIM) in the grouped Conv2d's order."""
    padded = np.pad(x[:, :, 0, :], ((0, 0), (0, 0), PAD))
    index = np.arange(KERNEL)[None, :] + STRIDE * np.arange(WIDTH)[:, None]
    patches = padded[:, :, index]                                   # (B, L, WIDTH, KERNEL)
    y = patches @ w.value.T + b.value                               # (B, L, WIDTH, FILTERS)
    out = np.swapaxes(y, 2, 3).reshape(x.shape[0], TOKENS, DIM)

    def back(g: np.ndarray) -> tuple[np.ndarray, ...]:
        gy = np.swapaxes(g.reshape(x.shape[0], TOKENS, FILTERS, WIDTH), 2, 3)
        flat = gy.reshape(-1, FILTERS)
        return flat.T @ patches.reshape(-1, KERNEL), flat.sum(axis=0)

    return Node(out.astype(F32), (w, b), back)


def attention(q: Node, k: Node, v: Node, gammas: tuple[float, ...]) -> Node:
    """Softmax-free attention ``((Q_h K_h^T) * scale * M_h) V_h`` per head."""
    layer = SpikingSelfAttention("a", (), heads=HEADS, scale=SCALE,
                                 gammas=np.asarray(gammas, F32))
    mask = layer.decay_mask(TOKENS)[None]
    batch = q.value.shape[0]

    def heads(t: np.ndarray) -> np.ndarray:
        return t.reshape(batch, TOKENS, HEADS, DIM // HEADS).transpose(0, 2, 1, 3)

    def merge(t: np.ndarray) -> np.ndarray:
        return t.transpose(0, 2, 1, 3).reshape(batch, TOKENS, DIM)

    qh, kh, vh = heads(q.value), heads(k.value), heads(v.value)
    scores = (qh @ kh.transpose(0, 1, 3, 2)) * F32(SCALE) * mask
    out = merge(scores @ vh)

    def back(g: np.ndarray) -> tuple[np.ndarray, ...]:
        gh = heads(g)
        d_scores = (gh @ vh.transpose(0, 1, 3, 2)) * F32(SCALE) * mask
        return (merge(d_scores @ kh), merge(d_scores.transpose(0, 1, 3, 2) @ qh),
                merge(scores.transpose(0, 1, 3, 2) @ gh))

    return Node(out.astype(F32), (q, k, v), back)


def flatten(x: Node) -> Node:
    shape = x.value.shape
    return Node(x.value.reshape(shape[0], -1), (x,), lambda g: (g.reshape(shape),))


def cross_entropy(logits: Node, labels: np.ndarray) -> Node:
    z = logits.value.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    rows = np.arange(labels.size)
    loss = -np.mean(np.log(prob[rows, labels] + 1e-12))

    def back(g: np.ndarray) -> tuple[np.ndarray, ...]:
        d = prob.copy()
        d[rows, labels] -= 1.0
        return ((d * float(g) / labels.size).astype(F32),)

    return Node(np.asarray(loss, F32), (logits,), back)


def forward(params: dict[str, Node], x: np.ndarray) -> Node:
    """Class logits (B, CLASSES) of the float model on inputs (B, TOKENS, 1, BANDS)."""
    def lin(name: str, src: Node) -> Node:
        return linear(src, params[f"{name}.weight"], params.get(f"{name}.bias"))

    h = imls(frontend(x, params["frontend.weight"], params["frontend.bias"]))
    for b in range(BLOCKS):
        n = f"b{b}"
        q, k, v = (imls(lin(f"{n}.{r}", h)) for r in ("q", "k", "v"))
        att = imls(attention(q, k, v, GAMMAS[b]))
        mid = imls(add(lin(f"{n}.proj", att), lin(f"{n}.skip1", h)))
        hidden = imls(lin(f"{n}.fc1", mid))
        h = imls(add(lin(f"{n}.fc2", hidden), lin(f"{n}.skip2", mid)))
    return lin("classifier", flatten(h))
