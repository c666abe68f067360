"""Credentials in request bodies: form, JSON and multipart fields, prefixes cut short, mislabelled
bodies, near misses; the same credential as in a header."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from discovery.redact.credentials import RequestView, detect_credentials
from discovery.redact.credentials.bodies import body_fields, names_credential
from discovery.redact.credentials.config import DEFAULT_CONFIG, extended
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.helpers import FP, assert_no_secret

SECRET = "Cs_" + t.rand(37, seed=61)
REFRESH = t.rand(48, t.ALNUM + "-_", seed=62)
JWT = t.hs256_jwt({"iss": "https://idp", "sub": "svc-7"})


def detect_body(
    body: bytes, content_type: str | None = None, headers: tuple[tuple[str, str], ...] = ()
) -> list[tuple[str, str, str]]:
    view = RequestView(
        headers=headers,
        query=[],
        host="auth.example",
        path="/oauth/token",
        method="POST",
        body=body,
        content_type=content_type,
    )
    found = detect_credentials(view, FP)
    for secret in (SECRET, REFRESH, JWT, t.GOOGLE):
        assert_no_secret(found, secret)
    return [(s.kind, s.location, s.name) for s in found]


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            urlencode(
                {"grant_type": "client_credentials", "client_id": "a", "client_secret": SECRET}
            ),
            FORM,
            [("client_secret", "body", "client_secret")],
        ),
        (
            urlencode({"grant_type": "refresh_token", "refresh_token": REFRESH}),
            FORM,
            [("refresh_token", "body", "refresh_token")],
        ),
        (
            urlencode({"grant_type": "password", "username": "ops", "password": "hunter2"}),
            FORM,
            [("password", "body", "password")],
        ),
        (
            urlencode(
                {
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": JWT,
                }
            ),
            FORM,
            [("jwt", "body", "assertion")],
        ),
        (
            json.dumps({"api_key": SECRET, "q": "x"}),
            "application/json",
            [("api_key", "body", "api_key")],
        ),
        (
            json.dumps({"auth": {"credentials": [{"token": SECRET}]}}),
            "application/vnd.api+json",
            [("api_key", "body", "token")],
        ),
        (
            json.dumps({"note": f"use {t.GOOGLE}"}),
            "application/json",
            [("google_api_key", "body", "note")],
        ),
        # mislabelled or unlabelled bodies are read by their look, as servers do
        (
            json.dumps({"client_secret": SECRET}),
            "text/plain",
            [("client_secret", "body", "client_secret")],
        ),
        (f"client_secret={SECRET}&client_id=x", None, [("client_secret", "body", "client_secret")]),
        # a prefix cut inside a later value keeps the fields before it
        (
            '{"api_key": "' + SECRET + '", "blob": "' + "A" * 50,
            "application/json",
            [("api_key", "body", "api_key")],
        ),
        # escapes inside JSON strings
        (
            '{"client_secret": "' + SECRET[:10] + "\\u0041" + SECRET[10:] + '"}',
            "application/json",
            [("client_secret", "body", "client_secret")],
        ),
    ],
)
def test_body_fields_carry_credentials(
    body: str, content_type: str | None, expected: list[tuple[str, str, str]]
) -> None:
    assert detect_body(body.encode(), content_type) == expected


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"sku": "A-1", "qty": 2, "note": "x" * 40}), "application/json"),
        (json.dumps({"token_type": "bearer", "expires_in": 3600}), "application/json"),
        (json.dumps({"api_key": "short"}), "application/json"),
        (json.dumps({"secret": "not-a-secret-at-all"}), "application/json"),
        (
            json.dumps({"idempotency_key": "550e8400-e29b-41d4-a716-446655440000"}),
            "application/json",
        ),
        (urlencode({"grant_type": "client_credentials", "client_id": "svc"}), FORM),
        ("password reset requested for ops@example.com", "text/plain"),
        (json.dumps({"token": 1234567890123}), "application/json"),
    ],
)
def test_body_near_misses(body: str, content_type: str) -> None:
    assert detect_body(body.encode(), content_type) == []


def test_multipart_text_fields_are_read_and_file_parts_skipped() -> None:
    boundary = "----irc" + t.rand(12, seed=63)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="k.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nclient_secret={SECRET}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="client_secret"\r\n\r\n'
        f"{SECRET}\r\n--{boundary}--\r\n"
    ).encode()
    ctype = f"multipart/form-data; boundary={boundary}"
    assert body_fields(body, ctype) == [("client_secret", SECRET)]
    assert detect_body(body, ctype) == [("client_secret", "body", "client_secret")]


def test_the_content_type_header_is_used_when_none_is_given() -> None:
    body = json.dumps({"client_secret": SECRET}).encode()
    assert detect_body(body, None, (("Content-Type", "application/json"),)) == [
        ("client_secret", "body", "client_secret")
    ]


def test_a_body_credential_is_the_same_credential_as_in_a_header() -> None:
    in_body = detect_credentials(
        RequestView((), [], "h", "/", "POST", json.dumps({"token": SECRET}).encode()), FP
    )
    in_header = detect_credentials(
        RequestView((("Authorization", f"Bearer {SECRET}"),), [], "h", "/", "GET"), FP
    )
    assert in_body[0].fingerprint == in_header[0].fingerprint


def test_configured_body_fields_are_read() -> None:
    config = extended(DEFAULT_CONFIG, {"body_fields": ["license_code"]}, "names.yaml")
    view = RequestView((), [], "h", "/", "POST", json.dumps({"license_code": SECRET}).encode())
    assert detect_credentials(view, FP) == []
    assert [s.name for s in detect_credentials(view, FP, config)] == ["license_code"]


def test_hostile_bodies_are_bounded() -> None:
    body = ("&".join(f"f{i}=v" for i in range(100_000)) + f"&client_secret={SECRET}").encode()
    assert len(body_fields(body, FORM)) == 512  # fields read per body are capped
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    assert detect_body(deep, "application/json") == []


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b'{"Client_SECRET": "x"}', True),
        (b"PassWord=hunter2", True),
        (b'{"X-Api-KEY": 1}', True),
        (b"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&ASSERTION=x", True),
        (b'{"sku": "A-1", "qty": 2}', False),
        (b"", False),
    ],
)
def test_the_gate_finds_credential_words_in_any_case(body: bytes, names: bool) -> None:
    assert names_credential(body) is names


def test_a_credential_named_field_deep_in_a_large_body_is_found() -> None:
    """The gate reads the whole body: a field named in upper case after 40 KB of data."""
    rows = [{"n": i, "qty": i % 7, "total": i * 3.5} for i in range(1500)]
    body = json.dumps({"items": rows, "CLIENT_SECRET": SECRET}).encode()
    assert len(body) > 40_000
    assert detect_body(body, "application/json") == [("client_secret", "body", "CLIENT_SECRET")]
