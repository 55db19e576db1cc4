"""Hostile model names become inert, distinct identifiers."""

from __future__ import annotations

import keyword
import re

from hypothesis import given
from hypothesis import strategies as st

from snnc.ir.names import C_KEYWORDS, MAX_LEN, c_ident, identifiers

SAFE = re.compile(r"^[a-z_][a-z0-9_]*$")
HOSTILE = ["a\"b", "line\nbreak", "*/ evil /*", "#include <stdio.h>", "$(rm -rf /)", "../../etc",
           "int", "while", "class", "ñandú", "", "0start", "x" * 500, "a b", "a-b", "a_b", "A_B"]


def test_hostile_names_become_plain_identifiers():
    for name in HOSTILE:
        ident = c_ident(name)
        assert SAFE.match(ident), (name, ident)
        assert ident not in C_KEYWORDS and not keyword.iskeyword(ident)
        assert len(ident) <= MAX_LEN


def test_distinct_names_never_collide_even_when_they_sanitize_alike():
    mapping = identifiers(HOSTILE)
    assert len(set(mapping.values())) == len(set(HOSTILE))


def test_clean_names_are_kept():
    assert c_ident("fc1") == "fc1"
    assert identifiers(["lif1", "fc2"]) == {"fc2": "fc2", "lif1": "lif1"}


@given(st.lists(st.text(max_size=60), max_size=30))
def test_any_names_map_to_distinct_safe_identifiers(names):
    mapping = identifiers(names)
    assert set(mapping) == set(names)
    assert len(set(mapping.values())) == len(mapping)
    assert all(SAFE.match(v) and len(v) <= MAX_LEN for v in mapping.values())
