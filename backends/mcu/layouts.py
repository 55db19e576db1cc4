"""Weight layouts and scratch sizes of the runtime's int8 kernels (``runtime_c/snnc_dense.h``).

The layout of a weight array depends on the core's kernel set (``Core.kernels``): cores with
the DSP extension read dense weights in blocks of four rows interleaved per group of four
inputs (each SMLAD pair of a block then needs one word load), cores with Helium and portable C
read them row-major. Every function here mirrors one comment of ``snnc_dense.h``.
"""

from __future__ import annotations

import numpy as np

INT16_LO, INT16_HI = -(1 << 15), (1 << 15) - 1
# Zero bytes after a CSR value array on DSP cores: the kernel loads the last n % 4 weights of
# an input as one word, which may reach three bytes past the array's last weight.
CSR_WORD_PADDING = 3


def blocked4(w: np.ndarray) -> np.ndarray:
    """W (n_out, n_in) in the layout of ``snnc_dense_blk4_s8_s32``: rows 4b..4b+3 form block
    b, whose groups of four inputs hold 16 bytes (row 4b's four weights, then row 4b+1's, ...),
    followed by the four rows' last n_in % 4 weights row by row; the n_out % 4 rows after the
    last block follow row-major. A permutation: the result has exactly W's values."""
    n_out, n_in = w.shape
    groups, blocks = n_in // 4, n_out // 4
    body = w[:4 * blocks]
    head = body[:, :4 * groups].reshape(blocks, 4, groups, 4).transpose(0, 2, 1, 3)
    tail = body[:, 4 * groups:].reshape(blocks, 4 * (n_in - 4 * groups))
    parts = np.concatenate([head.reshape(blocks, 16 * groups), tail], axis=1)
    return np.concatenate([parts.reshape(-1), w[4 * blocks:].reshape(-1)])


def dense_scratch_words(n_in: int) -> int:
    """SNNC_DENSE_SCRATCH: the input widened to 16-bit pairs, two words per four inputs."""
    return (n_in + 3) // 4 * 2


def event16_scratch_words(n_out: int) -> int:
    """SNNC_EVENT16_SCRATCH: n_out int16 sums, two per word, in whole vectors of eight."""
    return (n_out + 7) // 8 * 4


def partial_sums_fit_int16(w: np.ndarray) -> bool:
    """Whether every sum of a subset of one output's weights (what a row of binary events can
    add up to, in any order) lies in int16: the sum of its positive weights and the sum of its
    negative weights do. Then 16-bit lanes that wrap on overflow still end exact."""
    w = np.asarray(w, np.int64)
    if w.size == 0:
        return True
    pos = np.where(w > 0, w, 0).sum(axis=1)
    neg = np.where(w < 0, w, 0).sum(axis=1)
    return bool(pos.max() <= INT16_HI and neg.min() >= INT16_LO)
