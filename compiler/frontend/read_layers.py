"""Reading matched synapses, pooling, reshapes, sums, multi-level spikes and attention.

Dense and Conv2d read their named sub-patterns (``core``: the matmul/conv call, ``weight``)
and then what wraps the core (bias, inference BatchNorm, Gemm's alpha); the rest read the
trees of their outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snnc.errors import ShapeError
from snnc.frontend.match import Const
from snnc.frontend.read_common import (
    F32,
    Composite,
    Walk,
    const_pair,
    data_input,
    op_is,
    rank_of,
    scalar,
    unsupported,
)
from snnc.ir.layers import (
    Add,
    Conv2d,
    Dense,
    Flatten,
    Layer,
    MultiLevelSpike,
    Pool2d,
    Reshape,
    SpikingSelfAttention,
)


def _strip_affine(t: Any, name: str) -> tuple[Any, np.ndarray | None, tuple | None]:
    """``[batch_norm](core [+ bias])`` -> (core, bias, batch-norm constants)."""
    norm = None
    if op_is(t, "nn.batch_norm"):
        bn = t
        if not all(isinstance(a, Const) for a in bn.args[1:]):
            raise unsupported("BatchNormalization with computed statistics", name)
        if bn.attrs.get("axis") != 1:
            raise unsupported("BatchNormalization over an axis other than 1", name)
        gamma, beta, mean, var = (a.value.astype(np.float64) for a in bn.args[1:])
        norm = (gamma, beta, mean, var, float(bn.attrs["epsilon"]))
        t = bn.args[0]
    bias = None
    if op_is(t, "add"):
        pair = const_pair(t)
        if pair is None:
            raise unsupported("synapse bias that is not a constant", name)
        t, bias = pair
    return t, bias, norm


def _fold_norm(weight: np.ndarray, bias: np.ndarray | None, norm: tuple | None,
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """Fold inference BatchNorm into the preceding weights: exact in real arithmetic."""
    if norm is None:
        return weight.astype(F32), None if bias is None else bias.astype(F32)
    gamma, beta, mean, var, eps = norm
    scale = gamma / np.sqrt(var + eps)
    base = np.zeros_like(mean) if bias is None else bias.astype(np.float64)
    shape = (-1,) + (1,) * (weight.ndim - 1)
    new_weight = weight.astype(np.float64) * scale.reshape(shape)
    return new_weight.astype(F32), ((base - mean) * scale + beta).astype(F32)


def _vector(bias: np.ndarray | None, size: int, name: str) -> np.ndarray | None:
    if bias is None:
        return None
    if np.size(bias) != size and np.size(bias) != 1:
        raise ShapeError(f"bias of shape {np.shape(bias)} does not match {size} outputs", name)
    return np.broadcast_to(np.asarray(bias, F32).reshape(-1), (size,)).copy()


def _core(comp: Composite, op: str, what: str) -> tuple[Any, np.ndarray | None, tuple | None]:
    """The named ``core`` call and what wraps it: (core, bias, batch-norm constants)."""
    core, bias, norm = _strip_affine(comp.trees[0], comp.name)
    named = comp.roles.get("core")
    if named is None or core is not named or not isinstance(comp.roles.get("weight"), Const):
        raise unsupported(f"{what} whose weight is not a constant", comp.name)
    assert op_is(core, op)
    return core, bias, norm


def read_dense(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    core, bias, norm = _core(comp, "matmul", "MatMul")
    data, w = core.args[0], comp.roles["weight"].value
    if op_is(data, "multiply") and (pair := const_pair(data)) is not None:
        data, scale = pair  # Gemm's alpha, folded into the weights
        if np.size(scale) != 1:
            raise unsupported("MatMul input scaled per element", comp.name)
        w = (w * np.asarray(scale, F32).reshape(())).astype(F32)
    if w.ndim != 2:
        raise unsupported(f"MatMul with a {w.ndim}-D weight", comp.name)
    src, late = data_input(walk, comp, data, "input", recurrent_ok=True)
    weight = w.T
    bias = _vector(bias, weight.shape[0], comp.name)
    weight, bias = _fold_norm(weight, bias, norm)
    return Dense(comp.name, (src,), weight=weight, bias=bias, recurrent=late), _slots(norm)


def _slots(norm: tuple | None) -> list[str]:
    """A folded batch_norm composite returns (value, mean, var); only field 0 is a value."""
    return ["out"] if norm is None else ["out", "statistics", "statistics"]


def read_conv2d(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    core, bias, norm = _core(comp, "nn.conv2d", "Conv")
    a = core.attrs
    if a.get("data_layout") != "NCHW" or a.get("kernel_layout") != "OIHW":
        raise unsupported("Conv with a layout other than NCHW/OIHW", comp.name)
    src, late = data_input(walk, comp, core.args[0], "input", recurrent_ok=True)
    weight = comp.roles["weight"].value
    bias = _vector(bias, weight.shape[0], comp.name)
    weight, bias = _fold_norm(weight, bias, norm)
    pad = [int(p) for p in a["padding"]]
    return Conv2d(comp.name, (src,), weight=weight, bias=bias,
                  stride=tuple(a["strides"]), padding=(pad[0], pad[1], pad[2], pad[3]),
                  dilation=tuple(a["dilation"]), groups=int(a["groups"]),
                  recurrent=late), _slots(norm)


def read_pool2d(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    t = comp.trees[-1]
    area = None
    if op_is(t, "multiply"):
        pair = const_pair(t)
        if pair is None:
            raise unsupported("pooling scaled by a computed value", comp.name)
        t, area = pair
    if t is not comp.roles.get("average") and t is not comp.roles.get("max"):
        raise unsupported("pooling scaled by a computed value", comp.name)
    a = t.attrs
    kernel = tuple(a["pool_size"])
    pool = "max" if t.name == "nn.max_pool2d" else "avg"
    if area is not None:
        if np.size(area) != 1 or float(np.ravel(area)[0]) != kernel[0] * kernel[1]:
            raise unsupported("AveragePool scaled by other than its window area",
                                     comp.name)
        pool = "sum"
    if a.get("ceil_mode") or any(d != 1 for d in a["dilation"]):
        raise unsupported("pooling with ceil_mode or dilation", comp.name)
    if pool != "max" and not a.get("count_include_pad") and any(a["padding"]):
        raise unsupported("AveragePool excluding padding from the count", comp.name)
    src, _ = data_input(walk, comp, t.args[0], "input")
    pad = [int(p) for p in a["padding"]]
    return Pool2d(comp.name, (src,), pool=pool, kernel=kernel, stride=tuple(a["strides"]),
                  padding=(pad[0], pad[1], pad[2], pad[3])), ["out"]


def read_reshape(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    t = comp.trees[-1]
    src, _ = data_input(walk, comp, t.args[0], "input")
    shape = comp.out_shape
    if shape is None or not all(isinstance(d, int) for d in shape[1:]):
        raise ShapeError("reshape to a shape that is not static per sample", comp.name)
    sample = tuple(int(d) for d in shape[1:])
    if not _keeps_batch(walk, comp, shape[0]):
        raise unsupported("Reshape that moves the batch axis", comp.name)
    if len(sample) == 1:
        return Flatten(comp.name, (src,)), ["out"]
    return Reshape(comp.name, (src,), shape=sample), ["out"]


def _keeps_batch(walk: Walk, comp: Composite, batch: Any) -> bool:
    del comp
    return walk.batch is not None and batch == walk.batch


def read_add(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    t = comp.trees[-1]
    if any(isinstance(a, Const) for a in t.args):
        raise unsupported("Add of a constant that is not a Dense/Conv bias", comp.name)
    sources = tuple(data_input(walk, comp, a, "operand")[0] for a in t.args)
    return Add(comp.name, sources), ["out"]


def read_multilevel(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    """``[where(theta > 0,] clip(floor(I / theta' + 1/2), 0, D) [, 0)]`` with the clip spelled
    ``where(relu(.) > D, D, relu(.))``; ``theta'`` a constant, ``[alpha *] mean(|I|)``, or that
    guarded as ``where(theta > 0, theta, 1)``. Only ``+ 1/2`` rounds as the layer does, and the
    clip must compare with the level it clips to."""
    t = comp.trees[-1]
    gated = op_is(t, "where") and op_is(t.args[1], "where")
    if gated:
        t = t.args[1]
    over, levels_const, low = t.args
    if not (isinstance(levels_const, Const) and op_is(low, "nn.relu") and op_is(over, "greater")
            and isinstance(over.args[1], Const)
            and scalar(over.args[1].value) == scalar(levels_const.value)):
        raise unsupported("MultiLevelSpike clip", comp.name)
    levels = int(scalar(levels_const.value))
    scaled, half = const_pair(low.args[0].args[0]) or (None, None)  # floor(add(...))
    if not op_is(scaled, "divide") or half is None or scalar(half) != 0.5:
        raise unsupported("MultiLevelSpike rounding (only floor(x + 0.5))", comp.name)
    current, divisor = scaled.args
    src, _ = data_input(walk, comp, current, "input")
    if isinstance(divisor, Const):
        if gated:
            raise unsupported("MultiLevelSpike threshold", comp.name)
        return MultiLevelSpike(comp.name, (src,), levels=levels, axis=None,
                               theta=scalar(divisor.value)), ["out"]
    theta_tree = divisor.args[1] if op_is(divisor, "where") else divisor
    if op_is(theta_tree, "mean"):
        mean_tree, alpha = theta_tree, np.float32(1.0)
    else:
        mean_tree, alpha = const_pair(theta_tree) or (None, None)
    if not op_is(mean_tree, "mean") or alpha is None:
        raise unsupported("MultiLevelSpike threshold", comp.name)
    axes = mean_tree.attrs.get("axis") or []
    if len(axes) != 1:
        raise unsupported("MultiLevelSpike mean over several axes", comp.name)
    rank = rank_of(comp)
    axis = int(axes[0])
    axis = axis if axis < 0 else axis - 1  # drop the batch axis
    if axis < -rank or axis >= rank:
        raise ShapeError("MultiLevelSpike axis is the batch axis", comp.name)
    if axis >= 0:
        axis -= rank
    return MultiLevelSpike(comp.name, (src,), levels=levels, alpha=scalar(alpha),
                           axis=axis), ["out"]


def _split_heads(t: Any, perm: list[int], name: str) -> tuple[Any, tuple]:
    """(source tree, split shape) of ``permute_dims(reshape(x, shape), perm)``."""
    if not (op_is(t, "permute_dims") and t.attrs.get("axes") == perm
            and op_is(t.args[0], "reshape")):
        raise unsupported("SpikingSelfAttention head layout", name)
    return t.args[0].args[0], tuple(t.args[0].args[1])


def _key_heads(t: Any, name: str) -> tuple[Any, tuple]:
    """K heads transposed: ``permute(reshape(K), [0,2,3,1])`` or
    ``permute(permute(reshape(K), [0,2,1,3]), [0,1,3,2])``."""
    if op_is(t, "permute_dims") and t.attrs.get("axes") == [0, 1, 3, 2]:
        return _split_heads(t.args[0], [0, 2, 1, 3], name)
    return _split_heads(t, [0, 2, 3, 1], name)


def read_attention(walk: Walk, comp: Composite) -> tuple[Layer, list[str]]:
    """Split heads: ``reshape(permute(matmul(A, V_h), [0,2,1,3]))``, or one head without a
    split: ``matmul(A, V)``; ``A = (Q_h @ K_h^T) [* scale] * mask``. The split shape must be
    (L, heads, D/heads), the mask ``gamma_h ** |n - m|`` per head."""
    out = comp.trees[-1]
    split = op_is(out, "reshape")
    mixed = out.args[0].args[0] if split else out  # permute_dims(matmul(masked, v_heads))
    if split and not (op_is(out.args[0], "permute_dims")
                      and out.args[0].attrs.get("axes") == [0, 2, 1, 3]):
        raise unsupported("SpikingSelfAttention head layout", comp.name)
    if not op_is(mixed, "matmul"):
        raise unsupported("SpikingSelfAttention output", comp.name)
    masked, v_tree = mixed.args
    scaled, mask = const_pair(masked) or (None, None)
    scale = 1.0
    if op_is(scaled, "multiply") and const_pair(scaled) is not None:
        scores, factor = const_pair(scaled)
        scale = scalar(factor)
    else:
        scores = scaled
    if not op_is(scores, "matmul") or mask is None:
        raise unsupported("SpikingSelfAttention scores", comp.name)
    q_tree, k_tree = scores.args
    length = int(mask.shape[-1])
    if split:
        q_tree, q_shape = _split_heads(q_tree, [0, 2, 1, 3], comp.name)
        k_tree, k_shape = _key_heads(k_tree, comp.name)
        v_tree, v_shape = _split_heads(v_tree, [0, 2, 1, 3], comp.name)
        heads = int(mask.shape[0]) if mask.ndim == 3 else 1
        dim = int(comp.out_shape[-1]) if comp.out_shape is not None else -1
        if any(tuple(sh[1:]) != (length, heads, dim // heads) for sh in
               (q_shape, k_shape, v_shape)):
            raise unsupported("SpikingSelfAttention head split (needs (L, heads, D/heads))",
                               comp.name)
    else:
        if not (op_is(k_tree, "permute_dims") and k_tree.attrs.get("axes") == [0, 2, 1]):
            raise unsupported("SpikingSelfAttention key transpose", comp.name)
        k_tree, heads = k_tree.args[0], 1
    mask = mask.reshape(-1, length, length)
    if mask.shape[0] != heads:
        raise unsupported("attention mask that is not gamma**|n-m| per head", comp.name)
    sources = tuple(data_input(walk, comp, t, "Q/K/V")[0] for t in (q_tree, k_tree, v_tree))
    gammas = mask[:, 0, 1].astype(F32) if length > 1 else np.ones(heads, F32)
    layer = SpikingSelfAttention(comp.name, sources, heads=int(heads), scale=scale,
                                 gammas=gammas)
    if not np.allclose(layer.decay_mask(length), mask, rtol=1e-6, atol=0):
        raise unsupported("attention mask that is not gamma**|n-m| per head", comp.name)
    return layer, ["out"]

