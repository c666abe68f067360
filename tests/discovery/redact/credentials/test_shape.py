"""Value shapes: letter-only tokens are not words; redacted forms keep no random characters."""

from __future__ import annotations

import random
import string

import pytest

from discovery.redact.credentials.found import opaque
from discovery.redact.credentials.shape import key_prefix, near_miss
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.helpers import FP, detect


@pytest.mark.parametrize(
    "value",
    [
        "hf_" + t.rand(34, string.ascii_letters, seed=101),
        t.rand(32, string.ascii_letters, seed=102),
        t.rand(30, string.ascii_lowercase, seed=103),  # too long for a word, too few vowels
        "cYfJAwnBfGcKRKxGw",  # random case changes are no camelCase
    ],
)
def test_letter_only_tokens_are_not_words(value: str) -> None:
    assert near_miss(value) != "words"


@pytest.mark.parametrize(
    "value",
    ["created_at", "internationalization", "getUserById", "ORDER_BY_DATE", "Dark", "asc"],
)
def test_words_are_words(value: str) -> None:
    assert near_miss(value) == "words"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ([("X-Api-Token", "hf_" + t.rand(34, string.ascii_letters, seed=104))], ""),
        ([], "api_key=" + t.rand(32, string.ascii_letters, seed=105)),
        ([("Cookie", "session=" + t.rand(32, string.ascii_letters, seed=106))], ""),
    ],
)
def test_letter_only_tokens_are_read_everywhere(headers: list[tuple[str, str]], query: str) -> None:
    assert len(detect(headers, query)) == 1


def test_random_tokens_keep_no_prefix_in_their_redacted_form() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_"
    kept = []
    for _ in range(5000):
        token = "".join(rng.choice(alphabet) for _ in range(rng.randrange(24, 48)))
        sighting = opaque(FP, token, "bearer", "header", "Authorization")
        kept.append(sighting.redacted.index("…"))
    assert sum(1 for k in kept if k) / len(kept) < 0.01  # was ~12% keeping 6 on average
    assert max(kept) <= 12


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("acme_pk_globex_" + t.rand(28, seed=107), "acme_pk_globex_"),
        ("tok_" + t.rand(24, seed=108), "tok_"),
        ("LIVE-" + t.rand(30, seed=109), "LIVE-"),
        ("aB_" + t.rand(30, seed=110), None),  # mixed case: random, not documented
        ("ab_" + t.rand(30, seed=111), None),  # two letters: too short to be a prefix
    ],
)
def test_structured_prefixes(value: str, prefix: str | None) -> None:
    assert key_prefix(value) == prefix
