"""What a PE's MAC accelerator computes for one op of a MAC program (exact int64 numpy).

These are the integer layer semantics of ``docs/numerics.md`` written for a batch of dense
input buffers: the PE runs them on its sources' latest outputs to produce its stage output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from snnc.backends.spinnaker2.image import ProgramOp

I64 = np.int64
_LOWEST = np.iinfo(np.int64).min


def _pad(x: np.ndarray, padding: tuple[int, ...], value: int) -> np.ndarray:
    top, left, bottom, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _taps(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
          dilation: tuple[int, int], out_hw: tuple[int, int]) -> list[tuple[int, int, np.ndarray]]:
    """For every kernel tap (ky, kx), the strided input plane it multiplies."""
    ho, wo = out_hw
    taps = []
    for ky in range(kernel[0]):
        for kx in range(kernel[1]):
            y0, x0 = ky * dilation[0], kx * dilation[1]
            plane = x[:, :, y0:y0 + stride[0] * (ho - 1) + 1:stride[0],
                      x0:x0 + stride[1] * (wo - 1) + 1:stride[1]]
            taps.append((ky, kx, plane))
    return taps


def dense(op: ProgramOp, x: np.ndarray) -> np.ndarray:
    y = np.matmul(x, op.tensors["weight"].T)
    return y + op.tensors["bias"] if "bias" in op.tensors else y


def conv(op: ProgramOp, x: np.ndarray) -> np.ndarray:
    w = op.tensors["weight"]
    groups = op.params["groups"][0]
    out_c, per_group = w.shape[0], w.shape[1]
    out_hw = (op.shape[1], op.shape[2])
    xp = _pad(x, op.params["padding"], 0)
    y = np.zeros((x.shape[0], *op.shape), I64)
    step = out_c // groups
    for g in range(groups):
        xg = xp[:, g * per_group:(g + 1) * per_group]
        wg = w[g * step:(g + 1) * step]
        for ky, kx, plane in _taps(xg, w.shape[2:], op.params["stride"],
                                   op.params["dilation"], out_hw):
            y[:, g * step:(g + 1) * step] += np.einsum("bchw,oc->bohw", plane, wg[:, :, ky, kx])
    if "bias" in op.tensors:
        y += op.tensors["bias"][None, :, None, None]
    return y


def _pool(op: ProgramOp, x: np.ndarray, fill: int, combine: Callable) -> np.ndarray:
    xp = _pad(x, op.params["padding"], fill)
    planes = _taps(xp, op.params["kernel"], op.params["stride"], (1, 1),
                   (op.shape[1], op.shape[2]))
    out = planes[0][2].copy()
    for _, _, plane in planes[1:]:
        out = combine(out, plane)
    return out


def maxpool(op: ProgramOp, x: np.ndarray) -> np.ndarray:
    return _pool(op, x, _LOWEST, np.maximum)


def sumpool(op: ProgramOp, x: np.ndarray) -> np.ndarray:
    return _pool(op, x, 0, np.add)


def attention(op: ProgramOp, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Per head: ``((Q K^T) * mask) V >> mask_frac_bits`` on (B, L, D) spike tensors."""
    heads = op.params["heads"][0]
    b, length, d = q.shape
    split = (b, length, heads, d // heads)
    qh, kh, vh = (t.reshape(split).transpose(0, 2, 1, 3) for t in (q, k, v))
    scores = np.matmul(qh, kh.transpose(0, 1, 3, 2)) * op.tensors["mask"][None]
    out = np.matmul(scores, vh) >> op.params["mask_frac_bits"][0]
    return out.transpose(0, 2, 1, 3).reshape(b, length, d)


def op_macs(op: ProgramOp) -> int:
    """Multiply-accumulates one run of ``op`` takes per sample on the MAC array (dense and
    convolution; pooling, reshapes and adds are not MACs, attention products are counted as
    the two matrix products of every head)."""
    if op.opcode in ("dense", "conv"):
        weight = op.tensors["weight"]
        per_output = int(np.prod(weight.shape[1:]))
        return int(np.prod(op.shape)) * per_output
    if op.opcode == "attention":
        length, dim = op.shape[-2], op.shape[-1]
        return 2 * length * length * dim
    return 0


def run_op(op: ProgramOp, args: list[np.ndarray], biased: bool = True) -> np.ndarray:
    """Output of ``op`` (batch-leading) from its input tensors; without its bias before the
    stage's bias onset (``biased`` False)."""
    batch = args[0].shape[0]
    if not biased and "bias" in op.tensors:
        op = replace(op, tensors={k: v for k, v in op.tensors.items() if k != "bias"})
    if op.opcode == "reshape":
        return args[0].reshape((batch, *op.shape))
    if op.opcode == "add":
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total
    if op.opcode == "attention":
        return attention(op, *args)
    return _UNARY[op.opcode](op, args[0])


_UNARY: Mapping[str, Callable[[ProgramOp, np.ndarray], np.ndarray]] = {
    "dense": dense, "conv": conv, "maxpool": maxpool, "sumpool": sumpool}
