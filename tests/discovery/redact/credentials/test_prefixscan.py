"""The one-pass first test for provider keys answers exactly what the alternation of every
documented prefix answers, on texts with and without keys, near misses and non-ASCII text."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discovery import compiled
from discovery.redact.credentials import providers
from discovery.redact.credentials.prefixscan import HeadScan, literal_heads

GATES = providers._GATES
HEADS = sorted({head for gate in GATES for head in literal_heads(gate)})


def test_heads_spell_out_classes_groups_and_optional_atoms() -> None:
    assert literal_heads("gh[ps]_[A-Za-z0-9]{36}") == ["ghp_", "ghs_"]
    assert literal_heads("(?:pub)?key-[a-z0-9]{32}") == ["pubkey-", "key-"]
    assert literal_heads(r"ya29\.") == ["ya29."]
    assert literal_heads(r"x(?:ab|cd)-\d") == ["xab-", "xcd-"]


def test_every_top_level_alternative_has_its_heads() -> None:
    assert literal_heads("abc|de[0-9]") == ["abc", "de"]
    # a bar inside a nested group splits too: more heads, never fewer
    assert set(literal_heads("x(?:a(?:b)|c)d")) >= {"x"}


def test_a_fragment_that_may_begin_anywhere_searches_with_the_regex() -> None:
    assert literal_heads("[a-z]{3}_") == [""]
    scan = HeadScan(re.compile("abc|[a-z]{3}_"), ["abc", "[a-z]{3}_"], one_pass=True)
    assert scan.whole and not scan.one_pass
    assert scan.search("..xyz_..") and not scan.search("..xyz-..")


def test_a_head_is_confirmed_by_the_regex_where_it_begins() -> None:
    scan = HeadScan(re.compile("ab[0-9]{3}|b-"), ["ab[0-9]{3}", "b-"], one_pass=True)
    assert scan.one_pass
    assert not scan.search("xxab12x ab")  # the head alone is not a match
    assert scan.search("xxab12x ab123")
    assert scan.search("aab-")  # found through the automaton's failure links
    assert not scan.search("é" * 50 + "ab")
    assert scan.search("é" * 50 + "ab999é")  # places counted in characters, not bytes


def test_provider_gates_all_begin_with_a_literal_head() -> None:
    """Otherwise the first pass would fall back to the regex over every text (correct, slow)."""
    assert not providers._HEADS.whole
    assert providers._HEADS.one_pass is compiled.in_use()
    assert all(len(head) >= 3 for head in HEADS)


_NOISE = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzAKIS0123_-./+= \"'{}:é中😀")),
    max_size=40,
)
_PIECE = st.one_of(
    _NOISE,
    st.sampled_from(HEADS),
    st.builds(
        lambda head, cut: head[: max(1, cut % len(head))],
        st.sampled_from(HEADS),
        st.integers(0, 20),
    ),
    st.sampled_from(GATES).flatmap(lambda gate: st.from_regex(gate, fullmatch=True)),
)


# the automaton itself, whichever build runs (the module's own scan runs it only compiled)
ONE_PASS = HeadScan(providers._PREFIXES, GATES, one_pass=True)


def _agrees(text: str) -> None:
    expected = providers._PREFIXES.search(text) is not None
    assert ONE_PASS.search(text) is expected
    assert providers._HEADS.search(text) is expected
    assert providers.may_hold_key(text) is (len(text) >= 20 and expected)


_TEXTS = st.lists(_PIECE, max_size=8).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_TEXTS)
def test_the_first_pass_answers_what_the_prefix_alternation_answers(text: str) -> None:
    _agrees(text)


@pytest.mark.fuzz
@settings(max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(_TEXTS)
def test_fuzz_the_first_pass_answers_what_the_prefix_alternation_answers(text: str) -> None:
    _agrees(text)
