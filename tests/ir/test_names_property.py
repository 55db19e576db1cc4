"""Properties of the one sanitizer (``snnc.ir.names``) over arbitrary text.

Whatever a model file calls its layers, the identifiers that reach generated C, Python and file
names are plain ASCII identifiers, never keywords or reserved prefixes, bounded in length,
distinct for distinct names (names that differ only in case or punctuation included), and the
same whatever order the names come in.
"""

from __future__ import annotations

import keyword
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.ir.names import C_KEYWORDS, MAX_LEN, c_ident, identifiers

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Text that stresses the sanitizer: punctuation, keywords, digits, case, non-ASCII, controls.
PIECES = st.sampled_from(["int", "main", "class", "None", "_", "__", "-", " ", "/", "..", "\\",
                          "*/", "/*", "#include", '"', "'", "\n", "\x00", "$(", "`", "A", "a",
                          "0", "9", "神经", "é", "Ω", "{{", "}}", "%s", ";", "|"])
NAMES = st.one_of(st.text(max_size=80),
                  st.lists(PIECES, max_size=12).map("".join),
                  st.text(alphabet="aA_-. 0", max_size=12))


def assert_safe(ident: str) -> None:
    assert IDENT.fullmatch(ident), ident
    assert ident.isascii()
    assert len(ident) <= MAX_LEN
    assert ident not in C_KEYWORDS and not keyword.iskeyword(ident)
    assert not ident.startswith("__") and not re.match(r"_[A-Z]", ident)


@settings(max_examples=300, deadline=None)
@given(NAMES, st.sampled_from(["n", "p", "model"]))
def test_every_identifier_is_a_safe_c_and_python_name(name: str, prefix: str) -> None:
    assert_safe(c_ident(name, prefix))


@settings(max_examples=200, deadline=None)
@given(st.lists(NAMES, max_size=30), st.randoms(use_true_random=False))
def test_distinct_names_get_distinct_identifiers_in_any_order(names: list[str], rnd) -> None:
    mapping = identifiers(names)
    assert set(mapping) == set(names)
    assert len(set(mapping.values())) == len(mapping)
    for ident in mapping.values():
        assert_safe(ident)
    shuffled = list(names)
    rnd.shuffle(shuffled)
    assert identifiers(shuffled) == mapping


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a-b", "a b", "A_B", "a_b", "a.b", "A-B", "a__b", "_a_b_"]),
                min_size=2, max_size=8, unique=True))
def test_names_that_sanitize_alike_stay_apart(names: list[str]) -> None:
    assert len(set(identifiers(names).values())) == len(names)
