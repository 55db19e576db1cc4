"""The worst-case stack computed from gcc's call-graph files (no toolchain needed)."""

from __future__ import annotations

import pytest

from snnc.backends.mcu.stack import StackError, deepest, entry_stacks


def _ci(nodes: dict[str, tuple[int, str] | None], edges: list[tuple[str, str]]) -> str:
    """A ``-fcallgraph-info=su`` file in gcc's VCG spelling."""
    lines = ["graph: { title: \"model.c\""]
    for name, frame in nodes.items():
        size = f"\\n{frame[0]} bytes ({frame[1]})" if frame else ""
        lines.append(f'node: {{ title: "{name}" label: "{name}\\nmodel.c:1:6{size}" }}')
    lines += [f'edge: {{ sourcename: "{a}" targetname: "{b}" label: "model.c:2:3" }}'
              for a, b in edges]
    return "\n".join([*lines, "}"])


def test_deepest_chain_sums_frames_along_the_costliest_path():
    text = _ci({"snnc_step": (40, "static"), "dense": (24, "static"), "lif": (64, "static"),
                "helper": (8, "static"), "snnc_init": (8, "static"), "memset": None},
               [("snnc_step", "dense"), ("snnc_step", "lif"), ("dense", "helper"),
                ("snnc_init", "memset")])
    assert entry_stacks([text]) == {"snnc_step": 40 + 64, "snnc_init": 8}


def test_frames_and_calls_may_come_from_different_objects():
    step = _ci({"snnc_step": (16, "static"), "snnc_init": (8, "static"), "kernel": None},
               [("snnc_step", "kernel")])
    kernel = _ci({"kernel": (100, "static")}, [])
    assert entry_stacks([step, kernel])["snnc_step"] == 116


def test_recursion_has_no_worst_case():
    text = _ci({"snnc_step": (8, "static"), "walk": (8, "static"), "snnc_init": (8, "static")},
               [("snnc_step", "walk"), ("walk", "snnc_step")])
    with pytest.raises(StackError, match="recursion: snnc_step -> walk -> snnc_step"):
        entry_stacks([text])
    with pytest.raises(StackError, match="recursion: a -> a"):
        deepest("a", {"a": (8, "static")}, {"a": {"a"}})


def test_a_frame_sized_at_run_time_has_no_worst_case():
    text = _ci({"snnc_step": (16, "dynamic"), "snnc_init": (8, "static")}, [])
    with pytest.raises(StackError, match="snnc_step has a dynamic frame"):
        entry_stacks([text])
