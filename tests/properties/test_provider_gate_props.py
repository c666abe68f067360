"""The provider-key gate grouped by first character finds what the plain alternation of the
documented prefixes finds: on text made of each prefix's own matches, near misses and noise."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.redact.credentials import providers

PLAIN = re.compile("|".join(f"(?:{gate})" for gate in providers._GATES))
GROUPED = providers._PREFIXES

# pieces of text: a gate's own match (whole, or cut short), and the characters keys are made of
KEYISH = st.sampled_from(providers._GATES).flatmap(lambda gate: st.from_regex(gate, fullmatch=True))
PIECES = st.one_of(
    KEYISH,
    KEYISH.map(lambda text: text[: len(text) // 2]),
    KEYISH.map(lambda text: text[1:]),
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+ ",
        max_size=30,
    ),
    st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, max_size=5))
def test_the_grouped_gate_matches_where_the_plain_alternation_does(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert (GROUPED.search(text) is None) == (PLAIN.search(text) is None)


@settings(max_examples=100, deadline=None)
@given(KEYISH, st.text(max_size=20), st.text(max_size=20))
def test_every_documented_prefix_opens_the_gate_anywhere_in_a_text(
    key: str, before: str, after: str
) -> None:
    assert GROUPED.search(before + key + after) is not None


def test_the_grouping_spells_out_leading_groups_and_keeps_every_prefix() -> None:
    assert providers.by_first_character(["(?:pub)?key_x", "(?:AKIA|ASIA)[A-Z]{4}"]) == (
        "p(?:ubkey_x)|k(?:ey_x)|A(?:KIA[A-Z]{4}|SIA[A-Z]{4})"
    )
    assert providers.by_first_character(["ab|cd", "[xy]z"]) == "(?:ab|cd)|(?:[xy]z)"
