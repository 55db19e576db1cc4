"""Turn a user input array into the (steps x batch x ...) drive every executor consumes.

All backends receive exactly this tensor, so encoding never causes a backend mismatch.
"""

from __future__ import annotations

import numpy as np

from snnc.errors import InputError

ENCODINGS = ("direct", "rate")
# Largest drive (steps x batch x sample values) accepted: 1 GiB of float32. The executors keep
# every step's values, so a larger run would exhaust memory; split the batch instead.
MAX_DRIVE_VALUES = 2**28


def rate_code(p: np.ndarray, steps: int) -> np.ndarray:
    """Deterministic rate code: ``s_t = floor((t+1) p) - floor(t p)`` for ``p`` clipped to [0, 1].

    Exactly ``floor(T p)`` spikes, evenly spread, no random numbers (so every run and every
    backend sees the same train).
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    t = np.arange(steps + 1, dtype=np.float64).reshape((-1,) + (1,) * p.ndim)
    counts = np.floor(t * p[None] + 1e-9)
    return np.diff(counts, axis=0).astype(np.float32)


def encode(x: np.ndarray, steps: int, encoding: str, sample_shape: tuple[int, ...]) -> np.ndarray:
    """(batch, *shape) -> (steps, batch, *shape) by ``encoding``; (steps, batch, *shape) as is."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise InputError(f"input array has unsupported dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise InputError("input array contains NaN or inf")
    ndim = len(sample_shape)
    _check_size(x, steps, ndim)
    if x.ndim == ndim + 1 and tuple(x.shape[1:]) == tuple(sample_shape):
        if encoding == "rate":
            return rate_code(x, steps)
        if encoding == "direct":
            return np.broadcast_to(x, (steps, *x.shape)).copy()
        raise InputError(f"unknown encoding '{encoding}' (choose from {', '.join(ENCODINGS)})")
    if x.ndim == ndim + 2 and tuple(x.shape[2:]) == tuple(sample_shape):
        if x.shape[0] < steps:
            raise InputError(f"input has {x.shape[0]} steps but {steps} were requested")
        return x[:steps].copy()
    raise InputError(
        f"input shape {x.shape} fits neither (batch, {', '.join(map(str, sample_shape))}) nor "
        f"(steps, batch, {', '.join(map(str, sample_shape))})")


def _check_size(x: np.ndarray, steps: int, ndim: int) -> None:
    """Refuse empty batches and drives too large to hold, before allocating anything."""
    batch_axis = 1 if x.ndim == ndim + 2 else 0
    if x.ndim > batch_axis and x.shape[batch_axis] == 0:
        raise InputError("input array holds no samples (its batch axis is empty)")
    per_step = x.size // x.shape[0] if x.ndim == ndim + 2 and x.shape[0] else x.size
    if steps * per_step > MAX_DRIVE_VALUES:
        raise InputError(f"{steps} steps of this input need {steps * per_step} values, more "
                         f"than the limit {MAX_DRIVE_VALUES}; run fewer samples at a time")
