"""Secrets in URL paths: detected, fingerprinted and replaced by their redacted form, in the
stored path and raw path alike; ids and words stay as they are."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.redact.credentials.pathsecrets import scan_path
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.helpers import FP

TELEGRAM = "7213808860:AA" + t.rand(33, t.ALNUM + "_-", seed=71)
SLACK = t.rand(24, seed=72)
DISCORD = t.rand(68, t.ALNUM + "_-", seed=73)
HOOK_UUID = "0b3e1f0c-8d5a-4c6e-9f1b-2a7d9c3e5f10"
OPAQUE = t.rand(40, t.ALNUM + "-_", seed=74)
JWT = t.hs256_jwt({"iss": "https://idp", "sub": "svc"})


@pytest.mark.parametrize(
    ("path", "secret", "kind", "redacted_path"),
    [
        (
            f"/bot{TELEGRAM}/sendMessage",
            TELEGRAM,
            "telegram_bot_token",
            f"/bot7213808860:…{TELEGRAM[-4:]}/sendMessage",
        ),
        (
            f"/bot{quote(TELEGRAM, safe='')}/getMe",  # the colon percent-encoded
            TELEGRAM,
            "telegram_bot_token",
            f"/bot7213808860:…{TELEGRAM[-4:]}/getMe",
        ),
        (
            f"/services/T0ACME123/B0HOOK456/{SLACK}",
            SLACK,
            "webhook_url",
            f"/services/T0ACME123/B0HOOK456/…{SLACK[-4:]}",
        ),
        (
            f"/workflows/T016M3G1GHZ/A04J3BAF7AA/442660231806210747/{SLACK}",
            SLACK,
            "webhook_url",
            f"/workflows/T016M3G1GHZ/A04J3BAF7AA/442660231806210747/…{SLACK[-4:]}",
        ),
        (
            f"/api/webhooks/144147826297622273/{DISCORD}",
            DISCORD,
            "webhook_url",
            f"/api/webhooks/144147826297622273/…{DISCORD[-4:]}",
        ),
        (f"/hooks/{HOOK_UUID}", HOOK_UUID, "path_token", f"/hooks/…{HOOK_UUID[-4:]}"),
        (f"/v1/token/{OPAQUE}/verify", OPAQUE, "path_token", None),
        (f"/v1/{t.STRIPE_LIVE}/charges", t.STRIPE_LIVE, "stripe_key", None),
        (f"/render/{JWT}", JWT, "jwt", f"/render/eyJ…{JWT[-4:]}"),
        (f"/x;key={t.GOOGLE}/y", t.GOOGLE, "google_api_key", None),
    ],
)
def test_secrets_in_paths(path: str, secret: str, kind: str, redacted_path: str | None) -> None:
    found, stored = scan_path(path, FP)
    assert [s.kind for s in found] == [kind]
    assert found[0].location == "path"
    assert found[0].fingerprint == FP(secret)
    assert secret not in stored and quote(secret, safe="") not in stored
    assert "…" in stored
    if redacted_path is not None:
        assert stored == redacted_path


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/12345678901234567890/orders",
        "/v1/orders/550e8400-e29b-41d4-a716-446655440000",
        "/repos/acme/app/commits/" + "a" * 2 + "3f1c9e2b7d4a6f8e0c1b3d5f7a9e2c4b6d8f0a1",
        "/v2/reports/internationalization-settings",
        "/repos/acme/app/hooks/123456789",
        "/services/data/v58.0/sobjects/Account",
        "/api/keys/primary",
        "/static/js/main.8f3a1c2b.chunk.js",
    ],
)
def test_paths_without_secrets_are_kept(path: str) -> None:
    found, stored = scan_path(path, FP)
    assert found == [] and stored == path


def test_the_stored_exchange_never_holds_the_path_secret() -> None:
    obs = ObservedExchange(
        ts=1.0,
        source="pcap",
        evidence="frames 1-4",
        method="POST",
        target=f"/bot{TELEGRAM}/sendMessage?chat_id=42",
        host="api.telegram.org",
        request_headers=(("Host", "api.telegram.org"),),
    )
    ex = to_exchange(obs, FP)
    assert ex.path == ex.raw_path == f"/bot7213808860:…{TELEGRAM[-4:]}/sendMessage"
    assert TELEGRAM not in repr(ex) and TELEGRAM.split(":")[1] not in repr(ex)
    assert [c.kind for c in ex.credentials] == ["telegram_bot_token"]


def test_a_secret_query_parameter_name_is_stored_redacted() -> None:
    obs = ObservedExchange(
        ts=1.0, source="pcap", evidence="f", method="GET", target=f"/v1/x?{t.STRIPE_LIVE}&a=1"
    )
    ex = to_exchange(obs, FP)
    assert ex.query_names == (f"sk_live_…{t.STRIPE_LIVE[-4:]}", "a")
    assert [c.kind for c in ex.credentials] == ["stripe_key"]


def test_bot_shaped_segments_that_are_not_tokens_are_not_named_but_not_kept() -> None:
    # Telegram's documented example (34 characters after the colon, not 35)
    found, stored = scan_path("/bot123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11/getMe", FP)
    assert [s.kind for s in found] == ["path_token"]
    assert "ABC-DEF1234ghIkl" not in stored
    # a real token's shape outside the Bot API's place is a token after /token/, not a bot URL
    found, _ = scan_path(f"/v1/token/bot{TELEGRAM}/x", FP)
    assert [s.kind for s in found] == ["path_token"]
