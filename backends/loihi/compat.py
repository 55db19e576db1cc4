"""Import Lava (lava-nc 0.10.0) on Python 3.11 and later.

lava-nc 0.10.0 declares dataclass fields whose default is an *instance* of another dataclass,
e.g. ``CoreEncoder.x: ByteEncoder = ByteEncoder()`` in ``lava/magma/compiler/var_model.py``.
Python 3.10 only refused ``list``/``dict``/``set`` defaults; 3.11 refuses every unhashable
default ("mutable default ... use default_factory"), so ``import lava.proc.lif.process`` fails.

:func:`activate` wraps ``dataclasses.dataclass`` so that, for classes defined in a ``lava``
module only, such an unhashable default becomes ``field(default_factory=<copy of it>)``: each
instance gets its own copy instead of sharing one object (the 3.10 behaviour shared it; Lava
never mutates these encoder defaults in simulation, so both are equivalent). Every other class
goes to the original decorator unchanged, with the same arguments.

This file is self-contained (standard library only): the Loihi emitter copies it next to the
generated ``run.py`` so that the artifact runs with Lava alone.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import sys
from typing import Any

_ORIGINAL = dataclasses.dataclass
_PATCHED_MARK = "_snnc_lava_compat"


def _is_lava_class(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "lava" or module.startswith("lava.")


def _copy_factory(value: Any) -> Any:
    return functools.partial(copy.deepcopy, value)


def copy_unhashable_defaults(cls: type) -> type:
    """Turn each unhashable class-level default of ``cls`` into a copying ``default_factory``.

    Only annotated attributes are fields; ``Field`` objects are left alone. Returns ``cls``.
    """
    for name in inspect.get_annotations(cls):
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if value is dataclasses.MISSING or isinstance(value, dataclasses.Field):
            continue
        if type(value).__hash__ is None:
            setattr(cls, name, dataclasses.field(default_factory=_copy_factory(value)))
    return cls


def lenient_dataclass(cls: type | None = None, /, **kwargs: Any) -> Any:
    """``dataclasses.dataclass`` that tolerates Lava's instance defaults (see module docstring)."""

    def wrap(target: type) -> type:
        if _is_lava_class(target):
            target = copy_unhashable_defaults(target)
        return _ORIGINAL(target, **kwargs)

    return wrap if cls is None else wrap(cls)


setattr(lenient_dataclass, _PATCHED_MARK, True)


def needs_shim() -> bool:
    """True on interpreters whose ``dataclasses`` refuse unhashable defaults (3.11+)."""
    return sys.version_info >= (3, 11)


def activate() -> None:
    """Install the lenient decorator (idempotent). Must run before the first ``lava`` import."""
    if needs_shim() and not getattr(dataclasses.dataclass, _PATCHED_MARK, False):
        dataclasses.dataclass = lenient_dataclass

