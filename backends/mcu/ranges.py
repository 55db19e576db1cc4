"""Range analysis of the MCU lowering: C element types and the integer intervals they hold.

Every tensor gets an integer interval that contains every value the reference can produce
(weights and biases are known, inputs are clipped to ``input_bits``, neuron states are bounded by
their overflow mode). The C element type of a tensor and the accumulator of the kernel producing
it are the smallest of int8/int32/int64 holding the interval *and every partial sum*, so C never
overflows where numpy's int64 would not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnc.ir.layers import Input, Layer
from snnc.ir.quantized import NumericProfile
from snnc.ir.stages import source_peak

I64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class CType:
    """A C element type and the integers it holds."""

    suffix: str
    c: str
    bytes: int
    signed: bool = True

    @property
    def lo(self) -> int:
        return -(1 << (8 * self.bytes - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (8 * self.bytes - 1)) - 1 if self.signed else (1 << (8 * self.bytes)) - 1

    @property
    def numpy(self) -> str:
        return f"<{'i' if self.signed else 'u'}{self.bytes}"


S8 = CType("s8", "int8_t", 1)
S32 = CType("s32", "int32_t", 4)
S64 = CType("s64", "int64_t", 8)
U16 = CType("u16", "uint16_t", 2, signed=False)
U32 = CType("u32", "uint32_t", 4, signed=False)
VALUE_TYPES = (S8, S32, S64)
ORDER = {S8: 0, S32: 1, S64: 2}
CTYPES = {ct.suffix: ct for ct in (*VALUE_TYPES, U16, U32)}


@dataclass(frozen=True)
class Range:
    """A closed integer interval (Python ints: never overflows)."""

    lo: int
    hi: int

    @property
    def mag(self) -> int:
        return max(abs(self.lo), abs(self.hi))

    def __add__(self, other: Range) -> Range:
        return Range(self.lo + other.lo, self.hi + other.hi)

    def union(self, other: Range) -> Range:
        return Range(min(self.lo, other.lo), max(self.hi, other.hi))

    def symmetric(self) -> Range:
        return Range(-self.mag, self.mag)


def fit(rng: Range, smallest: CType = S8) -> CType | None:
    """The narrowest value type (not below ``smallest``) that holds ``rng``, or None."""
    for ct in VALUE_TYPES:
        if ORDER[ct] >= ORDER[smallest] and ct.lo <= rng.lo and rng.hi <= ct.hi:
            return ct
    return None


def widest(*types: CType) -> CType:
    return max(types, key=lambda ct: ORDER[ct])



def source_range(layer: Layer, profile: NumericProfile) -> Range:
    """Output interval of a source layer, known without looking at its inputs: the graph input
    is signed, spikes and levels are not."""
    peak = source_peak(layer, profile)
    return Range(-peak, peak) if isinstance(layer, Input) else Range(0, max(0, peak))


def _sum_sign(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per output row: the sum of positive and the sum of negative weights (int64 is exact).

    From the row sums of ``w`` and ``|w|`` (two passes, no masked copies of a weight matrix that
    may hold millions of entries): ``pos = (sum(w) + sum|w|) / 2``, ``neg = (sum(w) - sum|w|) / 2``.
    """
    w = weights.reshape(weights.shape[0], -1)
    total = w.sum(axis=1, dtype=np.int64)
    magnitude = np.abs(w).sum(axis=1, dtype=np.int64)
    return (total + magnitude) // 2, (total - magnitude) // 2


def linear_bounds(weights: np.ndarray, bias: np.ndarray | None, x: Range) -> tuple[Range, int]:
    """Interval of ``b + sum w*x`` over any subset of terms (zero padding drops terms), and the
    largest magnitude any partial sum can reach (what the accumulator must hold)."""
    pos, neg = _sum_sign(weights)
    hi_x, lo_x = max(x.hi, 0), min(x.lo, 0)
    b = np.zeros(weights.shape[0], np.int64) if bias is None else np.asarray(bias, np.int64)
    lo = hi = None
    acc = 0
    for p, n, bb in zip(pos.tolist(), neg.tolist(), b.tolist(), strict=True):
        row_lo, row_hi = p * lo_x + n * hi_x + bb, p * hi_x + n * lo_x + bb
        lo = row_lo if lo is None else min(lo, row_lo)
        hi = row_hi if hi is None else max(hi, row_hi)
        acc = max(acc, (p - n) * x.mag + abs(bb))
    return Range(lo or 0, hi or 0), acc

