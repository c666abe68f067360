"""Passwords by the name of their parameter: a query parameter named like a password
(``login.cgi?USER=admin&PASSWORD=12345678``, an IoT device's login) is a secret whatever its
shape, numbers included (the shape filter that keeps ids and page numbers out of the query
detector does not apply to it), and the user parameter beside it names whose it is. The
password is fingerprinted like any secret and never kept. (Request bodies, login forms among
them, are read by ``bodies``.)
"""

from __future__ import annotations

from discovery.models import CredentialSighting
from discovery.redact.credentials.config import squash
from discovery.redact.credentials.found import Fingerprint

PASSWORD_NAMES = frozenset(
    {"password", "passwd", "pwd", "pass", "passwort", "passcode", "pin", "userpassword",
     "loginpassword", "currentpassword", "oldpassword", "newpassword", "jpassword"}
)  # fmt: skip
USER_NAMES = frozenset(
    {"user", "username", "login", "email", "userid", "uname", "loginname", "account",
     "jusername", "usr"}
)  # fmt: skip
MIN_PASSWORD = 4  # shorter values are flags ("pass=1"), not passwords
MAX_FIELDS = 200


def is_password_name(squashed: str) -> bool:
    return squashed in PASSWORD_NAMES


def from_pairs(
    pairs: list[tuple[str, str]], location: str, host: str | None, fp: Fingerprint
) -> list[CredentialSighting]:
    """The passwords among (name, value) pairs, each tied to the user field beside it."""
    user = ""
    for name, value in pairs[:MAX_FIELDS]:
        if squash(name) in USER_NAMES and value.strip():
            user = "".join(c for c in value.strip() if c.isprintable())[:128]
            break
    out = []
    for name, value in pairs[:MAX_FIELDS]:
        secret = value.strip()
        if len(secret) < MIN_PASSWORD or squash(name) not in PASSWORD_NAMES:
            continue
        claims = (("field", name[:64]), ("host", host or "?"))
        out.append(
            CredentialSighting(
                fingerprint=fp(secret),
                kind="password",
                location=location,
                name=name[:64],
                redacted=f"{user}:…" if user else "…",
                public_id=user or None,
                identity=f"password:{user}@{host or '?'}" if user else None,
                identity_kind="password" if user else None,
                claims=(*claims, ("username", user)) if user else claims,
            )
        )
    return out
