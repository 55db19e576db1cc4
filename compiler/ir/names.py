"""The one sanitizer through which model names reach generated code and file names.

Names in a model file are untrusted: they may hold quotes, newlines, ``*/``, ``#include``, shell
metacharacters, path separators, keywords or non-ASCII text. Generated C, Python and file names use
only :func:`identifiers`' output: ``[A-Za-z_][A-Za-z0-9_]*``, at most 48 characters, never a C or
Python keyword, never starting with a reserved ``__``/``_[A-Z]`` prefix, and distinct for
distinct names (a short hash of the original resolves collisions deterministically).
"""

from __future__ import annotations

import hashlib
import keyword
import re

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Bool _Complex _Imaginary bool true false NULL main asm
""".split())
MAX_LEN = 48
_INVALID = re.compile(r"[^A-Za-z0-9_]+")


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def c_ident(name: str, prefix: str = "n") -> str:
    """A safe identifier for one name (use :func:`identifiers` for a collision-free set)."""
    core = _INVALID.sub("_", name).strip("_").lower()
    core = re.sub(r"_+", "_", core)
    if not core or core[0].isdigit() or core in C_KEYWORDS or keyword.iskeyword(core):
        core = f"{prefix}_{core}" if core else prefix
    if core != name.lower() or len(core) > MAX_LEN:
        core = f"{core[:MAX_LEN - 9]}_{_digest(name)}"
    return core


def identifiers(names: list[str] | tuple[str, ...], prefix: str = "n") -> dict[str, str]:
    """Map each distinct name to a distinct safe identifier, stable across runs."""
    result: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(set(names)):
        ident = c_ident(name, prefix)
        if ident in used:
            ident = f"{ident[:MAX_LEN - 9]}_{_digest(name)}"
            counter = 0
            while ident in used:  # astronomically unlikely: a hash collision
                counter += 1
                ident = f"{ident[:MAX_LEN - 12]}_{counter:02d}"
        used.add(ident)
        result[name] = ident
    return result
