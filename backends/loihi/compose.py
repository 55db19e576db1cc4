"""Compose a synaptic stage into one exact integer sparse matrix per source.

A stage is the linear layers (Dense, Conv2d, sum/average pooling, Flatten, Reshape, Add) between
its sources and the next neuron layer, so its value is affine in the sources' outputs:
``value(node) = sum_f M_f @ flat(f) + b``. Each layer's own matrix is built from its index
arithmetic (never by pushing unit vectors through kernels, which costs one kernel call per
source neuron: quadratic in the layer size), and the layers are multiplied as scipy CSR
matrices. All values are int64, which scipy multiplies and sums exactly, so the composed map
computes the very integers of ``snnc.reference.integer`` running the layers one by one (the
tests check it against such a run for every layer type).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import sparse

from snnc.ir.layers import Add, Conv2d, Dense, Flatten, Graph, Layer, Pool2d, Reshape
from snnc.ir.quantized import QuantizedGraph, QuantLayer

I64 = np.int64
Affine = tuple[dict[str, sparse.csr_matrix], np.ndarray]


def _csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
         shape: tuple[int, int]) -> sparse.csr_matrix:
    """Canonical CSR (duplicates summed, explicit zeros dropped, columns sorted), int64."""
    mat = sparse.coo_matrix((np.asarray(vals, I64), (rows, cols)), shape=shape).tocsr()
    mat.sum_duplicates()
    mat.eliminate_zeros()
    return mat


def dense_matrix(weight: np.ndarray, lead: int) -> sparse.csr_matrix:
    """``y = x @ W.T`` over the last axis of a (lead, in) tensor: block-diagonal in ``W``."""
    block = sparse.csr_matrix(np.asarray(weight, I64))
    if lead == 1:
        block.eliminate_zeros()
        return block
    return _canonical(sparse.kron(sparse.identity(lead, dtype=I64, format="csr"), block,
                                  format="csr"))


def _canonical(mat: sparse.spmatrix) -> sparse.csr_matrix:
    out = sparse.csr_matrix(mat, dtype=I64)
    out.sum_duplicates()
    out.eliminate_zeros()
    return out


def _is_identity(mat: sparse.csr_matrix) -> bool:
    n = mat.shape[0]
    return (mat.shape == (n, n) and mat.nnz == n and bool(np.all(mat.data == 1))
            and np.array_equal(mat.indptr, np.arange(n + 1))
            and np.array_equal(mat.indices, np.arange(n)))


def _taps(size_in: int, size_out: int, kernel: int, stride: int, pad_before: int,
          dilation: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per kernel offset ``k``: the output positions whose tap ``k`` lands inside the input
    (zero padding contributes nothing) and the input positions it reads."""
    out = np.arange(size_out, dtype=I64)
    taps = []
    for k in range(kernel):
        pos = out * stride - pad_before + k * dilation
        ok = (pos >= 0) & (pos < size_in)
        taps.append((out[ok], pos[ok]))
    return taps


def conv_matrix(weight: np.ndarray, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                stride: tuple[int, int], padding: tuple[int, int, int, int],
                dilation: tuple[int, int], groups: int) -> sparse.csr_matrix:
    """ONNX Conv (NCHW input, OIHW weight, zero padding ``(top, left, bottom, right)``) on one
    sample, as a (C_out*H_out*W_out, C_in*H*W) matrix: one entry per synapse."""
    w = np.asarray(weight, I64)
    out_c, in_per_group, kh, kw = w.shape
    _, h, wd = in_shape
    _, ho, wo = out_shape
    rows_y = _taps(h, ho, kh, stride[0], padding[0], dilation[0])
    rows_x = _taps(wd, wo, kw, stride[1], padding[1], dilation[1])
    per_group = out_c // groups
    rows, cols, vals = [], [], []
    for ky, (oy, iy) in enumerate(rows_y):
        for kx, (ox, ix) in enumerate(rows_x):
            o, ci = np.nonzero(w[:, :, ky, kx])
            if o.size == 0 or oy.size == 0 or ox.size == 0:
                continue
            c = (o // per_group) * in_per_group + ci
            out_pos = (oy[:, None] * wo + ox[None, :]).reshape(-1)
            in_pos = (iy[:, None] * wd + ix[None, :]).reshape(-1)
            rows.append((o[:, None] * (ho * wo) + out_pos[None, :]).reshape(-1))
            cols.append((c[:, None] * (h * wd) + in_pos[None, :]).reshape(-1))
            vals.append(np.repeat(w[o, ci, ky, kx], out_pos.size))
    shape = (out_c * ho * wo, in_shape[0] * h * wd)
    if not rows:
        return sparse.csr_matrix(shape, dtype=I64)
    return _csr(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), shape)


