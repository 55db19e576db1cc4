"""Pairing state inputs with outputs: metadata first, then the naming convention."""

from __future__ import annotations

import pytest

from snnc.errors import InvalidModelError
from snnc.frontend.state import pair_by_name, state_layout


@pytest.mark.parametrize(("state_in", "state_out"), [
    ("mem_in", "mem_out"), ("lif.v", "lif.v.next"), ("h_prev", "h"), ("lif1.prev", "lif1"),
    ("syn", "syn_next"), ("u.in", "u.out"),
])
def test_naming_convention_pairs_exporter_style_names(state_in: str, state_out: str) -> None:
    assert pair_by_name(["x", state_in], ["y", state_out]) == {state_in: state_out}


def test_naming_convention_never_pairs_a_name_with_itself_or_ambiguously() -> None:
    assert pair_by_name(["v"], ["v"]) == {}
    assert pair_by_name(["v"], ["v_out", "v.next"]) == {}


def test_metadata_overrides_the_naming_convention() -> None:
    layout = state_layout(["x", "a"], ["y", "b"], {"snnc.state": '{"a": "b"}'})
    assert (layout.data_input, layout.data_output, layout.state) == ("x", "y", {"a": "b"})


def test_data_output_may_also_feed_a_recurrent_state() -> None:
    layout = state_layout(["x", "spk_in", "mem_in"], ["spk", "mem_out"], {})
    assert layout.data_output == "spk"
    assert layout.state == {"spk_in": "spk", "mem_in": "mem_out"}


def test_two_unpaired_outputs_are_ambiguous() -> None:
    with pytest.raises(InvalidModelError, match="exactly one data output"):
        state_layout(["x"], ["y", "z"], {})
