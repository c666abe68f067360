"""Building sightings: the one place a raw value becomes a fingerprint and is let go."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from discovery.models import CredentialSighting
from discovery.redact.credentials.jwt import DecodedJwt, decode_jwt
from discovery.redact.credentials.providers import (
    ProviderKey,
    match_host,
    match_in_context,
    match_provider,
)
from discovery.redact.credentials.shape import key_prefix
from discovery.redact.credentials.sigv4 import account_id_from_key_id
from discovery.redact.secrets import redact

Fingerprint = Callable[[str], str]


def _claims(values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, v) for k, v in values.items() if v is not None))


def opaque(
    fp: Fingerprint, secret: str, kind: str, location: str, name: str, **facts: Any
) -> CredentialSighting:
    """An opaque credential: its own identity, redacted to a structured prefix and its last
    characters (``acme_pk_globex_…x9Qa``)."""
    prefix = key_prefix(secret)
    return CredentialSighting(
        fingerprint=fp(secret),
        kind=kind,
        location=location,
        name=name,
        redacted=redact(secret, keep_prefix=len(prefix or "")),
        public_id=prefix,
        claims=_claims(facts),
    )


def jwt(
    fp: Fingerprint, token: str, decoded: DecodedJwt, location: str, name: str
) -> CredentialSighting:
    """A JWT: claims decoded (unverified), identity from iss/sub or the client id."""
    claims: dict[str, Any] = dict(decoded.claims)
    claims.update({f"header.{k}": v for k, v in decoded.header.items()})
    if decoded.unsigned:
        claims["alg_none"] = True
    claims["lifetime"] = decoded.lifetime
    identity = decoded.identity()
    jti = decoded.claims.get("jti")
    return CredentialSighting(
        fingerprint=fp(token),
        kind="jwt",
        location=location,
        name=name,
        redacted=redact(token, keep_prefix=3),
        public_id=jti if isinstance(jti, str) else None,
        identity=identity,
        identity_kind="jwt" if identity else None,
        claims=_claims(claims),
        issued_at=decoded.time("iat"),
        expires_at=decoded.time("exp"),
    )


def provider(fp: Fingerprint, key: ProviderKey, location: str, name: str) -> CredentialSighting:
    """A provider key: kind from its format, redacted keeping the documented prefix."""
    facts: dict[str, Any] = dict(key.public_facts)
    if key.pattern.kind == "aws_access_key_id":
        facts["account_id"] = account_id_from_key_id(key.token)
        return CredentialSighting(
            fingerprint=fp(key.token),
            kind=key.pattern.kind,
            location=location,
            name=name,
            redacted=key.token,
            public_id=key.token,
            identity=f"aws:{key.token}",
            identity_kind="aws",
            claims=_claims(facts),
        )
    return CredentialSighting(
        fingerprint=fp(key.token),
        kind=key.pattern.kind,
        location=location,
        name=name,
        redacted=redact(key.token, keep_prefix=len(key.prefix)),
        public_id=key.prefix or None,
        claims=_claims(facts),
    )


def token(
    fp: Fingerprint,
    value: str,
    location: str,
    name: str,
    default_kind: str,
    context: str | None = None,
    host: str | None = None,
    **facts: Any,
) -> CredentialSighting:
    """A token of unknown type: a JWT, a provider key (by its format, or by the format of the
    place it travels in: ``context``, see ``providers.match_in_context``; or by the provider API
    ``host`` it was sent to), or an opaque ``default_kind`` credential."""
    decoded = decode_jwt(value)
    if decoded is not None:
        return jwt(fp, value, decoded, location, name)
    key = match_in_context(context, value) if context else match_provider(value)
    if key is None and host:
        key = match_host(host, value)
    if key is not None:
        return provider(fp, key, location, name)
    return opaque(fp, value, default_kind, location, name, **facts)


def with_aliases(sighting: CredentialSighting, fp: Fingerprint, *parts: str) -> CredentialSighting:
    """The sighting, also found by the fingerprints of ``parts`` (secret parts a responder may
    hold on their own: a Basic password, the token of ``id:token``)."""
    aliases = tuple(dict.fromkeys(fp(p) for p in parts if p and fp(p) != sighting.fingerprint))
    return replace(sighting, aliases=aliases) if aliases else sighting


def recognised(value: str) -> bool:
    """True when a value is a JWT or a provider key by its format alone."""
    return decode_jwt(value) is not None or match_provider(value) is not None


def redacted_form(value: str) -> str:
    """The redacted form a value is stored under where it would otherwise appear (a query
    parameter name): the same as its sighting's, without fingerprinting it."""
    decoded = decode_jwt(value)
    if decoded is not None:
        return redact(value, keep_prefix=3)
    key = match_provider(value)
    if key is not None:
        return (
            key.token
            if key.pattern.kind == "aws_access_key_id"
            else redact(key.token, keep_prefix=len(key.prefix))
        )
    return redact(value, keep_prefix=len(key_prefix(value) or ""))
