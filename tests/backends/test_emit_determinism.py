"""Emitting is a pure function of the quantized graph: for random nets (the fuzz generator) that
a backend accepts, it writes byte-identical trees when it emits the same net twice, into
different folders, with another net emitted in between (no state carried between emissions).

Nets a backend refuses in its resource check are not drawn; an emission that refuses a net the
check accepted fails the test, so two refusals never pass as "the same output"."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from testkit.fuzz_nets import fuzz_cases

from snnc.backends import get_backend
from snnc.errors import SnncError
from snnc.target import load_target

TARGETS = [load_target(name) for name in ("cortex-m4", "loihi2", "spinnaker2")]


def accepted(case, target) -> bool:
    """Whether ``target``'s backend takes the net (its resource check passes)."""
    try:
        get_backend(target.backend).resources(case.quantized(target), target)
    except SnncError:
        return False
    return True


def emit_tree(case, target, folder: Path) -> dict[str, bytes]:
    """The emitted files by relative path."""
    get_backend(target.backend).emit(case.quantized(target), target, folder)
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(first=fuzz_cases(), other=fuzz_cases())
def test_emitting_the_same_net_twice_gives_the_same_bytes(target, first, other) -> None:
    assume(accepted(first, target) and accepted(other, target))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        once = emit_tree(first, target, root / "a")
        emit_tree(other, target, root / "between")
        again = emit_tree(first, target, root / "b" / "nested")
    assert once, "nothing was written"
    assert sorted(once) == sorted(again)
    assert [name for name in once if once[name] != again[name]] == []
