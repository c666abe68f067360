"""Provider keys: prefix, alphabet, length and checksum; near misses are not keys."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from discovery.redact.credentials.providers import (
    base62,
    crc32_base62_ok,
    find_provider_keys,
    match_provider,
)
from tests.discovery.redact.credentials import tokens as t

GH = t.github_token()


@pytest.mark.parametrize(
    ("value", "kind", "label"),
    [
        (GH, "github_token", "GitHub token"),
        (t.github_token("gho_", 5), "github_token", "GitHub token"),
        (t.github_token("ghs_", 6), "github_token", "GitHub token"),
        (
            "github_pat_" + t.rand(22, seed=1) + "_" + t.rand(59, seed=2),
            "github_token",
            "GitHub fine-grained personal access token",
        ),
        (t.github_token("npm_", 7), "npm_token", "npm access token"),
        (t.STRIPE_LIVE, "stripe_key", "Stripe secret key"),
        (t.STRIPE_TEST, "stripe_key", "Stripe secret key"),
        (t.STRIPE_RESTRICTED, "stripe_key", "Stripe restricted key"),
        (t.SLACK_BOT, "slack_token", "Slack token"),
        (t.GOOGLE, "google_api_key", "Google API key"),
        (t.AWS_KEY_ID, "aws_access_key_id", "AWS access key id"),
        ("glpat-" + t.rand(20, seed=3), "gitlab_token", "GitLab personal access token"),
    ],
)
def test_provider_keys_are_recognised(value: str, kind: str, label: str) -> None:
    key = match_provider(value)
    assert key is not None
    assert key.pattern.kind == kind
    assert key.pattern.label == label
    assert value.startswith(key.prefix)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (t.corrupt_last(GH), "GitHub checksum does not hold"),
        ("ghp_" + t.rand(36, seed=99), "36 random characters without a valid checksum"),
        (GH[:-1], "one character short"),
        (t.STRIPE_PUBLISHABLE, "publishable keys are public"),
        ("sk_live_short", "too short"),
        ("AIza" + t.rand(20, seed=1), "Google key of the wrong length"),
        ("AKIA" + "a" * 16, "AWS key id with lower case"),
        ("AKIA0000000000000000", "AWS key id outside base32"),
        (str(uuid.UUID(int=12345)), "uuid"),
        (hashlib.sha1(b"x").hexdigest(), "sha1 digest"),
        (hashlib.sha256(b"x").hexdigest(), "sha256 digest"),
        (t.rand(40, seed=4), "random id without a prefix"),
        ("xoxb-notatoken", "Slack prefix, wrong shape"),
    ],
)
def test_near_misses_are_not_provider_keys(value: str, why: str) -> None:
    assert match_provider(value) is None, why


def test_base62_and_checksum_roundtrip() -> None:
    assert base62(0, 6) == "000000"
    assert base62(61, 1) == "z"
    assert base62(62, 2) == "10"
    assert crc32_base62_ok(GH)
    assert not crc32_base62_ok(t.corrupt_last(GH))


def test_keys_found_inside_text_with_boundaries() -> None:
    text = f"prefix {t.STRIPE_LIVE}, and {t.GOOGLE};x{t.AWS_KEY_ID}y {GH}"
    kinds = [k.pattern.kind for k in find_provider_keys(text)]
    # the AWS id glued to letters on both sides is part of a longer word: not a key
    assert kinds == ["stripe_key", "google_api_key", "github_token"]


def test_mode_is_a_public_fact() -> None:
    live = match_provider(t.STRIPE_LIVE)
    test = match_provider(t.STRIPE_TEST)
    assert live is not None and live.public_facts["mode"] == "live"
    assert test is not None and test.public_facts["mode"] == "test"
