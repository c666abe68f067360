"""Credential detection in requests: each detector turns raw values into ``CredentialSighting``s
(keyed fingerprint + non-secret facts). The raw value never leaves this package."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from discovery.models import CredentialSighting
from discovery.secrets import redact

Fingerprint = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class RequestView:
    """What detectors may read of one request: raw headers and decoded query pairs."""

    headers: tuple[tuple[str, str], ...]
    query: list[tuple[str, str]]
    host: str | None
    path: str
    method: str


def _basic(value: str, host: str | None, fp: Fingerprint) -> CredentialSighting | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    user = decoded.split(":", 1)[0]
    ident = f"basic:{user}@{host or '?'}"
    return CredentialSighting(
        fingerprint=fp(value.strip()), kind="basic", location="header", name="Authorization",
        redacted=f"{user}:…", public_id=user, identity=ident, identity_kind="basic",
    )


def detect_credentials(view: RequestView, fp: Fingerprint) -> list[CredentialSighting]:
    """Every credential this request carries."""
    found: list[CredentialSighting] = []
    for name, value in view.headers:
        lname = name.lower()
        if lname == "authorization":
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "basic":
                sighting = _basic(rest, view.host, fp)
                if sighting:
                    found.append(sighting)
            elif scheme.lower() == "bearer" and rest.strip():
                token = rest.strip()
                found.append(CredentialSighting(
                    fingerprint=fp(token), kind="bearer", location="header", name=name,
                    redacted=redact(token),
                ))
        elif lname in ("x-api-key", "api-key", "x-auth-token"):
            found.append(CredentialSighting(
                fingerprint=fp(value.strip()), kind="api_key", location="header", name=name,
                redacted=redact(value.strip()),
            ))
    return found
