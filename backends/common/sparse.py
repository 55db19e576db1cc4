"""Exact integer sparse matrices in coordinate form: the one sparse format of stage composition.

A linear layer (Dense, Conv2d, sum/average pooling) is a matrix over flattened tensors, built here
from its index arithmetic (never by pushing unit vectors through kernels, which costs one kernel
call per source neuron: quadratic in the layer size). Everything is int64 and exact, so a
composed stage computes the same integers as running the layers one after another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse as scipy_sparse

I64 = np.int64


@dataclass(frozen=True, eq=False)
class Coo:
    """``shape = (n_out, n_in)``; entry ``k`` says ``out[rows[k]] += vals[k] * in[cols[k]]``.

    Coalesced: (row, col) pairs are unique, sorted row-major, and no value is zero.
    """

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.rows.size)

    def transpose(self) -> Coo:
        return coalesce(self.cols, self.rows, self.vals, (self.shape[1], self.shape[0]))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``self @ x`` for a vector ``x`` of length ``n_in`` (exact int64)."""
        out = np.zeros(self.shape[0], I64)
        np.add.at(out, self.rows, self.vals * np.asarray(x, I64)[self.cols])
        return out

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, I64)
        np.add.at(out, (self.rows, self.cols), self.vals)
        return out


def coalesce(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
             shape: tuple[int, int]) -> Coo:
    """Sum duplicate coordinates, drop zeros, sort row-major."""
    rows = np.asarray(rows, I64)
    cols = np.asarray(cols, I64)
    vals = np.asarray(vals, I64)
    if rows.size == 0:
        empty = np.zeros(0, I64)
        return Coo(empty, empty, empty, shape)
    flat = rows * shape[1] + cols
    if not np.all(flat[1:] > flat[:-1]):  # builders usually emit sorted, unique coordinates
        order = np.argsort(flat, kind="stable")
        flat, vals = flat[order], vals[order]
    starts = np.flatnonzero(np.concatenate(([True], flat[1:] != flat[:-1])))
    sums = np.add.reduceat(vals, starts)
    keys = flat[starts]
    keep = sums != 0
    keys, sums = keys[keep], sums[keep]
    return Coo(keys // shape[1], keys % shape[1], sums, shape)


def identity(n: int) -> Coo:
    idx = np.arange(n, dtype=I64)
    return Coo(idx, idx, np.ones(n, I64), (n, n))


def is_identity(a: Coo) -> bool:
    n = a.shape[0]
    return (a.shape == (n, n) and a.nnz == n and bool(np.all(a.rows == a.cols))
            and bool(np.all(a.vals == 1)))


def add(a: Coo, b: Coo) -> Coo:
    if a.shape != b.shape:
        raise ValueError(f"cannot add matrices of shapes {a.shape} and {b.shape}")
    return coalesce(np.concatenate((a.rows, b.rows)), np.concatenate((a.cols, b.cols)),
                    np.concatenate((a.vals, b.vals)), a.shape)


def matmul(a: Coo, b: Coo) -> Coo:
    """``a @ b``, exact in int64 (scipy's sparse product accumulates per output row, so the
    memory is that of the result, not of every partial product)."""
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"cannot multiply {a.shape} by {b.shape}")
    if is_identity(b):
        return a
    prod = (_csr(a) @ _csr(b)).tocoo()
    return coalesce(prod.row, prod.col, prod.data, (a.shape[0], b.shape[1]))


def _csr(a: Coo) -> scipy_sparse.csr_matrix:
    return scipy_sparse.csr_matrix((a.vals, (a.rows, a.cols)), shape=a.shape, dtype=I64)


