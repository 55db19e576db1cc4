"""What every layer reader shares: the composite being read and the small tree helpers.

A reader gets a :class:`Composite`: the layer's name, what each of its inputs is (:class:`Ref`),
the trees of its outputs and of its named sub-patterns (:mod:`.match`), and turns it into one
layer of :mod:`snnc.ir.layers`; :mod:`.layer_walk` strings the layers together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from snnc.errors import ModelError, ShapeError
from snnc.frontend.match import Const, Op, Param
from snnc.ir.layers import Layer

F32 = np.float32


@dataclass(frozen=True)
class Ref:
    """What a ``main`` value holds: a parameter, or an output ``slot`` of a layer
    (``out`` the layer's value, ``fired`` boolean spikes, ``v``/``u`` next state)."""

    layer: str | None = None
    slot: str = "out"
    param: int | None = None


@dataclass
class Composite:
    """A match being read: its layer name, input refs, output trees and role trees."""

    name: str
    args: list[Ref]
    trees: list[Any]
    out_shape: tuple[Any, ...] | None
    states: set[int]  # inputs that are state parameters of main
    roles: Mapping[str, Any] = field(default_factory=dict)


class Walk(Protocol):
    """What a reader asks of the walk over ``main`` (:class:`snnc.frontend.layer_walk`)."""

    layers: list[Layer]
    batch: Any  # the data input's batch axis

    def source(self, ref: Ref, reader: str) -> tuple[str, bool]: ...

    def claim_state(self, comp: Composite, param: Param, slot: str) -> None: ...


def op_is(t: Any, *names: str) -> bool:
    return isinstance(t, Op) and t.name in names


def const_pair(t: Op) -> tuple[Any, np.ndarray] | None:
    """``(other, constant)`` for a binary op with exactly one constant operand."""
    a, b = t.args[:2]
    if isinstance(b, Const) and not isinstance(a, Const):
        return a, b.value
    if isinstance(a, Const) and not isinstance(b, Const):
        return b, a.value
    return None


def unsupported(what: str, layer: str) -> ModelError:
    """A composite whose contents the readers cannot express as a layer."""
    return ModelError(f"unsupported {what}", layer)


def scalar(value: np.ndarray) -> float:
    return float(np.ravel(value)[0])


def per_sample(value: np.ndarray | None, rank: int, what: str, layer: str) -> Any:
    """A constant that broadcasts against (batch, *shape) as a per-sample parameter."""
    if value is None:
        return None
    arr = np.asarray(value, F32)
    while arr.ndim > rank and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim > rank:
        raise ShapeError(f"{what} of shape {np.shape(value)} spans the batch axis", layer)
    return arr[()] if arr.ndim == 0 else arr


def data_input(walk: Walk, comp: Composite, t: Any, what: str,
                recurrent_ok: bool = False) -> tuple[str, bool]:
    """The layer a composite input reads and whether it reads the previous step (only
    Dense and Conv2d layers can: they carry the ``recurrent`` flag)."""
    if not isinstance(t, Param):
        raise unsupported(f"{what} computed inside the composite", comp.name)
    src, late = walk.source(comp.args[t.index], comp.name)
    if late and not recurrent_ok:
        raise unsupported(f"{what} read directly from a state input (only Dense/Conv "
                                 "synapses may read the previous step)", comp.name)
    return src, late


def rank_of(comp: Composite) -> int:
    if comp.out_shape is None:
        raise ShapeError("output shape is unknown", comp.name)
    return len(comp.out_shape) - 1


