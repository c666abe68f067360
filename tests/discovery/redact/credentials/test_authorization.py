"""Authorization and Proxy-Authorization schemes, table-driven, with near misses."""

from __future__ import annotations

import base64

import pytest

from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.helpers import FP, assert_no_secret, detect


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


JWT = t.hs256_jwt({"iss": "https://idp", "sub": "svc-a", "iat": 1, "exp": 3601})
OPAQUE = "Zx8mQ2vL9pR4tW7yB1nK5cH3"
GH = t.github_token()
SIGV4 = (
    f"AWS4-HMAC-SHA256 Credential={t.AWS_KEY_ID}/20261128/eu-west-1/sqs/aws4_request, "
    f"SignedHeaders=host;x-amz-date, Signature={'ef' * 32}"
)


@pytest.mark.parametrize(
    ("header", "value", "kind", "identity", "redacted", "secret"),
    [
        ("Authorization", f"Bearer {JWT}", "jwt", "jwt:https://idp|svc-a", f"eyJ…{JWT[-4:]}", JWT),
        ("Authorization", f"Bearer {OPAQUE}", "bearer", None, f"…{OPAQUE[-4:]}", OPAQUE),
        ("Authorization", f"token {GH}", "github_token", None, f"ghp_…{GH[-4:]}", GH),
        (
            "Authorization",
            f"Bearer {t.SLACK_BOT}",
            "slack_token",
            None,
            f"xoxb-…{t.SLACK_BOT[-4:]}",
            t.SLACK_BOT,
        ),
        (
            "Proxy-Authorization",
            f"Basic {b64('proxyuser:s3cret-pw')}",
            "basic",
            "basic:proxyuser@api.example.com",
            "proxyuser:…",
            "s3cret-pw",
        ),
        (
            "Authorization",
            f"Basic {b64('alice:pa55word')}",
            "basic",
            "basic:alice@api.example.com",
            "alice:…",
            "pa55word",
        ),
        (
            "Authorization",
            f"Basic {b64(t.STRIPE_LIVE + ':')}",
            "stripe_key",
            None,
            f"sk_live_…{t.STRIPE_LIVE[-4:]}",
            t.STRIPE_LIVE,
        ),
        (
            "Authorization",
            f"Basic {b64('x-access-token:' + GH)}",
            "github_token",
            None,
            f"ghp_…{GH[-4:]}",
            GH,
        ),
        ("Authorization", SIGV4, "aws_sigv4", f"aws:{t.AWS_KEY_ID}", t.AWS_KEY_ID, "ef" * 32),
        (
            "Authorization",
            'Digest username="bob", realm="api", nonce="abc", uri="/", '
            'response="6629fae49393a05397450978507c4ef1"',
            "digest",
            "digest:bob@api.example.com",
            "bob:…",
            "6629fae49393a05397450978507c4ef1",
        ),
        ("Authorization", f"SSWS {OPAQUE}", "token", None, f"…{OPAQUE[-4:]}", OPAQUE),
        (
            "Authorization",
            f"AWS {t.AWS_KEY_ID}:frJIUN8DYpKDtOLCwo//yllqDzg=",
            "aws_sigv2",
            f"aws:{t.AWS_KEY_ID}",
            t.AWS_KEY_ID,
            "frJIUN8DYpKDtOLCwo//yllqDzg=",
        ),
        (
            "Authorization",
            'Signature keyId="rsa-key-1",algorithm="rsa-sha256",headers="date",'
            'signature="Base64SignatureValueThatChangesEveryTime=="',
            "signed_request",
            None,
            "rsa-key-1",
            "Base64SignatureValueThatChangesEveryTime==",
        ),
        (
            "Authorization",
            'Hawk id="dh37fgj492je", ts="1353832234", nonce="j4h3g2", '
            'mac="6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="',
            "signed_request",
            None,
            "dh37fgj492je",
            "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=",
        ),
        ("Authorization", OPAQUE, "authorization", None, f"…{OPAQUE[-4:]}", OPAQUE),
    ],
)
def test_schemes(
    header: str, value: str, kind: str, identity: str | None, redacted: str, secret: str
) -> None:
    found = detect([(header, value)])
    assert [s.kind for s in found] == [kind]
    sighting = found[0]
    assert sighting.name == header and sighting.location == "header"
    assert sighting.identity == identity
    assert sighting.redacted == redacted
    assert_no_secret(found, secret)


def test_basic_fingerprint_is_of_user_and_password() -> None:
    found = detect([("Authorization", f"Basic {b64('alice:pa55word')}")])
    assert found[0].fingerprint == FP("alice:pa55word")
    other = detect([("Authorization", f"Basic {b64('alice:other')}")])
    assert other[0].fingerprint != found[0].fingerprint


def test_jwt_claims_and_times_are_kept() -> None:
    (sighting,) = detect([("Authorization", f"Bearer {JWT}")])
    claims = dict(sighting.claims)
    assert claims["sub"] == "svc-a" and claims["header.alg"] == "HS256"
    assert claims["lifetime"] == 3600
    assert (sighting.issued_at, sighting.expires_at) == (1.0, 3601.0)


def test_alg_none_flag() -> None:
    token = t.unsigned_jwt({"sub": "x", "iss": "i"})
    (sighting,) = detect([("Authorization", f"Bearer {token}")])
    assert dict(sighting.claims)["alg_none"] is True


