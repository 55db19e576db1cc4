"""Dtype-generic synapse kernels shared by the float and integer executors.

They accept float32 or int64 arrays with a leading batch axis and keep the dtype, so the integer
executor gets exact integer arithmetic from the very same code.

Integer products run on the float BLAS when that is exact: numpy's integer matmul has no BLAS
and is an order of magnitude slower. A float sum of integer terms is exact, in any order, while
every partial sum stays below the format's integer limit (2^24 for float32, 2^53 for float64);
``max|x| * max_o sum_i |W[o, i]|`` bounds every partial sum of every output. Beyond both limits
the int64 path runs, so results are always the int64 ones.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Integer limits of float32 / float64 with a factor 2 margin for the float64 bound's own error.
_EXACT_FLOATS = ((np.float32, float(1 << 23)), (np.float64, float(1 << 52)))


def exact_float_type(x: np.ndarray, weight_rows: np.ndarray) -> type[np.floating] | None:
    """The smallest float type whose BLAS computes ``x @ weight_rows.T`` exactly, for integer
    operands; None for float operands or when no float type is exact."""
    if x.dtype.kind not in "iu" or x.size == 0 or weight_rows.size == 0:
        return None
    peak_x = max(abs(int(x.max())), abs(int(x.min())))
    row_sums = np.abs(weight_rows.astype(np.float64)).sum(axis=1)
    bound = peak_x * float(row_sums.max())
    for ftype, limit in _EXACT_FLOATS:
        if bound < limit:
            return ftype
    return None


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``x @ W.T + b`` over the last axis."""
    ftype = exact_float_type(x, weight)
    if ftype is None:
        y = np.matmul(x, weight.T.astype(x.dtype, copy=False))
    else:
        y = np.matmul(x.astype(ftype), weight.T.astype(ftype)).astype(x.dtype)
    if bias is not None:
        y = y + bias.astype(x.dtype, copy=False)
    return y


def _pad(x: np.ndarray, padding: tuple[int, int, int, int], value: float = 0) -> np.ndarray:
    top, left, bottom, right = padding
    if not any(padding):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int] = (1, 1)) -> np.ndarray:
    """(B, C, H, W) -> (B, C, Ho, Wo, kh, kw) view of the receptive fields."""
    kh, kw = kernel
    dh, dw = dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    win = sliding_window_view(x, span, axis=(2, 3))
    return win[:, :, :: stride[0], :: stride[1], ::dh, ::dw]


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
           stride: tuple[int, int], padding: tuple[int, int, int, int],
           dilation: tuple[int, int], groups: int) -> np.ndarray:
    """ONNX Conv (NCHW, OIHW) for one batch of samples."""
    out_c, in_per_group, kh, kw = weight.shape
    ftype = exact_float_type(x, weight.reshape(out_c, -1))
    if ftype is not None:
        y = _conv2d_gemm(x.astype(ftype), weight.astype(ftype), stride, padding, dilation,
                         groups).astype(x.dtype)
        return y if bias is None else y + bias.astype(x.dtype)[None, :, None, None]
    win = _windows(_pad(x, padding), (kh, kw), stride, dilation)
    w = weight.astype(x.dtype, copy=False)
    out_per_group = out_c // groups
    parts = []
    for g in range(groups):
        wg = w[g * out_per_group:(g + 1) * out_per_group]
        xg = win[:, g * in_per_group:(g + 1) * in_per_group]
        parts.append(np.einsum("bchwij,ocij->bohw", xg, wg, optimize=True))
    y = parts[0] if groups == 1 else np.concatenate(parts, axis=1)
    if bias is not None:
        y = y + bias.astype(x.dtype, copy=False)[None, :, None, None]
    return y


