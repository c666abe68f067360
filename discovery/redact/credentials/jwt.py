"""JWTs decoded without verification: header and the non-secret claims, lifetime, ``alg: none``.

Only the facts an investigator needs are kept (issuer, subject, audience, client, scopes, roles,
times, token id); the signature and any other claim are dropped with the raw token.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from discovery.redact.credentials.identity import jwt_identity

_SEGMENT = r"[A-Za-z0-9_\-]+"
# A JWS in compact form: header.payload.signature (the signature is empty for alg "none").
_JWS = re.compile(rf"^eyJ{_SEGMENT}\.eyJ{_SEGMENT}\.[A-Za-z0-9_\-]*$")
JWT_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9_\-.])eyJ{_SEGMENT}\.eyJ{_SEGMENT}\.[A-Za-z0-9_\-]*")

KEPT_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "azp",
    "client_id",
    "cid",
    "appid",
    "scope",
    "scp",
    "roles",
    "groups",
    "exp",
    "iat",
    "nbf",
    "jti",
    "tid",
    "token_use",
    "grant_type",
)
KEPT_HEADER = ("alg", "kid", "typ")
MAX_CLAIM_CHARS = 512
MAX_LIST_ITEMS = 50
MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z, the last time ISO 8601 output can show


@dataclass(frozen=True, slots=True)
class DecodedJwt:
    """A JWT's public facts."""

    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def alg(self) -> str | None:
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else None

    @property
    def unsigned(self) -> bool:
        return (self.alg or "").lower() == "none"

    def time(self, name: str) -> float | None:
        """A NumericDate claim as epoch seconds, or None when absent or outside years 1970-9999."""
        value = self.claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if 0 <= value <= MAX_EPOCH else None

    @property
    def lifetime(self) -> float | None:
        exp, iat = self.time("exp"), self.time("iat")
        if exp is None:
            return None
        start = iat if iat is not None else self.time("nbf")
        return None if start is None else exp - start

    @property
    def client_id(self) -> str | None:
        for name in ("client_id", "azp", "cid", "appid"):
            value = self.claims.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def scopes(self) -> list[str]:
        """Scopes from ``scope`` (space separated) or ``scp`` (list or string)."""
        out: list[str] = []
        for name in ("scope", "scp"):
            value = self.claims.get(name)
            if isinstance(value, str):
                out.extend(value.split())
            elif isinstance(value, list):
                out.extend(str(v) for v in value)
        return list(dict.fromkeys(out))

    def identity(self) -> str | None:
        """``jwt:<iss>|<sub>``, else ``client:<iss>|<client id>``, else None."""
        return jwt_identity(self.claims)


def looks_like_jwt(token: str) -> bool:
    """True for the compact JWS shape (``eyJ….eyJ….sig``)."""
    return len(token) < 16384 and _JWS.match(token) is not None


def _b64url_json(segment: str) -> dict[str, Any] | None:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None  # RecursionError: JSON nested deeper than the parser's stack (hostile)
    return value if isinstance(value, dict) else None


def _bounded(value: Any) -> Any:
    """Keep claim values small and JSON-plain (captured claims are attacker controlled)."""
    if isinstance(value, str):
        return value[:MAX_CLAIM_CHARS]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # Python's json accepts Infinity/NaN; they are not JSON
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return None  # beyond what JSON consumers can represent exactly
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list):
        return [_bounded(v) for v in value[:MAX_LIST_ITEMS] if not isinstance(v, dict | list)]
    return None


def decode_jwt(token: str) -> DecodedJwt | None:
    """Header and kept claims of a compact JWS, without verifying it; None if not a JWT."""
    if not looks_like_jwt(token):
        return None
    head, payload, _sig = token.split(".")
    header = _b64url_json(head)
    claims = _b64url_json(payload)
    if header is None or claims is None or not isinstance(header.get("alg"), str):
        return None
    return DecodedJwt(
        header={k: _bounded(header[k]) for k in KEPT_HEADER if k in header},
        claims={k: _bounded(claims[k]) for k in KEPT_CLAIMS if k in claims},
    )
