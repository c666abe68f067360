"""Credentials inside gRPC request messages: each string field read without the schema, so a
key is read as it was sent (not with the next field's key byte glued to it), whatever the
framing (``grpc-web-text`` base64, gzip-compressed messages) and wherever it is nested."""

from __future__ import annotations

import base64
import gzip

import pytest

from discovery.redact.credentials import RequestView, detect_credentials
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.helpers import FP, assert_no_secret

GITHUB = t.github_token(seed=23)
JWT = t.hs256_jwt({"iss": "https://idp.example", "sub": "svc-billing"})


def _field(number: int, value: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2); lengths under 16 KiB."""
    size = len(value)
    length = bytes([size]) if size < 0x80 else bytes([size & 0x7F | 0x80, size >> 7])
    return bytes([number << 3 | 2]) + length + value


def _frame(message: bytes, compressed: bool = False) -> bytes:
    payload = gzip.compress(message) if compressed else message
    return bytes([int(compressed)]) + len(payload).to_bytes(4, "big") + payload


# the key, then field 6 (key byte 0x32, "2"): read as text, the "2" would join the key
MESSAGE = _field(1, b"acct-1") + _field(2, _field(1, GITHUB.encode()) + _field(6, b"x"))
NESTED_JWT = _field(3, _field(2, _field(1, JWT.encode())))


def _found(body: bytes, content_type: str, *extra: tuple[str, str]) -> list[tuple[str, str, str]]:
    headers = (("content-type", content_type), *extra)
    view = RequestView(headers, [], "api.example", "/pkg.v1.Svc/Call", "POST", body)
    sightings = detect_credentials(view, FP)
    assert_no_secret(sightings, GITHUB)
    assert_no_secret(sightings, JWT)
    return [(s.kind, s.location, s.name) for s in sightings]


@pytest.mark.parametrize(
    ("body", "content_type", "extra"),
    [
        (_frame(MESSAGE), "application/grpc", ()),
        (_frame(MESSAGE), "application/grpc+proto", ()),
        (_frame(MESSAGE, compressed=True), "application/grpc", (("grpc-encoding", "gzip"),)),
        (_frame(MESSAGE), "application/grpc-web+proto", ()),
        (base64.b64encode(_frame(MESSAGE)), "application/grpc-web-text", ()),
    ],
    ids=["grpc", "grpc+proto", "grpc gzip", "grpc-web", "grpc-web-text"],
)
def test_a_key_in_a_request_message_is_read_as_sent(
    body: bytes, content_type: str, extra: tuple[tuple[str, str], ...]
) -> None:
    assert _found(body, content_type, *extra) == [("github_token", "body", "protobuf field 2.1")]
    in_header = detect_credentials(
        RequestView((("authorization", f"token {GITHUB}"),), [], "api.example", "/", "GET"), FP
    )
    view = RequestView(
        (("content-type", "application/grpc"),),
        [],
        "api.example",
        "/a.B/C",
        "POST",
        _frame(MESSAGE),
    )
    (in_message,) = detect_credentials(view, FP)
    assert in_message.fingerprint == in_header[0].fingerprint  # one credential, both places


def test_a_jwt_nested_deeper_and_json_messages_by_field_name() -> None:
    assert _found(_frame(NESTED_JWT), "application/grpc") == [
        ("jwt", "body", "protobuf field 3.2.1")
    ]
    json_message = b'{"account": "acct-1", "api_key": "' + GITHUB.encode() + b'"}'
    assert _found(_frame(json_message), "application/grpc+json") == [
        ("github_token", "body", "api_key")
    ]


def test_a_message_that_is_not_protobuf_yields_nothing_and_no_error() -> None:
    assert _found(_frame(b"\xff" * 64), "application/grpc") == []
    assert _found(b"\x00\x00\x00\x10", "application/grpc") == []  # cut inside the frame header
