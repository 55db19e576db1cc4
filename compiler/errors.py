"""The whole snnc error hierarchy.

Every error a user can cause is an :class:`SnncError`; the CLI prints its message on one line and
exits with status 2. Any other exception escaping the compiler is a bug and keeps its traceback.
Messages name the node or layer, the problem and, where possible, what would work instead.
"""

from __future__ import annotations


class SnncError(Exception):
    """Base of every error the user can cause or fix."""

    exit_code = 2


class InputError(SnncError):
    """The model file or an input array is malformed."""


def label(name: str, limit: int = 120) -> str:
    """A model name as it appears in a one-line message: control characters escaped
    (``\\n``, ``\\x01``), at most ``limit`` characters. Names are untrusted labels of any
    length; the exception keeps the original."""
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in name)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


class ModelError(InputError):
    """The model is readable but invalid; the message names the offending node."""

    def __init__(self, message: str, node: str | None = None) -> None:
        self.node = node
        super().__init__(f"node '{label(node)}': {message}" if node else message)


class UnsupportedOpError(ModelError):
    """An operator snnc does not know."""

    def __init__(self, op: str, node: str, domain: str = "") -> None:
        self.op = op
        qualified = f"{domain}::{op}" if domain else op
        super().__init__(f"unsupported operator {qualified}", node)


class ShapeError(ModelError):
    """Shapes of connected tensors do not agree."""


class InvalidModelError(ModelError):
    """Cycles, NaN/inf parameters, hostile names, or other structural defects."""


class UnsupportedError(SnncError):
    """A valid model that the chosen target cannot run; names layer, target and what would work."""

    def __init__(self, message: str, layer: str | None = None, target: str | None = None) -> None:
        self.layer = layer
        self.target = target
        where = []
        if layer:
            where.append(f"layer '{label(layer)}'")
        if target:
            where.append(f"target '{target}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ResourceError(SnncError):
    """The model does not fit the target: what, how much is needed, and the limit."""

    def __init__(self, target: str, resource: str, need: float, have: float,
                 detail: str = "") -> None:
        self.target, self.resource, self.need, self.have = target, resource, need, have
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"target '{target}': {resource} needs {_amount(need)} but the limit is "
            f"{_amount(have)}{extra}"
        )


def _amount(value: float) -> str:
    """Whole numbers in full (1500072, not 1.50007e+06); fractions with 4 significant digits."""
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


class QuantizationError(SnncError):
    """Parameters cannot be represented in the target's numeric profile."""


class VerifyError(SnncError):
    """An internal invariant broke after a pass; names the pass and the layer (a bug in snnc)."""


class EmitError(SnncError):
    """Code or artifact generation failed."""


class ToolchainError(SnncError):
    """An external tool (compiler, QEMU, Lava) is missing or failed."""


class BoardError(SnncError):
    """A board in the loop cannot be used: the serial port does not open, the board does not
    answer, the line corrupts every retry, or it runs another model than the project given."""


__all__ = [
    "BoardError",
    "EmitError",
    "InputError",
    "InvalidModelError",
    "ModelError",
    "QuantizationError",
    "ResourceError",
    "ShapeError",
    "SnncError",
    "ToolchainError",
    "UnsupportedError",
    "UnsupportedOpError",
    "VerifyError",
    "label",
]
