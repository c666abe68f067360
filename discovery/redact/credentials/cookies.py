"""Credentials in cookies: session-like names, JWT values, provider keys."""

from __future__ import annotations

from discovery.models import CredentialSighting
from discovery.redact.credentials import found
from discovery.redact.credentials.config import DetectorConfig
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.headers import embedded
from discovery.redact.credentials.shape import near_miss

MIN_SESSION_LENGTH = 8


def parse_cookie_header(value: str) -> list[tuple[str, str]]:
    """``name=value`` pairs of a Cookie header (quotes around a value removed)."""
    pairs = []
    for part in value.split(";"):
        name, sep, val = part.strip().partition("=")
        if not sep or not name:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        pairs.append((name.strip(), val))
    return pairs


def detect(value: str, fp: Fingerprint, config: DetectorConfig) -> list[CredentialSighting]:
    """Credentials in one Cookie header."""
    out: list[CredentialSighting] = []
    for name, val in parse_cookie_header(value):
        if not val:
            continue
        if found.recognised(val):
            out.append(found.token(fp, val, "cookie", name, "session_cookie"))
        elif config.is_session_cookie(name):
            if len(val) >= MIN_SESSION_LENGTH and near_miss(val) not in ("words", "number"):
                out.append(found.token(fp, val, "cookie", name, "session_cookie"))
        else:
            out.extend(embedded(val, "cookie", name, fp))
    return out
