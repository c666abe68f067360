"""Identity resolution from a credential's non-secret facts (docs/findings.md).

JWT: ``jwt:<iss>|<sub>``, else ``client:<iss>|<client id>``; AWS: ``aws:<key id>`` (an
S3-compatible store's key: ``sigv4:<key id>@<host>``); Basic:
``basic:<user>@<host>``; Digest: ``digest:<user>@<host>``; anything else is its own identity
(``cred:<credential id>``, made by the store) until the register names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLIENT_CLAIMS = ("client_id", "azp", "cid", "appid")


def jwt_identity(claims: Mapping[str, Any]) -> str | None:
    """The identity a JWT's claims name, or None."""
    iss = claims.get("iss")
    issuer = iss if isinstance(iss, str) and iss else "?"
    sub = claims.get("sub")
    if isinstance(sub, str) and sub:
        return f"jwt:{issuer}|{sub}"
    for name in CLIENT_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return f"client:{issuer}|{value}"
    return None


def identity_for(
    kind: str, public_id: str | None, claims: Mapping[str, Any], credential_id: str
) -> tuple[str, str]:
    """(identity id, identity source) a stored credential resolves to without a register."""
    if kind == "jwt":
        ident = jwt_identity(claims)
        if ident:
            return ident, "jwt"
    if kind in ("aws_sigv4", "aws_sigv2", "aws_access_key_id") and public_id:
        if claims.get("store") == "s3-compatible":
            return f"sigv4:{public_id}@{claims.get('host', '?')}", "sigv4"
        return f"aws:{public_id}", "aws"
    if kind in ("basic", "digest") and claims.get("username") and "host" in claims:
        return f"{kind}:{claims['username']}@{claims['host']}", kind
    return f"cred:{credential_id}", "credential"
