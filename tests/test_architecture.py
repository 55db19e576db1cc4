"""The import rules of the package layout, checked on the source tree.

- a backend never imports another backend, and code shared by backends
  (``snnc.backends.common``) imports none;
- a backend never imports the ``snnc`` package itself (the whole API) for what has a home of its
  own, such as ``snnc.version``;
- ``snnc.ir`` imports nothing from snnc except ``snnc.errors``;
- no two packages of snnc import each other, directly or through others (imports inside
  functions count: they are cycles that merely happen later);
- the compiler itself never imports torch (only fixture and example scripts may);
- no module of ``compiler/`` or ``backends/`` is longer than 800 lines: past that a module does
  more than one thing.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("akida", "loihi", "mcu", "spinnaker2", "xylo")


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


def test_shared_backend_code_imports_no_backend():
    for path in sources("backends/common"):
        bad = {m for m in imported_modules(path) for b in BACKENDS
               if m == f"snnc.backends.{b}" or m.startswith(f"snnc.backends.{b}.")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_backends_never_import_the_snnc_package_itself():
    for path in sources("backends"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            bare = (isinstance(node, ast.ImportFrom) and node.module == "snnc"
                    and node.level == 0) or (isinstance(node, ast.Import)
                                             and any(a.name == "snnc" for a in node.names))
            assert not bare, f"{path.relative_to(ROOT)}:{node.lineno} imports snnc itself"


def module_name(path: Path) -> str:
    """The dotted name a source file is installed as (``compiler/`` is ``snnc``)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = ["snnc", *parts[1:]] if parts[0] == "compiler" else ["snnc", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """The unit of the cycle rule: ``snnc.<package>``, and each backend on its own."""
    parts = module.split(".")
    depth = 3 if parts[1:2] == ["backends"] and len(parts) > 2 else 2
    return ".".join(parts[:depth])


def package_imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for folder in ("compiler", "backends"):
        for path in sources(folder):
            here = package_of(module_name(path))
            for mod in imported_modules(path):
                if mod.startswith("snnc.") and package_of(mod) != here:
                    edges.setdefault(here, set()).add(package_of(mod))
    return edges


def test_no_import_cycle_between_packages():
    edges = package_imports()
    assert "snnc.passes" in edges.get("snnc.cost", set()) or "snnc.cost" in edges.get(
        "snnc.passes", set()), "the rule reads the real import graph"
    for start in sorted(edges):
        path = [start]
        pending = [(nxt, [start, nxt]) for nxt in sorted(edges[start])]
        seen: set[str] = set()
        while pending:
            node, path = pending.pop()
            assert node != start, f"import cycle: {' -> '.join(path)}"
            if node in seen:
                continue
            seen.add(node)
            pending.extend((nxt, [*path, nxt]) for nxt in sorted(edges.get(node, ())))


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


MAX_LINES = 800


def test_no_module_is_longer_than_800_lines():
    long = {}
    for folder in ("compiler", "backends"):
        for path in sources(folder):
            rel = path.relative_to(ROOT).as_posix()
            lines = len(path.read_text().splitlines())
            if lines > MAX_LINES:
                long[rel] = lines
    assert not long, f"modules over {MAX_LINES} lines: {long}"
