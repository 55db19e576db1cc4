"""Hardware targets: one TOML file each (``targets/*.toml``), loaded into a frozen :class:`Target`.

A user adds a target by writing one more file, either into the package's ``targets/`` folder or
anywhere on disk and passing its path to ``--target``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from snnc.errors import InputError
from snnc.ir.quantized import NumericProfile

BACKEND_NAMES = ("akida", "loihi", "mcu", "spinnaker2", "xylo")


@dataclass(frozen=True)
class Target:
    """A hardware target: which backend, its numeric profile, limits and energy parameters."""

    name: str
    backend: str
    numeric: NumericProfile
    description: str = ""
    aliases: tuple[str, ...] = ()
    limits: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    energy: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    raw: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    path: str = ""


def _target_files() -> dict[str, Path]:
    folder = resources.files("snnc.targets")
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir()
            if str(p).endswith(".toml")}


def _profile(table: Mapping[str, Any], source: str) -> NumericProfile:
    known = {f.name for f in fields(NumericProfile)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise InputError(f"{source}: unknown [numeric] keys: {', '.join(unknown)}")
    values = dict(table)
    if "reset_kinds" in values:
        values["reset_kinds"] = tuple(values["reset_kinds"])
    return NumericProfile(**values)


def parse_target(text: str, source: str) -> Target:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not a valid TOML target file ({exc})") from None
    head = data.get("target", {})
    for key in ("name", "backend"):
        if key not in head:
            raise InputError(f"{source}: [target] needs '{key}'")
    if head["backend"] not in BACKEND_NAMES:
        raise InputError(f"{source}: backend must be one of {', '.join(BACKEND_NAMES)}")
    return Target(
        name=head["name"], backend=head["backend"],
        numeric=_profile(data.get("numeric", {}), source),
        description=head.get("description", ""), aliases=tuple(head.get("aliases", ())),
        limits=MappingProxyType(dict(data.get("limits", {}))),
        energy=MappingProxyType(dict(data.get("energy", {}))),
        raw=MappingProxyType(data), path=source,
    )


def list_targets() -> list[Target]:
    """Every packaged target, sorted by name."""
    return [parse_target(p.read_text(), str(p)) for _, p in sorted(_target_files().items())]


def load_target(name: str) -> Target:
    """A packaged target by name or alias, or a TOML file given by path."""
    if name.endswith(".toml") and Path(name).is_file():
        return parse_target(Path(name).read_text(), name)
    for target in list_targets():
        if name == target.name or name in target.aliases:
            return target
    names = ", ".join(t.name for t in list_targets())
    raise InputError(f"unknown target '{name}' (known: {names}, or a path to a .toml file)")
