"""Exact integer sparse matrices in coordinate form: the one sparse format of stage composition.

A linear layer (Dense, Conv2d, sum/average pooling) is a matrix over flattened tensors, built here
from its index arithmetic (never by pushing unit vectors through kernels, which costs one kernel
call per source neuron: quadratic in the layer size). Arithmetic is int64 and exact, so a
composed stage computes the same integers as running the layers one after another. A dense
layer's matrix is stored compactly (int32 coordinates, values in the quantized weights' own
narrow type): for a board-size network it is the largest object the compiler holds, and
whoever computes with its values widens them first (:meth:`Coo.wide_vals`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse as scipy_sparse

I64 = np.int64
I32 = np.int32
BLOCK = 1 << 20  # entries per block where a whole-matrix temporary would be as large as it


@dataclass(frozen=True, eq=False)
class Coo:
    """``shape = (n_out, n_in)``; entry ``k`` says ``out[rows[k]] += vals[k] * in[cols[k]]``.

    Coalesced: (row, col) pairs are unique, sorted row-major, and no value is zero. Coordinates
    are int32 or int64 and values any signed integer type (see the module doc).
    """

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.rows.size)

    def row_starts(self, bounds: list[int]) -> np.ndarray:
        """Where the entries of each row in ``bounds`` start (rows are sorted): the entries of
        rows ``bounds[i]..bounds[i+1]-1`` are ``[starts[i], starts[i+1])``. The bounds are cast
        to the coordinates' type (searching with wider keys would copy every row index)."""
        return np.searchsorted(self.rows, np.asarray(bounds, self.rows.dtype))

    def wide_vals(self) -> np.ndarray:
        """The values as int64, for arithmetic (a view when they already are)."""
        return np.asarray(self.vals, I64)

    def transpose(self) -> Coo:
        """The transposed matrix, in the same storage types (a counting sort by column: no
        int64 keys or argsort over all entries)."""
        n_out, n_in = self.shape
        if self.nnz == 0:
            return Coo(self.cols, self.rows, self.vals, (n_in, n_out))
        ptr = np.zeros(n_out + 1, I64)
        np.cumsum(np.bincount(self.rows, minlength=n_out), out=ptr[1:])
        csc = scipy_sparse.csr_matrix((self.vals, self.cols, ptr), shape=self.shape).tocsc()
        index = index_type(n_in, n_out)
        rows = np.repeat(np.arange(n_in, dtype=index), np.diff(csc.indptr))
        return Coo(rows, csc.indices.astype(index, copy=False), csc.data, (n_in, n_out))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``self @ x`` for a vector ``x`` of length ``n_in`` (exact int64), block by block."""
        out = np.zeros(self.shape[0], I64)
        x = np.asarray(x, I64)
        if not np.any(x):
            return out
        for start in range(0, self.nnz, BLOCK):
            part = slice(start, start + BLOCK)
            np.add.at(out, self.rows[part], np.asarray(self.vals[part], I64) * x[self.cols[part]])
        return out

    def abs_sums(self, axis: int) -> np.ndarray:
        """Sum of |values| per row (``axis=1``, length n_out) or per column (``axis=0``),
        exact int64, block by block."""
        index = self.rows if axis == 1 else self.cols
        out = np.zeros(self.shape[0 if axis == 1 else 1], I64)
        for start in range(0, self.nnz, BLOCK):
            part = slice(start, start + BLOCK)
            np.add.at(out, index[part], np.abs(np.asarray(self.vals[part], I64)))
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


def index_type(*sizes: int) -> np.dtype:
    """The narrowest of int16, int32 and int64 indexing every one of ``sizes`` positions."""
    top = max(sizes, default=0)
    return np.dtype(next(t for t in (np.int16, I32, I64) if top <= np.iinfo(t).max))


def dense_matrix(weight: np.ndarray, lead: int) -> Coo:
    """``y = x @ W.T`` over the last axis, repeated for ``lead`` leading positions; the values
    keep an integer ``weight``'s type (float or bool weights become int64).

    Built a block of weight rows at a time into arrays of the final size: the only
    whole-matrix arrays are the result's own.
    """
    weight = np.asarray(weight)
    if not np.issubdtype(weight.dtype, np.signedinteger):
        weight = weight.astype(I64)
    out_f, in_f = weight.shape
    index = index_type(lead * out_f, lead * in_f)
    per_row = max(1, BLOCK // max(1, in_f))
    counts = np.concatenate([np.count_nonzero(weight[r:r + per_row], axis=1)
                             for r in range(0, out_f, per_row)] or [np.zeros(0, I64)])
    nnz = int(counts.sum())
    rows = np.empty(lead * nnz, index)
    cols = np.empty(lead * nnz, index)
    vals = np.empty(lead * nnz, weight.dtype)
    at = 0
    # Row-major and unique within a position; the positions' blocks follow one another down
    # the diagonal: already coalesced.
    for pos in range(lead):
        for r in range(0, out_f, per_row):
            block = weight[r:r + per_row]
            o, i = np.nonzero(block)
            end = at + o.size
            rows[at:end] = o + (pos * out_f + r)
            cols[at:end] = i + pos * in_f
            vals[at:end] = block[o, i]
            at = end
    return Coo(rows, cols, vals, (lead * out_f, lead * in_f))


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
