"""Pairing state inputs with state outputs in a one-step ONNX model.

A step function ``step(x_t, state_t) -> (y_t, state_t+1)`` only becomes a time loop once every
state input is known to receive a given output at the next step. The pairing is read from the
model metadata ``snnc.state`` (a JSON object ``{"<input>": "<output>"}``). Without it, names are
paired by convention, covering what exporters produce when given state input/output names:

- ``<stem>`` / ``<stem>.prev`` / ``<stem>_prev`` / ``<stem>_in`` / ``<stem>.in`` as input with
- ``<stem>.next`` / ``<stem>_next`` / ``<stem>_out`` / ``<stem>.out`` / ``<stem>`` as output,

never pairing a name with itself and only when exactly one output matches. Of the graph inputs
left unpaired exactly one is the data input; of the outputs not used as state, exactly one is the
data output (unless the data output also feeds a recurrent state, then it is that one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from snnc.errors import InvalidModelError
from snnc.frontend.validate import shown

STATE_KEY = "snnc.state"
_IN_SUFFIXES = (".prev", "_prev", "_in", ".in")
_OUT_SUFFIXES = (".next", "_next", "_out", ".out")


@dataclass(frozen=True)
class StateLayout:
    """Which graph input is the data, which output is the result, and the state pairs."""

    data_input: str
    data_output: str
    pairs: tuple[tuple[str, str], ...]  # (state input, output it receives), input order

    @property
    def state(self) -> dict[str, str]:
        return dict(self.pairs)


def _stem(name: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def pair_by_name(inputs: Sequence[str], outputs: Sequence[str]) -> dict[str, str]:
    """The naming fallback: input stem equals output stem, the two names differ."""
    pairs: dict[str, str] = {}
    for inp in inputs:
        stem = _stem(inp, _IN_SUFFIXES)
        matches = [out for out in outputs if out != inp and _stem(out, _OUT_SUFFIXES) == stem]
        if len(matches) == 1:
            pairs[inp] = matches[0]
    return pairs


def parse_state_metadata(text: str, inputs: Sequence[str],
                         outputs: Sequence[str]) -> dict[str, str]:
    """Decode and check the ``snnc.state`` metadata value."""
    try:
        pairs = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidModelError(f"metadata {STATE_KEY} is not a JSON object") from None
    if not isinstance(pairs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()):
        raise InvalidModelError(f"metadata {STATE_KEY} must map input names to output names")
    for inp, out in pairs.items():
        if inp not in inputs:
            raise InvalidModelError(
                f"metadata {STATE_KEY} names '{shown(inp)}', not a graph input")
        if out not in outputs:
            raise InvalidModelError(f"state input '{inp}' is paired with '{shown(out)}', "
                                    "which is not a graph output", inp)
    return pairs


def state_layout(inputs: Sequence[str], outputs: Sequence[str],
                 metadata: dict[str, str]) -> StateLayout:
    """Resolve the data input/output and the state pairs of a graph's (non-constant) I/O."""
    if STATE_KEY in metadata:
        pairs = parse_state_metadata(metadata[STATE_KEY], inputs, outputs)
    else:
        pairs = pair_by_name(inputs, outputs)
    data_inputs = [name for name in inputs if name not in pairs]
    if len(data_inputs) != 1:
        listed = ", ".join(data_inputs) or "none"
        raise InvalidModelError(
            f"expected exactly one data input besides the state inputs, found {listed} "
            f"(pair state inputs with outputs in metadata {STATE_KEY})")
    state_outputs = set(pairs.values())
    free = [name for name in outputs if name not in state_outputs]
    if len(free) > 1:
        raise InvalidModelError(
            f"expected exactly one data output besides the state outputs, found "
            f"{', '.join(free)} (pair state outputs in metadata {STATE_KEY})")
    if not free and not outputs:
        raise InvalidModelError("the graph has no outputs")
    # every output feeds a state: the data output is the first (a recurrent layer's value)
    data_output = free[0] if free else outputs[0]
    ordered = tuple((name, pairs[name]) for name in inputs if name in pairs)
    return StateLayout(data_inputs[0], data_output, ordered)
