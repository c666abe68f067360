"""JWT decoding without verification: claims, alg none, lifetime, identity; near misses."""

from __future__ import annotations

import base64

import pytest

from discovery.redact.credentials.jwt import decode_jwt, looks_like_jwt
from tests.discovery.redact.credentials import tokens as t

CLAIMS = {
    "iss": "https://idp.example.com",
    "sub": "svc-billing",
    "aud": ["api"],
    "azp": "billing-app",
    "scope": "read:invoices write:invoices",
    "roles": ["billing"],
    "iat": 1_790_000_000,
    "nbf": 1_790_000_000,
    "exp": 1_790_003_600,
    "jti": "tok-123",
    "email": "dropped@example.com",
    "password": "never-kept",
}


def test_signed_token_claims_and_lifetime() -> None:
    decoded = decode_jwt(t.hs256_jwt(CLAIMS))
    assert decoded is not None
    assert decoded.alg == "HS256" and not decoded.unsigned
    assert decoded.header == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    assert decoded.claims["iss"] == "https://idp.example.com"
    assert decoded.claims["aud"] == ["api"]
    assert decoded.scopes == ["read:invoices", "write:invoices"]
    assert decoded.lifetime == 3600
    assert decoded.identity() == "jwt:https://idp.example.com|svc-billing"
    assert "email" not in decoded.claims and "password" not in decoded.claims


def test_alg_none_is_flagged() -> None:
    decoded = decode_jwt(t.unsigned_jwt({"sub": "x", "iss": "i"}))
    assert decoded is not None and decoded.unsigned


@pytest.mark.parametrize(
    ("claims", "identity"),
    [
        ({"iss": "i", "sub": "s"}, "jwt:i|s"),
        ({"iss": "i", "client_id": "c1"}, "client:i|c1"),
        ({"iss": "i", "azp": "a1"}, "client:i|a1"),
        ({"sub": "s"}, "jwt:?|s"),
        ({"iss": "i"}, None),
    ],
)
def test_identity_resolution(claims: dict[str, str], identity: str | None) -> None:
    decoded = decode_jwt(t.hs256_jwt(claims))
    assert decoded is not None and decoded.identity() == identity


def test_scp_list_and_missing_iat() -> None:
    decoded = decode_jwt(t.hs256_jwt({"scp": ["a", "b"], "exp": 100}))
    assert decoded is not None
    assert decoded.scopes == ["a", "b"] and decoded.lifetime is None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "value",
    [
        "1.2.3",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0",  # two segments only
        "eyJub3RqIjp9.eyJzdWIiOiJ4In0.sig",  # header is not JSON
        _b64(b'{"typ":"JWT"}') + "." + _b64(b'{"sub":"x"}') + ".sig",  # no alg
        _b64(b'{"alg":"HS256"}') + "." + _b64(b"[1,2]") + ".sig",  # payload not an object
        "abc.def.ghi",
        "www.example.com",
    ],
)
def test_near_misses_are_not_jwts(value: str) -> None:
    assert decode_jwt(value) is None


def test_shape_check() -> None:
    assert looks_like_jwt(t.hs256_jwt({"a": 1}))
    assert not looks_like_jwt("eyJ" + "a" * 20000 + ".eyJ.x")


def test_hostile_claims_are_bounded() -> None:
    decoded = decode_jwt(t.hs256_jwt({"sub": "x" * 5000, "roles": [{"nested": 1}, "ok"]}))
    assert decoded is not None
    assert len(decoded.claims["sub"]) == 512
    assert decoded.claims["roles"] == ["ok"]


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"x","exp":1e300,"iat":1}',
        b'{"sub":"x","exp":Infinity,"iat":NaN}',
        b'{"sub":"x","exp":-5,"iat":99999999999999999999999}',
        b'{"sub":"x","exp":true}',
    ],
)
def test_hostile_times_are_dropped_not_crashing(payload: bytes) -> None:
    import json

    from discovery.timeutil import iso

    token = _b64(b'{"alg":"HS256"}') + "." + _b64(payload) + ".sig"
    decoded = decode_jwt(token)
    assert decoded is not None
    assert decoded.time("exp") is None and decoded.lifetime is None
    iso(decoded.time("iat"))
    json.loads(json.dumps(decoded.claims, allow_nan=False))
