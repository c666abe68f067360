"""AWS Signature Version 4, in the Authorization header or a presigned URL's query string.

The secret access key never travels; what does is public: the access key id, the scope (date,
region, service) and, for temporary STS credentials, a session token (a secret, dropped here).
S3-compatible stores (MinIO, Cloudflare R2, Ceph, Wasabi, Backblaze B2) sign the same way with
key ids of their own shape: any key id is read; only AWS-shaped ones decode to an account.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from discovery.redact.credentials.shape import placeholder

ALGORITHM = "AWS4-HMAC-SHA256"
_KEY_ID = re.compile(r"^(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z2-7]{16}$")
_AWS_SHAPED = re.compile(r"^(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}$")
# Key ids of S3-compatible stores: MinIO user names or generated ids, R2's 32 hex, B2's key ids.
_ANY_KEY_ID = re.compile(r"^[A-Za-z0-9._\-+=@]{3,128}$")
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,\s]+)")


@dataclass(frozen=True, slots=True)
class SigV4:
    """The public facts of one SigV4 signature."""

    access_key_id: str
    date: str | None
    region: str | None
    service: str | None
    temporary: bool  # ASIA key id or a session token: an STS credential
    signed_headers: tuple[str, ...] = ()

    @property
    def account_id(self) -> str | None:
        return account_id_from_key_id(self.access_key_id)

    @property
    def aws(self) -> bool:
        """The key id has AWS's shape and is no placeholder (else an S3-compatible store's)."""
        return aws_shaped(self.access_key_id) and not placeholder(self.access_key_id, 4)

    def claims(self) -> dict[str, object]:
        facts: dict[str, object] = {
            "access_key_id": self.access_key_id,
            "date": self.date,
            "region": self.region,
            "service": self.service,
            "temporary": self.temporary,
            "store": "aws" if self.aws else "s3-compatible",
        }
        if self.aws:
            facts["provider"] = "aws"
        if self.account_id:
            facts["account_id"] = self.account_id
        return {k: v for k, v in facts.items() if v is not None}


def aws_shaped(key_id: str) -> bool:
    """True for an AWS access key id (a four-letter type prefix and 16 upper-case characters)."""
    return _AWS_SHAPED.match(key_id) is not None


def account_id_from_key_id(key_id: str) -> str | None:
    """The AWS account id encoded in an access key id (AKIA/ASIA keys issued since 2019)."""
    if not _KEY_ID.match(key_id):
        return None
    try:
        raw = base64.b32decode(key_id[4:])
    except (binascii.Error, ValueError):
        return None
    number = int.from_bytes(raw[:6], "big")
    return f"{(number & 0x7FFFFFFFFF80) >> 7:012d}"


def _scope(credential: str, session_token: bool) -> SigV4 | None:
    parts = credential.split("/")
    key_id = parts[0]
    if not _ANY_KEY_ID.match(key_id):
        return None
    scope: list[str | None] = [*parts[1:4], None, None, None]
    date, region, service = scope[0], scope[1], scope[2]
    return SigV4(key_id, date, region, service, session_token or key_id.startswith("ASIA"))


def parse_authorization(value: str, session_token: bool) -> SigV4 | None:
    """Facts of an ``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`` header."""
    parts = value.split(None, 1)  # any whitespace after the scheme, as servers read it
    if len(parts) != 2 or parts[0] != ALGORITHM:
        return None
    rest = parts[1]
    match = _CREDENTIAL.search(rest)
    if not match:
        return None
    found = _scope(match.group(1), session_token)
    if found is None:
        return None
    signed = _SIGNED_HEADERS.search(rest)
    headers = tuple(signed.group(1).split(";")) if signed else ()
    return SigV4(
        found.access_key_id,
        found.date,
        found.region,
        found.service,
        found.temporary or "x-amz-security-token" in headers,
        headers,
    )


def parse_presigned(query: dict[str, str]) -> SigV4 | None:
    """Facts of a presigned URL (``X-Amz-Algorithm``/``X-Amz-Credential``/… query parameters)."""
    lowered = {k.lower(): v for k, v in query.items()}
    if lowered.get("x-amz-algorithm") != ALGORITHM or "x-amz-credential" not in lowered:
        return None
    return _scope(lowered["x-amz-credential"], "x-amz-security-token" in lowered)