def dense_matrix(weight: np.ndarray, lead: int) -> Coo:
    """``y = x @ W.T`` over the last axis, repeated for ``lead`` leading positions."""
    out_f, in_f = weight.shape
    # the flat indices of a boolean mask, split into (row, column): several times faster than
    # np.nonzero on the int64 matrix, in the same row-major order
    flat = np.flatnonzero(np.asarray(weight) != 0)
    o, i = flat // in_f, flat % in_f
    w = np.asarray(weight, I64).reshape(-1)[flat]
    base = np.arange(lead, dtype=I64)[:, None]
    rows = (base * out_f + o[None, :]).ravel()
    cols = (base * in_f + i[None, :]).ravel()
    # Already coalesced: np.nonzero lists unique non-zero entries row-major, and the blocks of
    # the leading positions follow one another down the diagonal.
    return Coo(rows, cols, np.tile(w, lead), (lead * out_f, lead * in_f))


def _window_taps(in_hw: tuple[int, int], out_hw: tuple[int, int], kernel: tuple[int, int],
                 stride: tuple[int, int], padding: tuple[int, int, int, int],
                 dilation: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """All (out position, kernel tap, input position) triples that land inside the input."""
    (h, w), (ho, wo) = in_hw, out_hw
    oy, ox, ky, kx = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(kernel[0]),
                                 np.arange(kernel[1]), indexing="ij")
    iy = oy * stride[0] - padding[0] + ky * dilation[0]
    ix = ox * stride[1] - padding[1] + kx * dilation[1]
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    return (np.asarray(oy[ok], I64), np.asarray(ox[ok], I64), np.asarray(ky[ok], I64),
            np.asarray(kx[ok], I64), np.asarray(iy[ok], I64), np.asarray(ix[ok], I64))


def conv_matrix(weight: np.ndarray, in_shape: tuple[int, int, int],
                out_shape: tuple[int, int, int], stride: tuple[int, int],
                padding: tuple[int, int, int, int], dilation: tuple[int, int],
                groups: int) -> Coo:
    """ONNX Conv (zero padding) on one (C, H, W) sample as a matrix over flattened tensors."""
    out_c, in_per_group, kh, kw = weight.shape
    c, h, w = in_shape
    _, ho, wo = out_shape
    oy, ox, ky, kx, iy, ix = _window_taps((h, w), (ho, wo), (kh, kw), stride, padding, dilation)
    o, cg, wy, wx = np.nonzero(weight)
    o, cg, wy, wx = (np.asarray(a, I64) for a in (o, cg, wy, wx))
    vals = np.asarray(weight, I64)[o, cg, wy, wx]
    ci = (o // (out_c // groups)) * in_per_group + cg
    # Pair every non-zero weight with every output position whose tap uses it.
    tap_id = ky * kw + kx
    order = np.argsort(tap_id, kind="stable")
    tap_sorted = tap_id[order]
    w_tap = wy * kw + wx
    lo = np.searchsorted(tap_sorted, w_tap, side="left")
    hi = np.searchsorted(tap_sorted, w_tap, side="right")
    n = hi - lo
    w_idx = np.repeat(np.arange(vals.size, dtype=I64), n)
    first = np.repeat(np.cumsum(n) - n, n)
    pos = order[np.repeat(lo, n) + (np.arange(int(n.sum()), dtype=I64) - first)]
    rows = (o[w_idx] * ho + oy[pos]) * wo + ox[pos]
    cols = (ci[w_idx] * h + iy[pos]) * w + ix[pos]
    return coalesce(rows, cols, vals[w_idx], (out_c * ho * wo, c * h * w))


def sum_pool_matrix(in_shape: tuple[int, int, int], out_shape: tuple[int, int, int],
                    kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int, int, int]) -> Coo:
    """Window sums (zero padding) per channel: the integer form of sum and average pooling."""
    c, h, w = in_shape
    _, ho, wo = out_shape
    oy, ox, _, _, iy, ix = _window_taps((h, w), (ho, wo), kernel, stride, padding, (1, 1))
    ch = np.arange(c, dtype=I64)[:, None]
    rows = ((ch * ho + oy[None, :]) * wo + ox[None, :]).ravel()
    cols = ((ch * h + iy[None, :]) * w + ix[None, :]).ravel()
    return coalesce(rows, cols, np.ones(rows.size, I64), (c * ho * wo, c * h * w))
