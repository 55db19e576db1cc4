"""Weight layers wider than the target's weights, as two members of one current.

Every integer target of snnc multiplies ``weight_bits`` mantissas (int8 on Cortex-M's SMLAD
kernels, SpiNNaker 2's MAC operands and Loihi 2's synapses) and shifts the sums by a per-layer
weight exponent ``k`` (``weight_exp_max``). A weight of ``weight_bits + e`` bits, ``m << k``
with ``|m| <= weight_max * 2^e``, is the sum of two such weights::

    m = high * 2^e + low,   high = floor((m + 2^(e-1)) / 2^e),   |high| <= weight_max,
                            low in [-2^(e-1), 2^(e-1) - 1]

so a wide layer runs as a *high* member (mantissas ``high``, exponent ``k + e``) and a *low*
member (mantissas ``low``, exponent ``k``) reading the same source, summed by an ``Add`` that
keeps the layer's name (its readers, the output and every trace still find it). Members of one
current may keep their own exponents on every target, so no backend needs a kernel of its own:
the integer sums are exactly those of the wide weights, which is what the integer reference
computes. The cost is a second set of synapses (their low mantissas are small) and one add.

:func:`snnc.passes.quantize.quantize` applies it to the layers its options widen
(:class:`snnc.passes.quantize.StageScale` ``widen``), which the fidelity search chooses
(:mod:`snnc.passes.fidelity`) where the calibration data shows 8-bit weights losing spikes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from snnc.ir import layers as ir
from snnc.ir.quantized import QuantLayer, storage_type

WIDE_ATTR = "wide_of"     # on both members: the layer they replace
PART_ATTR = "wide_part"   # "high" or "low"


def _free_name(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}{i}"
    taken.add(name)
    return name


def split_mantissas(mantissas: np.ndarray, extra: int) -> tuple[np.ndarray, np.ndarray]:
    """``(high, low)`` with ``mantissas = high * 2^extra + low``: ``high`` the mantissas
    rounded to ``extra`` bits fewer (half up), ``low`` in ``[-2^(extra-1), 2^(extra-1) - 1]``."""
    m = np.asarray(mantissas, np.int64)
    high = (m + (1 << (extra - 1))) >> extra
    return high, m - (high << extra)


def split_wide(graph: ir.Graph, layers: Mapping[str, QuantLayer],
               extra: Mapping[str, int]) -> tuple[ir.Graph, dict[str, QuantLayer]]:
    """``graph`` and its integer parameters with every weight layer in ``extra`` (name ->
    extra mantissa bits ``e``) replaced by its high and low members and their ``Add`` (see
    the module docstring). The layer's integer weights must be ``m << weight_exp`` with
    ``|m| <= weight_max * 2^e``; the members' float weights are their integers' real values."""
    if not extra:
        return graph, dict(layers)
    taken = {lay.name for lay in graph.layers}
    out = dict(layers)
    new: list[ir.Layer] = []
    for lay in graph.layers:
        e = extra.get(lay.name, 0)
        if e <= 0:
            new.append(lay)
            continue
        assert isinstance(lay, ir.Dense | ir.Conv2d)
        q = layers[lay.name]
        k = q.weight_exp
        high, low = split_mantissas(np.asarray(q.weight, np.int64) >> k, e)
        unit_in = layers[lay.inputs[0]].unit if lay.inputs[0] in layers else 1.0
        real = q.unit / unit_in  # the real value of one integer weight unit
        names = {part: _free_name(f"{lay.name}.{part}", taken) for part in ("high", "low")}
        for part, mant, shift in (("high", high, k + e), ("low", low, k)):
            ints = mant << shift
            bound = int(np.max(np.abs(ints), initial=0))
            attrs = MappingProxyType({**lay.attrs, WIDE_ATTR: lay.name, PART_ATTR: part})
            member = replace(lay, name=names[part], weight=(ints * real).astype(np.float32),
                             bias=lay.bias if part == "high" else None, attrs=attrs)
            new.append(member)
            out[member.name] = QuantLayer(unit=q.unit, weight=ints.astype(storage_type(bound)),
                                          bias=q.bias if part == "high" else None,
                                          weight_exp=shift)
        new.append(ir.Add(lay.name, (names["high"], names["low"])))
        out[lay.name] = QuantLayer(unit=q.unit)
    return graph.replace_layers(new), out


def is_wide_member(layer: ir.Layer) -> bool:
    return WIDE_ATTR in layer.attrs