def _conv2d_gemm(x: np.ndarray, weight: np.ndarray, stride: tuple[int, int],
                 padding: tuple[int, int, int, int], dilation: tuple[int, int],
                 groups: int) -> np.ndarray:
    """Convolution as one BLAS product per group over the unfolded windows (im2col). Only for
    integer values held exactly in floats: it sums in another order than the float kernel."""
    out_c, in_per_group, kh, kw = weight.shape
    win = _windows(_pad(x, padding), (kh, kw), stride, dilation)
    batch, _, out_h, out_w = win.shape[:4]
    per_group = out_c // groups
    parts = []
    for g in range(groups):
        cols = win[:, g * in_per_group:(g + 1) * in_per_group].transpose(0, 2, 3, 1, 4, 5)
        cols = cols.reshape(batch * out_h * out_w, in_per_group * kh * kw)
        wg = weight[g * per_group:(g + 1) * per_group].reshape(per_group, -1)
        parts.append((cols @ wg.T).reshape(batch, out_h, out_w, per_group))
    y = parts[0] if groups == 1 else np.concatenate(parts, axis=3)
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2))


def pool2d(x: np.ndarray, pool: str, kernel: tuple[int, int], stride: tuple[int, int],
           padding: tuple[int, int, int, int], integer: bool = False) -> np.ndarray:
    """Max / sum / average pooling. In integer mode average pooling returns the window *sum*
    (the 1/area factor is folded into the next layer's scale by the quantizer)."""
    if pool == "max":
        fill = np.iinfo(np.int64).min if x.dtype.kind == "i" else -np.inf
        win = _windows(_pad(x, padding, fill), kernel, stride)
        return win.max(axis=(-2, -1))
    win = _windows(_pad(x, padding), kernel, stride)
    total = win.sum(axis=(-2, -1))
    if pool == "avg" and not integer:
        return (total / np.float32(kernel[0] * kernel[1])).astype(x.dtype)
    return total.astype(x.dtype, copy=False)


class ExactDense:
    """``x @ W.T + b`` of integers, with the float BLAS wherever it is exact, for a layer that
    runs on many blocks of values: the bound's row sums and the float copies of the weights
    are made once.

    ``apply`` takes integer values in any dtype (bool spikes, int64, or floats holding
    integers below 2^52) and a bound on their magnitude (None: computed from them), and
    returns the integers in float32 or float64 when exact (a float result then holds integers
    below 2^52), else in int64; and a bound on the result's magnitude. As in :func:`dense`,
    the result is always the int64 one.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None) -> None:
        self.weight = np.asarray(weight, np.int64)
        self.bias = None if bias is None else np.asarray(bias, np.int64)
        self.bias_peak = 0 if self.bias is None else _peak(self.bias)
        self.row_sum = _row_sum(self.weight)
        self._transposed: dict[type, np.ndarray] = {}

    def transposed(self, ftype: type[np.floating]) -> np.ndarray:
        if ftype not in self._transposed:
            self._transposed[ftype] = np.ascontiguousarray(self.weight.T.astype(ftype))
        return self._transposed[ftype]

    def apply(self, x: np.ndarray, peak: int | None) -> tuple[np.ndarray, int]:
        flat = x.reshape(-1, x.shape[-1])
        if peak is None or peak * self.row_sum + self.bias_peak >= _FLOAT64_EXACT:
            peak = min(_peak(flat), peak) if peak is not None else _peak(flat)
        bound = peak * self.row_sum
        if bound + self.bias_peak < _FLOAT64_EXACT:
            ftype = np.float32 if bound < _EXACT_FLOATS[0][1] else np.float64
            y = np.matmul(flat.astype(ftype, copy=False), self.transposed(ftype))
            if self.bias is not None:  # in float64: the bias may have more bits than float32
                y = np.add(y, self.bias, dtype=np.float64)
        else:
            y = np.matmul(flat.astype(np.int64, copy=False), self.weight.T)
            if self.bias is not None:
                y = y + self.bias
        return y.reshape(*x.shape[:-1], y.shape[-1]), bound + self.bias_peak


# Every float result of ExactDense is an integer below this (half of float64's 2^53).
_FLOAT64_EXACT = 1 << 52


def _peak(x: np.ndarray) -> int:
    """``max |x|`` as a Python integer (0 for an empty array)."""
    if x.size == 0:
        return 0
    return max(abs(int(x.max())), abs(int(x.min())))


def _row_sum(weight: np.ndarray) -> int:
    """``max_o sum_i |W[o, i]|`` exactly, or an upper bound where int64 sums could overflow."""
    if weight.size == 0:
        return 0
    peak = _peak(weight)
    if peak * weight.shape[1] < 1 << 62:
        return int(np.abs(weight).sum(axis=1).max())
    return peak * weight.shape[1]
