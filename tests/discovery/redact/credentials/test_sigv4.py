"""SigV4: header and presigned forms, account id from the key id, temporary credentials."""

from __future__ import annotations

import pytest

from discovery.redact.credentials import sigv4
from tests.discovery.redact.credentials import tokens as t


@pytest.mark.parametrize(
    ("key_id", "account"),
    [
        ("ASIAY34FZKBOKMUTVV7A", "609629065308"),  # the published example of the encoding
        ("AKIAIOSFODNN7EXAMPLE", "581039954779"),
        ("AKIA0000", None),
        ("XXXXY34FZKBOKMUTVV7A", None),
    ],
)
def test_account_id_from_key_id(key_id: str, account: str | None) -> None:
    assert sigv4.account_id_from_key_id(key_id) == account


HEADER = (
    f"AWS4-HMAC-SHA256 Credential={t.AWS_KEY_ID}/20261128/eu-west-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + "ab" * 32
)


def test_header_form() -> None:
    parsed = sigv4.parse_authorization(HEADER, session_token=False)
    assert parsed is not None
    assert (parsed.access_key_id, parsed.date, parsed.region, parsed.service) == (
        t.AWS_KEY_ID,
        "20261128",
        "eu-west-1",
        "s3",
    )
    assert not parsed.temporary
    assert parsed.claims()["account_id"] == sigv4.account_id_from_key_id(t.AWS_KEY_ID)


def test_session_token_means_temporary() -> None:
    parsed = sigv4.parse_authorization(HEADER, session_token=True)
    assert parsed is not None and parsed.temporary
    asia = sigv4.parse_authorization(HEADER.replace(t.AWS_KEY_ID, t.AWS_TEMP_KEY_ID), False)
    assert asia is not None and asia.temporary


def test_presigned_form() -> None:
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{t.AWS_KEY_ID}/20261128/us-east-1/s3/aws4_request",
        "X-Amz-Signature": "cd" * 32,
        "X-Amz-Security-Token": "FwoGZXIvYXdzEJr",
    }
    parsed = sigv4.parse_presigned(query)
    assert parsed is not None
    assert parsed.region == "us-east-1" and parsed.service == "s3" and parsed.temporary


@pytest.mark.parametrize(
    "value",
    [
        "AWS4-HMAC-SHA256 Credential=<key id>/20261128/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 SignedHeaders=host",
        "AWS " + t.AWS_KEY_ID + ":sig",  # SigV2 is not this parser's
    ],
)
def test_header_near_misses(value: str) -> None:
    assert sigv4.parse_authorization(value, False) is None


def test_presigned_near_miss_without_algorithm() -> None:
    assert sigv4.parse_presigned({"X-Amz-Credential": f"{t.AWS_KEY_ID}/d/r/s/aws4_request"}) is None
