"""The contract of the custom-domain ``snnc`` operators (domain ``snnc``, opset 1).

One table describes every operator: its inputs (with the optional per-neuron parameter tensors),
outputs and attributes. The validator checks nodes against it, the expander and the ONNX builder
read defaults from it, and ``docs/onnx-ops.md`` documents the same table in prose. Keeping the
contract in data means a new attribute is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOMAIN = "snnc"
DOMAIN_VERSION = 1
DEFAULT_OPSET = 17

RESET_KINDS = ("zero", "subtract", "none")
RESET_TIMINGS = ("same", "next")
COMPARES = ("gt", "ge")


@dataclass(frozen=True)
class AttrSpec:
    """One attribute: its ONNX kind (``float``, ``int``, ``string``, ``floats``), default
    (``None`` = absent unless given), for strings the allowed values, and whether it must be
    given (as the attribute or, for a parameter, as the constant input of the same name)."""

    kind: str
    default: Any = None
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class OpSpec:
    """Inputs are listed in order; ``state`` marks inputs carried from the previous step and
    ``param`` marks optional per-neuron parameter tensors that must be constants and replace
    the attribute of the same name."""

    inputs: tuple[str, ...]
    state: tuple[str, ...]
    params: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, AttrSpec]

    @property
    def required_inputs(self) -> int:
        return len(self.inputs) - len(self.params)


_NEURON_ATTRS = {
    "reset": AttrSpec("string", "zero", RESET_KINDS),
    "reset_timing": AttrSpec("string", "same", RESET_TIMINGS),
    "compare": AttrSpec("string", "gt", COMPARES),
    "threshold": AttrSpec("float", 1.0),
    "bias": AttrSpec("float", 0.0),
}

OPS: dict[str, OpSpec] = {
    "LIF": OpSpec(
        inputs=("I", "v", "beta", "threshold", "bias"),
        state=("v",),
        params=("beta", "threshold", "bias"),
        outputs=("s", "v_next"),
        attrs={"beta": AttrSpec("float", required=True), **_NEURON_ATTRS},
    ),
    "IF": OpSpec(
        inputs=("I", "v", "threshold", "bias"),
        state=("v",),
        params=("threshold", "bias"),
        outputs=("s", "v_next"),
        attrs=dict(_NEURON_ATTRS),
    ),
    "CubaLIF": OpSpec(
        inputs=("I", "u", "v", "current_decay", "voltage_decay", "threshold", "bias"),
        state=("u", "v"),
        params=("current_decay", "voltage_decay", "threshold", "bias"),
        outputs=("s", "u_next", "v_next"),
        attrs={"current_decay": AttrSpec("float", 0.0), "voltage_decay": AttrSpec("float", 0.0),
               **_NEURON_ATTRS},
    ),
    "MultiLevelSpike": OpSpec(
        inputs=("I",),
        state=(),
        params=(),
        outputs=("s",),
        attrs={"levels": AttrSpec("int", 4), "alpha": AttrSpec("float", 1.0),
               "axis": AttrSpec("int"), "theta": AttrSpec("float")},
    ),
    "SpikingSelfAttention": OpSpec(
        inputs=("Q", "K", "V"),
        state=(),
        params=(),
        outputs=("out",),
        attrs={"heads": AttrSpec("int", 1), "scale": AttrSpec("float", 1.0),
               "gammas": AttrSpec("floats", required=True)},
    ),
}