def test_sigv4_claims_and_session_token() -> None:
    (sighting,) = detect([("Authorization", SIGV4), ("X-Amz-Security-Token", "FQoGZXIvYXdzE" * 8)])
    claims = dict(sighting.claims)
    assert claims["region"] == "eu-west-1" and claims["service"] == "sqs"
    assert claims["temporary"] is True
    assert claims["account_id"].isdigit() and len(claims["account_id"]) == 12
    assert sighting.fingerprint == FP(t.AWS_KEY_ID)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("Bearer", "scheme without a token"),
        ("", "empty"),
        ("Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEFoQMCAQ6iBwMFACAAAACj", "Kerberos"),
        ('Digest realm="api", nonce="abc"', "Digest without a username"),
        ("550e8400-e29b-41d4-a716-446655440000", "a bare UUID"),
        ("AWS4-HMAC-SHA256 Credential=a/20261128/us-east-1/s3/aws4_request", "one-letter key id"),
        ("AWS4-HMAC-SHA256 Credential=<KEY>/20261128/us-east-1/s3/aws4_request", "template"),
    ],
)
def test_near_misses(value: str, why: str) -> None:
    assert detect([("Authorization", value)]) == [], why


def test_an_undocumented_scheme_is_an_opaque_credential() -> None:
    """Whatever its shape: it is what the server was given to authenticate the request."""
    (sighting,) = detect([("Authorization", "Custom hello")])
    assert (sighting.kind, dict(sighting.claims)["scheme"]) == ("authorization", "custom")
    assert sighting.fingerprint == FP("Custom hello")


def test_per_request_signatures_are_one_credential_per_key() -> None:
    first = detect([("Authorization", 'Hawk id="dh37fgj492je", ts="1", nonce="a", mac="x1Yz"')])
    second = detect([("Authorization", 'Hawk id="dh37fgj492je", ts="2", nonce="b", mac="q9Wv"')])
    other = detect([("Authorization", 'Hawk id="other-key", ts="2", nonce="b", mac="q9Wv"')])
    assert first[0].fingerprint == second[0].fingerprint != other[0].fingerprint


@pytest.mark.parametrize(
    "value",
    [
        f"Bearer\t{OPAQUE}",
        f"Bearer   {OPAQUE}",
        f"bearer {OPAQUE}",
        f"  Bearer \t {OPAQUE}  ",
        f"BEARER {OPAQUE}",
    ],
)
def test_whitespace_after_the_scheme_is_the_same_credential(value: str) -> None:
    """Servers accept a tab or several spaces after the scheme: one credential, one decision."""
    same = detect([("Authorization", f"Bearer {OPAQUE}")])[0].fingerprint
    found = detect([("Authorization", value)])
    assert [s.fingerprint for s in found] == [same]
    sigv4 = detect([("Authorization", SIGV4.replace(" Credential", "\tCredential"))])
    assert [s.kind for s in sigv4] == ["aws_sigv4"]


def test_token_parameter_is_the_token() -> None:
    token = t.rand(20, t.ALNUM + "+", seed=81)
    found = detect([("Authorization", f"Token token={token}")])
    quoted = detect([("Authorization", f'Token token="{token}", other="x"')])
    assert found[0].fingerprint == quoted[0].fingerprint == FP(token)
    assert_no_secret(found + quoted, token)


def test_id_and_token_without_a_scheme() -> None:
    secret = t.rand(43, seed=82)
    found = detect([("Authorization", f"fo57eya1lvvh:{secret}")])
    assert [(s.kind, s.public_id) for s in found] == [("token", "fo57eya1lvvh")]
    assert found[0].aliases == (FP(secret),)  # found again from the token alone
    assert_no_secret(found, secret)


@pytest.mark.parametrize(
    ("user", "password", "kind", "found_by"),
    [
        ("batch", "Pw-" + t.rand(14, seed=83), "basic", "password"),
        ("", t.rand(52, "abcdefghijklmnopqrstuvwxyz234567", seed=84), "basic", "password"),
        (
            "AC" + t.rand(32, "0123456789abcdef", seed=85),
            t.rand(32, "0123456789abcdef", seed=86),
            "twilio_auth_token",
            "password",
        ),
        ("agent@example.com/token", t.rand(40, seed=87), "zendesk_token", "password"),
        ("api", "key-" + t.rand(32, "0123456789abcdef", seed=88), "mailgun_key", "password"),
        (t.rand(32, seed=89), "", "basic", "user"),
    ],
)
def test_each_secret_part_of_basic_is_found_on_its_own(
    user: str, password: str, kind: str, found_by: str
) -> None:
    found = detect([("Authorization", "Basic " + b64(f"{user}:{password}"))])
    assert [s.kind for s in found] == [kind]
    part = password if found_by == "password" else user
    assert FP(part) in (found[0].fingerprint, *found[0].aliases)
    assert_no_secret(found, part)


def test_okta_ssws_scheme_names_the_key() -> None:
    key = "00" + t.rand(40, t.ALNUM + "_-", seed=90)
    found = detect([("Authorization", f"SSWS {key}")])
    assert [(s.kind, dict(s.claims)["provider"]) for s in found] == [("okta_token", "okta")]
