"""The import rules of the package layout (STYLE.md), checked on the source tree.

- a backend never imports another backend;
- ``snnc.ir`` imports nothing from snnc except ``snnc.errors``;
- the compiler itself never imports torch (only fixture and example scripts may).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("loihi", "mcu", "spinnaker2")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_backends_never_import_each_other():
    for backend in BACKENDS:
        others = [f"snnc.backends.{b}" for b in BACKENDS if b != backend]
        for path in sources(f"backends/{backend}"):
            bad = {m for m in imported_modules(path) for o in others
                   if m == o or m.startswith(o + ".")}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_ir_depends_only_on_errors():
    for path in sources("compiler/ir"):
        bad = {m for m in imported_modules(path)
               if m.startswith("snnc.") and not m.startswith(("snnc.ir", "snnc.errors"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_compiler_and_backends_never_import_torch():
    for folder in ("compiler", "backends"):
        for path in sources(folder):
            mods = imported_modules(path)
            assert not {m for m in mods if m == "torch" or m.startswith("torch.")}, path
