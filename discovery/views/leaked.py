"""Was a leaked secret seen? One raw secret, pasted or typed by a responder, looked up by its
keyed fingerprint in every form it may have travelled in. ``credentials find`` and the console's
find box (``f`` on Credentials) both answer through here, so they agree.

The secret is never stored, logged or returned: only its fingerprints are compared.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from typing import Any

from discovery.case.store import Store
from discovery.redact.credentials.authorization import split_scheme, token_param
from discovery.redact.credentials.jwt import JWT_IN_TEXT
from discovery.redact.credentials.providers import find_provider_keys
from discovery.views import queries

_SCHEMES = ("bearer", "token", "basic")


_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+)?[\w.\-"']{1,80}\s*[=:]\s*["']?([^"'\s]+)["']?\s*,?\s*$"""
)


def candidates(line: str) -> list[str]:
    """The forms a pasted secret may have been stored under: as given; without a header name
    (``Authorization:``) or scheme (``Bearer``/``token``/``Basic``, any spacing) in front; the
    token of ``Token token=…``; both parts of a Basic pair; the value of a ``NAME=value`` /
    ``"name": "value"`` line (``.env`` files, JSON, AWS credential files); and every provider key
    or JWT inside the line (an AWS key id stands for its SigV4 credential). A bare secret that
    travelled inside Basic or ``id:token`` is found through the case's aliases."""
    value = line.strip()
    out = [value]
    assigned = _ASSIGNMENT.match(value)
    if assigned:
        out.append(assigned.group(1))
    out.extend(key.token for key in find_provider_keys(value))
    out.extend(match.group(0) for match in JWT_IN_TEXT.finditer(value))
    name, sep, rest = value.partition(":")
    if sep and name.strip().lower() in (
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "cookie",
    ):
        value = rest.strip()
        out.append(value)
    scheme, token = split_scheme(value)
    if scheme.lower() in _SCHEMES and token:
        out.append(token)
        param = token_param(token)
        if param:
            out.append(param)
        if scheme.lower() == "basic":
            # not base64: the token as given is already a candidate
            with contextlib.suppress(binascii.Error, ValueError):
                pair = base64.b64decode(token, validate=True).decode("utf-8")
                out.append(pair)
                out.extend(pair.split(":", 1))
    return [c for c in dict.fromkeys(out) if c]


def lookup(store: Store, secret: str) -> dict[str, Any]:
    """``{"found": bool, "credential": {...} | None, "issued": {...} | None}`` for one raw
    secret: ``found`` when it was presented in traffic; ``issued`` when an OAuth token response
    in the case issued it (to which client, by which grant, when), even if never presented."""
    issued = None
    for candidate in candidates(secret):
        fingerprint = store.fingerprint(candidate)
        row = queries.credential_by_fingerprint(store, fingerprint)
        issued = issued or queries.issued_token_by_fingerprint(store, fingerprint)
        if row is not None:
            return {"found": True, "credential": row, "issued": issued}
    return {"found": False, "credential": None, "issued": issued}


def describe(result: dict[str, Any]) -> str:
    """One line saying what ``lookup`` found (ids, redacted forms and counts only)."""
    cred, issued = result["credential"], result.get("issued")
    if cred is None and issued is not None:
        return (
            f"ISSUED, never presented: {issued['name']} {issued['redacted']} issued to "
            f"{issued['issued_by'] or 'an unnamed client'} ({issued['grant_type']} grant at "
            f"{issued['token_endpoint']}) for {issued['issued_to']} at {issued['issued_at']}"
        )
    if cred is None:
        return "not seen in this case"
    return (
        f"SEEN: {cred['id']} {cred['kind']} {cred['redacted']} identity {cred['identity']}; "
        f"{cred['requests']} requests from {len(cred['sources'])} sources to "
        f"{len(cred['endpoints'])} endpoints, {cred['first_seen']} .. {cred['last_seen']}"
    )