def sum_pool_matrix(in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                    kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int, int, int]) -> sparse.csr_matrix:
    """Window sums per channel (zero padding): the integer form of sum and average pooling."""
    channels, h, wd = in_shape
    _, ho, wo = out_shape
    rows, cols = [], []
    chan = np.arange(channels, dtype=I64)[:, None]
    for oy, iy in _taps(h, ho, kernel[0], stride[0], padding[0], 1):
        for ox, ix in _taps(wd, wo, kernel[1], stride[1], padding[1], 1):
            out_pos = (oy[:, None] * wo + ox[None, :]).reshape(-1)
            in_pos = (iy[:, None] * wd + ix[None, :]).reshape(-1)
            rows.append((chan * (ho * wo) + out_pos[None, :]).reshape(-1))
            cols.append((chan * (h * wd) + in_pos[None, :]).reshape(-1))
    shape = (channels * ho * wo, channels * h * wd)
    if not rows:
        return sparse.csr_matrix(shape, dtype=I64)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return _csr(r, c, np.ones(r.size, I64), shape)


def layer_affine(graph: Graph, layer: Layer,
                 q: QuantLayer) -> tuple[sparse.csr_matrix, np.ndarray | None]:
    """A single-input linear layer as (matrix over flattened tensors, bias or None)."""
    (src,) = layer.inputs
    in_shape, out_shape = graph.shape(src), graph.shape(layer.name)
    if isinstance(layer, Dense):
        lead = math.prod(in_shape[:-1])
        bias = None if q.bias is None else np.tile(np.asarray(q.bias, I64).reshape(-1), lead)
        return dense_matrix(np.asarray(q.weight, I64), lead), bias
    if isinstance(layer, Conv2d):
        mat = conv_matrix(np.asarray(q.weight, I64), in_shape, out_shape, layer.stride,
                          layer.padding, layer.dilation, layer.groups)
        bias = None if q.bias is None else np.repeat(np.asarray(q.bias, I64).reshape(-1),
                                                     out_shape[1] * out_shape[2])
        return mat, bias
    if isinstance(layer, Pool2d) and layer.pool in ("sum", "avg"):
        return sum_pool_matrix(in_shape, out_shape, layer.kernel, layer.stride,
                               layer.padding), None
    raise TypeError(f"layer '{layer.name}' ({type(layer).__name__}) has no affine form")


class StageComposer:
    """Affine maps of stage values over a fixed frontier, memoised per layer.

    ``frontier`` layers are the stage's inputs (sources, or an attention layer whose value is
    given); every other layer reached must be linear.
    """

    def __init__(self, qg: QuantizedGraph, frontier: tuple[str, ...]) -> None:
        self.qg = qg
        self.graph = qg.graph
        self.frontier = frozenset(frontier)
        self.memo: dict[str, Affine] = {}

    def affine(self, name: str) -> Affine:
        if name not in self.memo:
            self.memo[name] = self._build(name)
        return self.memo[name]

    def _build(self, name: str) -> Affine:
        graph = self.graph
        n = graph.size(name)
        if name in self.frontier:
            return {name: sparse.identity(n, dtype=I64, format="csr")}, np.zeros(n, I64)
        layer = graph.layer(name)
        if isinstance(layer, Flatten | Reshape):
            return self.affine(layer.inputs[0])
        if isinstance(layer, Add):
            maps: dict[str, sparse.csr_matrix] = {}
            bias = np.zeros(n, I64)
            for src in layer.inputs:
                part, b = self.affine(src)
                for key, mat in part.items():
                    maps[key] = _canonical(maps[key] + mat) if key in maps else mat
                bias = bias + b
            return maps, bias
        mat, own_bias = layer_affine(graph, layer, self.qg.layers.get(name, QuantLayer()))
        maps_in, bias_in = self.affine(layer.inputs[0])
        maps = {key: mat if _is_identity(m) else _canonical(mat @ m)
                for key, m in maps_in.items()}
        bias = np.asarray(mat @ bias_in, I64)
        if own_bias is not None:
            bias = bias + own_bias
        return maps, bias


def coo_rows(mat: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, values) of a canonical CSR matrix, row-major, as int64."""
    counts = np.diff(mat.indptr)
    rows = np.repeat(np.arange(mat.shape[0], dtype=I64), counts)
    return rows, np.asarray(mat.indices, I64), np.asarray(mat.data, I64)


def compose(qg: QuantizedGraph, node: str,
            frontier: tuple[str, ...]) -> tuple[Mapping[str, tuple[np.ndarray, ...]], np.ndarray]:
    """Per frontier layer the COO ``(rows, cols, values)`` of its matrix into ``node`` (shape
    (size(node), size(f)), row-major, no zero values) and the stage's constant bias."""
    composer = StageComposer(qg, frontier)
    maps, bias = composer.affine(node)
    size = qg.graph.size(node)
    out = {}
    for f in frontier:
        mat = maps.get(f)
        if mat is None:
            mat = sparse.csr_matrix((size, qg.graph.size(f)), dtype=I64)
        out[f] = coo_rows(mat)
    return out, np.asarray(bias, I64).reshape(-1)
