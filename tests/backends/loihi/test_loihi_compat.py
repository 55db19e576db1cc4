"""The Python 3.11 dataclass shim that lets lava-nc 0.10.0 import."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from snnc.backends.loihi import compat


@dataclasses.dataclass
class Encoder:
    """Stands in for Lava's ``ByteEncoder``: an eq dataclass, so ``__hash__`` is None."""

    base: int = 0


FAKE_LAVA_MODULE = "lava.snnc_test_fake"


def lava_style_class(monkeypatch: pytest.MonkeyPatch) -> type:
    """A class that claims to live in a lava module (which dataclasses looks up)."""
    monkeypatch.setitem(sys.modules, FAKE_LAVA_MODULE, types.ModuleType(FAKE_LAVA_MODULE))

    class Core:
        __module__ = FAKE_LAVA_MODULE
        __annotations__ = {"x": "Encoder"}
        x = Encoder()

    return Core


def test_lava_classes_get_a_fresh_copy_of_an_unhashable_default(monkeypatch):
    core = compat.lenient_dataclass(lava_style_class(monkeypatch))
    first, second = core(), core()
    assert first.x == Encoder() and second.x == Encoder()
    assert first.x is not second.x


def test_other_classes_keep_the_standard_refusal():
    class Mine:
        __annotations__ = {"x": "Encoder"}
        x = Encoder()

    with pytest.raises(ValueError, match="mutable default"):
        compat.lenient_dataclass(Mine)


def test_keyword_form_passes_options_through():
    decorate = compat.lenient_dataclass(frozen=True)
    point = decorate(type("Point", (), {"__annotations__": {"x": "int"}, "x": 1}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        point().x = 2


def test_activate_is_idempotent_and_installs_the_lenient_decorator(monkeypatch):
    monkeypatch.setattr(dataclasses, "dataclass", dataclasses.dataclass)
    compat.activate()
    installed = dataclasses.dataclass
    compat.activate()
    assert dataclasses.dataclass is installed
    assert installed is compat.lenient_dataclass


def _python(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=folder, timeout=300, check=False)


@pytest.mark.needs("lava")
def test_lava_fails_to_import_without_the_shim_and_imports_with_it(tmp_path):
    shutil.copy(compat.__file__, tmp_path / "lava_compat.py")
    plain = _python("import lava.proc.lif.process", tmp_path)
    assert plain.returncode != 0 and "mutable default" in plain.stderr
    shimmed = _python("import lava_compat; lava_compat.activate(); "
                      "import lava.proc.lif.process; import lava.magma.core.run_configs",
                      tmp_path)
    assert shimmed.returncode == 0, shimmed.stderr
