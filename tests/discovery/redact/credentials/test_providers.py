"""Provider keys: prefix, alphabet, length and checksum; near misses are not keys."""

from __future__ import annotations

import hashlib
import subprocess
import sys
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


@pytest.mark.parametrize(
    "value",
    [t.corrupt_last(GH), "ghp_" + t.rand(36, seed=99), t.corrupt_last(t.github_token("npm_"))],
)
def test_a_whole_value_failing_its_checksum_is_named_with_the_failure_as_a_fact(
    value: str,
) -> None:
    key = match_provider(value)
    assert key is not None and key.public_facts["checksum"] == "invalid"
    assert match_provider(GH) is not None
    assert match_provider(GH).public_facts["checksum"] == "valid"  # type: ignore[union-attr]
    # in free text a failed checksum means "not a key"
    assert list(find_provider_keys(f"see {value} here")) == []


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


# ---------------------------------------------------------------- the provider table

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from discovery.redact.credentials.providers import (  # noqa: E402
    CONTEXT_PATTERNS,
    PATTERNS,
    match_basic,
    match_in_context,
    providers,
    revocation,
)
from discovery.redact.credentials.shape import placeholder  # noqa: E402


def test_at_least_fifty_providers_each_with_where_it_is_revoked() -> None:
    assert len(providers()) >= 50
    for pattern in (*PATTERNS, *CONTEXT_PATTERNS):
        assert pattern.revoke_api or pattern.revoke_console, pattern.label
        where = revocation(pattern.provider, pattern.label)
        assert where is not None and (where.get("api") or where.get("console"))


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: f"{p.provider}:{p.label}")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_documented_format_is_named_by_its_provider(pattern, data) -> None:  # type: ignore[no-untyped-def]
    """A token generated from each format (prefix, alphabet, length) is named that provider's."""
    token = data.draw(
        st.from_regex(f"\\A(?:{pattern.prefix_re}){pattern.body_re}\\Z", fullmatch=True).filter(
            lambda s: not placeholder(s) and (pattern.valid is None or pattern.valid(s))
        )
    )
    key = match_provider(token)
    assert key is not None, token[:6]
    assert key.pattern.provider == pattern.provider


@pytest.mark.parametrize(
    "value",
    [
        "AKIA" + "X" * 16,  # AKIAXXXXXXXXXXXXXXXX
        "AKIAIOSFODNN7" + "EXAMPLE",  # AWS's documentation example
        "AIza" + "a" * 35,
        "glpat-" + "X" * 11 + "-" + "X" * 8,
        "ghp_" + "x" * 36,
        "hf_" + "x" * 34,
        "sk-ant-api03-" + t.rand(93, seed=91) + "BB",  # Anthropic keys end in AA
        "ntn_" + "1234567890" * 5 + "123456",
        "sntryu_" + "a" * 64,
        "xoxb-" + "0" * 12 + "-" + "0" * 13 + "-" + "x" * 24,
        "sk_live_" + "<YOUR_KEY_HERE_0123456789>",
        "glsa_" + "X" * 32 + "_AAAAAAAA",
    ],
)
def test_placeholders_and_documented_examples_are_never_named(value: str) -> None:
    assert match_provider(value) is None
    assert list(find_provider_keys(f"key: {value}")) == []


def test_formats_without_a_marker_are_named_only_where_they_travel() -> None:
    hex32 = t.rand(32, "0123456789abcdef", seed=92)
    assert match_provider(hex32) is None  # a hex string alone is an id, not a key
    key = match_in_context("header:ddapikey", hex32)
    assert key is not None and key.pattern.provider == "datadog"
    assert match_in_context("header:xrequestid", hex32) is None
    sid = "AC" + t.rand(32, "0123456789abcdef", seed=93)
    auth = match_basic(sid, hex32)
    assert auth is not None and auth.pattern.kind == "twilio_auth_token"
    assert match_basic("someone", hex32) is None
    assert match_in_context("header:ddapikey", "x" * 32) is None  # a placeholder, even there


@pytest.mark.integration
def test_free_text_scan_compiled_when_a_prefix_is_first_seen() -> None:
    """The whole-key scan (a hundred-odd alternatives, ~8 ms to compile) is compiled the first
    time a text holds a documented prefix, not when the module is imported (an ingest imports it
    before it forks its readers, and most captures never hold a prefix)."""
    code = (
        "import discovery.redact.credentials.providers as p\n"
        "assert not p._SCAN, 'compiled at import'\n"
        "assert list(p.find_provider_keys('no documented prefix in this text at all')) == []\n"
        "assert not p._SCAN, 'compiled for a text without a prefix'\n"
        "import sys\n"
        "kinds = [k.pattern.kind for k in p.find_provider_keys(sys.argv[1])]\n"
        "assert kinds == ['github_token'], kinds\n"
        "assert len(p._SCAN) == 1\n"
    )
    subprocess.run([sys.executable, "-c", code, f"see {GH} here"], check=True, timeout=60)
