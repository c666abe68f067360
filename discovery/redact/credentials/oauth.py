"""OAuth 2.0 token requests and the tokens their responses issue: the lineage of a token.

A token request is a POST whose body names a ``grant_type`` (RFC 6749 section 4: client
credentials, password, refresh token, authorization code; RFC 7523 JWT bearer and client
assertions; RFC 8693 token exchange; RFC 8628 device code). The client is named by
``client_id`` in the body, the user of Basic client authentication, or the ``iss``/``sub`` of a
client assertion; its identity is ``client:<token endpoint host>|<client id>``. The client's own
secret (Basic or ``client_secret``) becomes a ``client_secret`` credential of that identity.

A successful response (JSON, or form-encoded as some servers still answer) issues
``access_token``, ``refresh_token``, ``id_token`` (and RFC 8693's ``issued_token``): each is
fingerprinted like any credential and reported as a sighting at location ``response`` with the
client that obtained it (``issued_by``), the grant, scope and lifetime, and the credentials of
the request that obtained it (``obtained_with``). The case keeps these as issued tokens; when an
opaque token is later presented, its fingerprint ties it to that client.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from typing import Any

from discovery.models import CredentialSighting
from discovery.redact.credentials import found
from discovery.redact.credentials.bodies import body_fields, media_type
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.jwt import decode_jwt
from discovery.redact.secrets import credential_id

ISSUED_FIELDS = {
    "access_token": "bearer",
    "refresh_token": "refresh_token",
    "id_token": "id_token",
    "issued_token": "bearer",
}
# the request fields whose credential obtains the token, in the order they speak for the client
_OBTAINING = (
    "client_secret",
    "client_assertion",
    "refresh_token",
    "assertion",
    "subject_token",
    "device_code",
    "code",
    "password",
)
_SHORT_GRANTS = {
    "urn:ietf:params:oauth:grant-type:jwt-bearer": "jwt_bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange": "token_exchange",
    "urn:ietf:params:oauth:grant-type:device_code": "device_code",
    "urn:ietf:params:oauth:grant-type:saml2-bearer": "saml2_bearer",
}
MAX_CLAIM = 256
_EXPIRES_IN = re.compile(r'"expires_in"\s*:\s*"?(\d{1,10})')


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """The public facts of one token request (raw field values stay in ``_fields``)."""

    grant_type: str
    client_id: str | None
    host: str
    username: str | None
    basic_client: bool  # the client authenticated with Basic (client_secret_basic)
    _fields: dict[str, str]

    @property
    def client_identity(self) -> str | None:
        return f"client:{self.host}|{self.client_id}" if self.client_id else None

    def facts(self) -> tuple[tuple[str, Any], ...]:
        out: dict[str, Any] = {"grant_type": self.grant_type}
        if self.client_id:
            out["client_id"] = self.client_id
        return tuple(sorted(out.items()))


def _basic_user(headers: tuple[tuple[str, str], ...]) -> str | None:
    for name, value in headers:
        if name.lower() == "authorization":
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
                except (binascii.Error, ValueError):
                    return None
                user, sep, _ = decoded.partition(":")
                return user if sep and user else None
    return None


def parse_token_request(
    method: str,
    host: str | None,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    content_type: str | None,
) -> TokenRequest | None:
    """The token request a POST is, or None (cheap for every other request)."""
    if method.upper() != "POST" or b"grant_type" not in body:
        return None
    fields: dict[str, str] = {}
    for name, value in body_fields(body, content_type):
        fields.setdefault(name.lower(), value.strip())
    grant = fields.get("grant_type")
    if not grant:
        return None
    basic = _basic_user(headers)
    client_id = fields.get("client_id") or basic
    assertion = fields.get("client_assertion")
    if not client_id and assertion:
        decoded = decode_jwt(assertion)
        if decoded is not None:
            sub, iss = decoded.claims.get("sub"), decoded.claims.get("iss")
            client_id = (
                sub if isinstance(sub, str) and sub else iss if isinstance(iss, str) else None
            )
    return TokenRequest(
        grant_type=_SHORT_GRANTS.get(grant, grant)[:MAX_CLAIM],
        client_id=client_id[:MAX_CLAIM] if client_id else None,
        host=host or "?",
        username=(fields.get("username") or None) if grant == "password" else None,
        basic_client=basic is not None and basic == client_id,
        _fields=fields,
    )


def annotate(
    sightings: list[CredentialSighting], request: TokenRequest
) -> list[CredentialSighting]:
    """The request's credentials as a token request names them: the client's secret (Basic or
    ``client_secret``) is a ``client_secret`` of the client identity; a password grant's
    password belongs to its user; every one carries the grant and client id."""
    out = []
    client = request.client_identity
    for sighting in sightings:
        facts = dict(sighting.claims)
        facts.update(request.facts())
        changes: dict[str, Any] = {"claims": tuple(sorted(facts.items()))}
        is_basic_client = (
            request.basic_client and sighting.location == "header" and sighting.kind == "basic"
        )
        if client and (is_basic_client or sighting.name.lower() == "client_secret"):
            if sighting.kind in ("basic", "client_secret", "api_key"):
                changes["kind"] = "client_secret"
            changes.update(
                identity=client,
                identity_kind="oauth_client",
                public_id=request.client_id,
                redacted=f"{request.client_id}:…" if is_basic_client else sighting.redacted,
            )
        elif sighting.name.lower() == "password" and request.username:
            user = request.username[:MAX_CLAIM]
            facts["username"] = user
            changes.update(
                kind="password",
                claims=tuple(sorted(facts.items())),
                public_id=user,
                identity=f"user:{user}@{request.host}",
                identity_kind="user",
                redacted=f"{user}:…",
            )
        out.append(replace(sighting, **changes))
    return out


def _response_fields(body: bytes, content_type: str | None) -> dict[str, str]:
    if not body:
        return {}
    kind = media_type(content_type)
    looks_form = kind == "application/x-www-form-urlencoded" or (
        "json" not in kind and body.lstrip()[:1] != b"{"
    )
    fields = body_fields(
        body, "application/x-www-form-urlencoded" if looks_form else "application/json"
    )
    out: dict[str, str] = {}
    for name, value in fields:
        out.setdefault(name.lower(), value.strip())
    if not looks_form:  # numbers are not strings in JSON: expires_in
        match = _EXPIRES_IN.search(body.decode("utf-8", "replace"))
        if match:
            out.setdefault("expires_in", match.group(1))
    return out


def issued(
    request: TokenRequest,
    status: int | None,
    response_body: bytes,
    response_type: str | None,
    request_sightings: list[CredentialSighting],
    fp: Fingerprint,
    endpoint: str,
) -> list[CredentialSighting]:
    """The tokens a successful token response issues, each tied to the client that obtained it."""
    if status is None or not 200 <= status < 300:
        return []
    fields = _response_fields(response_body, response_type)
    if not any(name in fields for name in ISSUED_FIELDS):
        return []
    obtaining = sorted(
        {
            credential_id(s.fingerprint)
            for s in request_sightings
            if s.location != "response"
            and (
                s.name.lower() in _OBTAINING
                or s.kind == "client_secret"
                or (s.location == "header" and s.name.lower() == "authorization")
            )
        }
    )
    facts: dict[str, Any] = dict(request.facts())
    facts["token_endpoint"] = endpoint[:MAX_CLAIM]
    if request.client_identity:
        facts["issued_by"] = request.client_identity
    if obtaining:
        facts["obtained_with"] = obtaining
    for name in ("token_type", "scope", "issued_token_type"):
        if fields.get(name):
            facts[name] = fields[name][:MAX_CLAIM]
    lifetime = fields.get("expires_in", "")
    out = []
    for name, kind in ISSUED_FIELDS.items():
        value = fields.get(name)
        if not value or len(value) < 8:
            continue
        sighting = found.token(fp, value, "response", name, kind)
        claims = dict(sighting.claims)
        claims.update(facts)
        if lifetime.isdigit() and name in ("access_token", "issued_token"):
            claims["expires_in"] = int(lifetime)  # the response's lifetime is the access token's
        out.append(replace(sighting, claims=tuple(sorted(claims.items()))))
    return out
