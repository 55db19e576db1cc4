"""Worst-case stack depth of the generated model, from gcc's own frame sizes.

The linker script reserves a fixed stack (``[limits] stack_bytes``) and there is no heap, so the
stack is the one memory figure a link cannot check. gcc reports it exactly when asked:
``-fstack-usage`` gives each function's frame (``static``: known at compile time, no alloca or
VLA) and ``-fcallgraph-info=su`` the call edges, as one VCG file per object. The deepest chain
from an entry point is the sum of the frames along it; a function gcc did not compile (``memset``,
libgcc's ``__aeabi_*`` helpers) counts zero, which is why the reserve keeps headroom.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ENTRY_POINTS = ("snnc_init", "snnc_step", "snnc_finish")

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?(?:\\n(\d+) bytes \((\w+)\))?"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


class StackError(ValueError):
    """The call graph has no finite worst case: recursion or a frame sized at run time."""


def call_graph(ci_texts: Iterable[str]) -> tuple[dict[str, tuple[int, str]],
                                                 dict[str, set[str]]]:
    """Frames (bytes, qualifier such as ``static``/``dynamic``) of the defined functions and
    the call edges, read from ``-fcallgraph-info=su`` files."""
    frames: dict[str, tuple[int, str]] = {}
    calls: dict[str, set[str]] = {}
    for text in ci_texts:
        for title, size, kind in _NODE.findall(text):
            if size:
                frames[title] = (int(size), kind)
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, set()).add(dst)
    return frames, calls


def deepest(root: str, frames: dict[str, tuple[int, str]], calls: dict[str, set[str]],
            chain: tuple[str, ...] = ()) -> int:
    """Largest sum of frames along any call chain from ``root``."""
    if root in chain:
        raise StackError(f"recursion: {' -> '.join((*chain, root))}")
    size, kind = frames.get(root, (0, "static"))
    if kind != "static":
        raise StackError(f"{root} has a {kind} frame")
    below = [deepest(callee, frames, calls, (*chain, root))
             for callee in sorted(calls.get(root, ()))]
    return size + max(below, default=0)


def entry_stacks(ci_texts: Iterable[str]) -> dict[str, int]:
    """Worst-case stack bytes of each public entry point of the model (those it defines)."""
    frames, calls = call_graph(ci_texts)
    return {entry: deepest(entry, frames, calls) for entry in ENTRY_POINTS if entry in frames}
