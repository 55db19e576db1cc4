"""A small network whose every name is hostile, and the same network with plain names.

The names hold what breaks naive code generators: quotes, comment terminators, preprocessor
lines, shell metacharacters, path separators, C and Python keywords, template syntax, non-ASCII
text, a newline, and three names that sanitize alike (``a-b``, ``a b``, ``A_B``). The model name
is hostile too. ``plain_net`` has the same layers and parameters under names ``l0`` .. ``l8``.
"""

from __future__ import annotations

import re

import numpy as np

from snnc.ir.layers import LIF, Add, Dense, Graph, Input

F32 = np.float32
HOSTILE_NAMES = (
    'x"; rm -rf / #',
    "*/ #include <stdio.h> /*",
    "int",
    "../../etc/passwd",
    "神经元 class\nimport os",
    "a-b",
    "a b",
    "A_B",
    "{{ name }}' \"\"\" $(touch pwned) `id` %s | \\",
)
HOSTILE_MODEL = 'model"\n*/ #define main exit; ../'
# Names an ONNX file may hold that no identifier can: NUL and other control characters, escape
# sequences, 10 000-character names equal in their first 9 999, and names equal after
# sanitizing ("a\nb", "a\rb").
EXTREME_NAMES = (
    "in\x00put\x01",
    "tab\there\r\nline \x1b[31mred\x1b[0m",
    '*/ /* "quote" \'single\' \\ */',
    "../../../tmp/x/y\\z:C:\\",
    "n" * 9_999 + "1",
    "n" * 9_999 + "2",
    "\x7f\x02\x03",
    "a\nb",
    "a\rb",
)
PLAIN_NAMES = tuple(f"l{i}" for i in range(len(HOSTILE_NAMES)))
TARGETS = ("cortex-m4", "loihi2", "spinnaker2")
RUNNERS = {"cortex-m4": "host", "loihi2": "lava", "spinnaker2": "spinnaker2"}
NEEDS = {"cortex-m4": "gcc", "loihi2": "lava", "spinnaker2": "gcc"}
# Text files whose syntax a name could break: C, headers, Python, Makefile, linker script, CMake.
CODE_SUFFIXES = (".c", ".h", ".py", ".ld", "", ".txt", ".cmake")
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def net(names: tuple[str, ...], model: str, seed: int = 0) -> Graph:
    """Input -> Dense -> LIF -> Dense -> LIF, a skip Dense from the first LIF, Add, LIF."""
    rng = np.random.default_rng(seed)
    n = names
    return Graph((
        Input(n[0], (), shape=(6,)),
        Dense(n[1], (n[0],), weight=rng.normal(0, 1, (8, 6)).astype(F32)),
        LIF(n[2], (n[1],), beta=F32(0.75)),
        Dense(n[3], (n[2],), weight=rng.normal(0, 1, (5, 8)).astype(F32)),
        LIF(n[4], (n[3],), beta=F32(0.75), reset="subtract"),
        Dense(n[5], (n[4],), weight=rng.normal(0, 1, (4, 5)).astype(F32)),
        Dense(n[6], (n[2],), weight=rng.normal(0, 1, (4, 8)).astype(F32)),
        Add(n[7], (n[5], n[6])),
        LIF(n[8], (n[7],), beta=F32(0.9)),
    ), output=n[8], timesteps=6, name=model)


def hostile_net(names: tuple[str, ...] = HOSTILE_NAMES) -> Graph:
    return net(names, HOSTILE_MODEL)


def plain_net() -> Graph:
    return net(PLAIN_NAMES, "plain")


def inputs(batch: int = 3) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (batch, 6)).astype(F32)


def distinctive(name: str) -> bool:
    """Whether ``name`` cannot occur in generated code by accident (it holds characters no
    identifier, keyword or word of prose has)."""
    return re.fullmatch(r"[A-Za-z0-9_ ]*", name) is None
