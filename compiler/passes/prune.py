"""Magnitude pruning to a sparse (CSR) weight format.

Every Dense / Conv2d weight with ``|w| < threshold * max|W|`` (``relative``, the default: one
threshold fits layers of any scale) or ``|w| < threshold`` (absolute) becomes exactly zero.
Each weight layer is annotated with ``storage = "csr" | "dense"`` (whichever needs fewer bits
for the target's weight width, see :func:`storage_bits`), ``weight_density`` and
``pruned_weights``; :func:`to_csr` gives backends the CSR arrays.

Changes outputs: pruning is the one pass that does. :func:`agreement` measures by how much on
given inputs (identical output counts per sample, identical spikes, same predicted class), and
the pipeline records it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from snnc.errors import InputError
from snnc.ir.layers import Conv2d, Dense, Graph, nonzero_count
from snnc.reference.encode import encode
from snnc.reference.simulate import run_graph


@dataclass(frozen=True, eq=False)
class CSR:
    """Compressed sparse rows of a 2-D weight (conv kernels flattened to (O, C*kh*kw)):
    row ``r`` holds ``data[indptr[r]:indptr[r+1]]`` at columns ``indices[...]``."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, self.data.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out


def to_csr(weight: np.ndarray) -> CSR:
    """CSR of a Dense (O, I) or Conv2d (O, C, kh, kw) weight, row-major, sorted columns."""
    w2 = np.asarray(weight).reshape(weight.shape[0], -1)
    rows, cols = np.nonzero(w2)
    indptr = np.zeros(w2.shape[0] + 1, np.int64)
    np.add.at(indptr, rows + 1, 1)
    return CSR(indptr=np.cumsum(indptr), indices=cols.astype(np.int64), data=w2[rows, cols],
               shape=(int(w2.shape[0]), int(w2.shape[1])))


def _index_bits(n: int) -> int:
    """Smallest of 8/16/32 bits that holds indices ``0..n``."""
    need = max(1, int(n).bit_length())
    return next(b for b in (8, 16, 32, 64) if b >= need)


def storage_bits(rows: int, cols: int, nnz: int, weight_bits: int) -> dict[str, int]:
    """Bits of the dense and the CSR layout (byte-aligned column indices and row pointers)."""
    return {"dense": rows * cols * weight_bits,
            "csr": nnz * (weight_bits + _index_bits(cols - 1))
            + (rows + 1) * _index_bits(nnz)}


def prune(graph: Graph, threshold: float, relative: bool = True,
          weight_bits: int = 8) -> Graph:
    """Zero small weights and annotate the storage format (see module docstring)."""
    if not threshold >= 0:
        raise InputError(f"pruning threshold must be >= 0, got {threshold}")
    if relative and threshold > 1:
        raise InputError(f"a relative pruning threshold is a fraction of max|W| in [0, 1], "
                         f"got {threshold}")
    layers = []
    for lay in graph.layers:
        if isinstance(lay, Dense | Conv2d):
            layers.append(_prune_layer(lay, threshold, relative, weight_bits))
        else:
            layers.append(lay)
    return graph.replace_layers(layers)


def _prune_layer(lay: Dense | Conv2d, threshold: float, relative: bool,
                 weight_bits: int) -> Dense | Conv2d:
    w = lay.weight
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    cut = threshold * peak if relative else threshold
    pruned = np.where(np.abs(w) < cut, np.zeros((), w.dtype), w).astype(w.dtype, copy=False)
    rows = w.shape[0]
    cols = w.size // rows if rows else 0
    nnz = nonzero_count(pruned)
    bits = storage_bits(rows, cols, nnz, weight_bits)
    storage = "csr" if bits["csr"] < bits["dense"] else "dense"
    removed = nonzero_count(w) - nnz + int(lay.attrs.get("pruned_weights", 0))
    return replace(lay, weight=pruned).with_attrs(
        storage=storage, weight_density=nnz / w.size if w.size else 0.0,
        pruned_weights=removed, storage_bits=bits[storage])


@dataclass(frozen=True)
class Agreement:
    """How closely a pruned graph follows the original on some inputs."""

    samples: int
    output_equal: float  # fraction of samples with identical output counts
    prediction_equal: float  # fraction with the same arg-max output count
    spike_equal: float  # fraction of identical values over the output trace

    def as_dict(self) -> dict[str, float]:
        return {"samples": self.samples, "output_equal": self.output_equal,
                "prediction_equal": self.prediction_equal, "spike_equal": self.spike_equal}


def agreement(original: Graph, pruned: Graph, x: np.ndarray,
              steps: int | None = None) -> Agreement:
    """Compare the float reference runs of two graphs with the same input and output."""
    steps = steps or original.timesteps
    return agreement_on_drive(original, pruned, encode(x, steps, original.encoding,
                                                       original.input.shape))


def agreement_on_drive(original: Graph, pruned: Graph, drive: np.ndarray) -> Agreement:
    """:func:`agreement` on an encoded drive (steps, batch, *input_shape)."""
    a = run_graph(original, drive, record=False).output
    b = run_graph(pruned, drive, record=False).output
    batch = a.shape[1]
    ca, cb = a.sum(axis=0).reshape(batch, -1), b.sum(axis=0).reshape(batch, -1)
    return Agreement(
        samples=int(batch),
        output_equal=float(np.mean(np.all(ca == cb, axis=1))),
        prediction_equal=float(np.mean(ca.argmax(axis=1) == cb.argmax(axis=1))),
        spike_equal=float(np.mean(a == b)))
