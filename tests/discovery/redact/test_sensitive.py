"""Sensitive data in bodies: kinds and counts, checksums, near misses."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from discovery.redact.sensitive import iban_ok, luhn_ok, scan_bodies, scan_text
from tests.discovery.redact.credentials import tokens as t

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contact dana.lee@example.com or ops@acme.example", {"email": 2}),
        ("card 4111 1111 1111 1111 exp 12/30", {"payment_card": 1}),
        ("5555-5555-5555-4444", {"payment_card": 1}),
        ('{"pan":"378282246310005"}', {"payment_card": 1}),
        ("GB82 WEST 1234 5698 7654 32", {"iban": 1}),
        ("DE89370400440532013000", {"iban": 1}),
        (PEM, {"private_key": 1}),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", {"private_key": 1}),
        (json.dumps({"id_token": t.hs256_jwt({"sub": "x"})}), {"jwt": 1}),
        (
            json.dumps({"k": t.STRIPE_LIVE, "g": t.github_token()}),
            {"stripe_key": 1, "github_token": 1},
        ),
    ],
)
def test_kinds_are_counted(text: str, expected: dict[str, int]) -> None:
    assert scan_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "ts 1790000000123 and 1790000000",  # timestamps are not cards
        "order 6011000990139425.5",  # decimal number
        "DE89370400440532013001",  # IBAN checksum fails
        "GB82 WEST 1234 5698 7654",  # IBAN too short for GB
        str(uuid.UUID(int=0x1234_5678_9ABC)),
        hashlib.sha256(b"x").hexdigest(),
        "-----BEGIN PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----",
        "user@localhost and foo@bar",
        "v1.2.3 eyJhbGciOi.notjwt",
        t.corrupt_last(t.github_token()),
    ],
)
def test_near_misses_count_nothing(text: str) -> None:
    assert scan_text(text) == {}


def test_scan_bodies_sums_both_directions_and_keeps_no_value() -> None:
    result = scan_bodies(b"a@example.com", b'{"email":"b@example.com","pan":"4111111111111111"}')
    assert result == (("email", 2), ("payment_card", 1))
    assert "example.com" not in repr(result)


def test_invalid_utf8_is_scanned_not_raised() -> None:
    assert scan_bodies(b"\xff\xfe a@example.com \xc3") == (("email", 1),)


@pytest.mark.parametrize(("digits", "ok"), [("79927398713", True), ("79927398710", False)])
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_ok(digits) is ok


@pytest.mark.parametrize(
    ("iban", "ok"), [("NL91ABNA0417164300", True), ("NL91ABNA0417164301", False), ("XX00", False)]
)
def test_iban(iban: str, ok: bool) -> None:
    assert iban_ok(iban) is ok


# The byte-level gates of scan_bodies skip patterns that cannot match; they must never skip one
# that would. The reference below scans every body with every pattern, as before the gates.
def _ungated(*bodies: bytes) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for body in bodies:
        for kind, n in scan_text(body.decode("utf-8", "replace")).items():
            counts[kind] = counts.get(kind, 0) + n
    return tuple(sorted(counts.items()))


_PIECES = [
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "378282246310005",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "dana.lee@example.com",
    PEM,
    t.STRIPE_LIVE,
    t.github_token(),
    "AKIAIOSFODNN7EXAMPLE",
    '{"id": 325400, "total": 10.5}',
    "\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661",
    "Ω",
    " ",
    "-",
    "\n",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_PIECES), st.text(max_size=40), st.binary(max_size=40)),
        max_size=8,
    )
)
def test_gates_never_hide_a_match(parts: list[str | bytes]) -> None:
    body = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
    assert scan_bodies(body) == _ungated(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"card": "4111 1111 1111 1111"}',
        b"iban=GB82WEST12345698765432&x=1",
        t.STRIPE_LIVE.encode(),
        ("token: " + t.github_token()).encode(),
        "Ω card 4111 1111 1111 1111, iban GB82 WEST 1234 5698 7654 32".encode(),
    ],
)
def test_gates_let_real_findings_through(body: bytes) -> None:
    assert scan_bodies(body) == _ungated(body) != ()
