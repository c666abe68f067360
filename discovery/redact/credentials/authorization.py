"""``Authorization`` and ``Proxy-Authorization``: Basic, Bearer, ``token``, SigV4, Digest, others."""

from __future__ import annotations

import base64
import binascii
import re

from discovery.models import CredentialSighting
from discovery.redact.credentials import found, sigv4
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.providers import match_provider
from discovery.redact.credentials.shape import looks_secret

_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_TOKEN_SCHEMES = frozenset(
    {
        "bearer",
        "token",
        "jwt",
        "oauth",
        "apikey",
        "api-key",
        "key",
        "sso-key",
        "ssws",
        "bot",
        "dpop",
        "pat",
    }
)
# Per-request signatures name their key: HTTP Message Signatures / Cavage (keyId), Hawk (id),
# Azure HMAC (Credential). The key id identifies the credential; the signature changes each time.
_SIGNING_KEY_ID = re.compile(
    r'(?:^|[\s,&])(keyId|id|Credential)\s*=\s*(?:"([^"]{1,256})"|([^\s,&"]{1,256}))'
)
_NOT_SECRET_SCHEMES = frozenset(
    {"negotiate", "ntlm", "hoba", "mutual", "vapid", "scram-sha-256", "scram-sha-1"}
)


def detect(
    name: str, value: str, host: str | None, fp: Fingerprint, session_token: bool
) -> list[CredentialSighting]:
    """Credentials in one Authorization-like header value."""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    rest = rest.strip()
    lscheme = scheme.lower()
    if lscheme == "basic":
        return basic(name, rest, host, fp)
    if scheme == sigv4.ALGORITHM:
        parsed = sigv4.parse_authorization(value, session_token)
        return [aws(name, parsed, fp, "header")] if parsed else []
    if lscheme == "digest":
        return digest(name, rest, host, fp)
    if lscheme in _NOT_SECRET_SCHEMES or not value:
        return []
    if lscheme == "aws" and ":" in rest:  # Signature Version 2: "AWS AKID:signature"
        key_id = rest.split(":", 1)[0]
        if sigv4.account_id_from_key_id(key_id) is not None:
            temporary = session_token or key_id.startswith("ASIA")
            parsed = sigv4.SigV4(key_id, None, None, None, temporary)
            return [aws(name, parsed, fp, "header", kind="aws_sigv2")]
    if lscheme not in _TOKEN_SCHEMES:
        key = _SIGNING_KEY_ID.search(rest)
        if key:
            return [signed(name, lscheme, key.group(2) or key.group(3), fp)]
    if lscheme in _TOKEN_SCHEMES and rest:
        kind = "bearer" if lscheme in ("bearer", "dpop") else "token"
        return [found.token(fp, rest, "header", name, kind, scheme=lscheme)]
    if rest and (found.recognised(rest) or looks_secret(rest)):
        return [found.token(fp, rest, "header", name, "authorization", scheme=lscheme[:32])]
    if not rest and (found.recognised(value) or looks_secret(value)):
        return [found.token(fp, value, "header", name, "authorization")]
    return []


def basic(name: str, encoded: str, host: str | None, fp: Fingerprint) -> list[CredentialSighting]:
    """Basic: the username is kept, the password never; a provider key as user or password
    (``curl -u sk_live_…:``, ``x-access-token:ghs_…``) is reported as that key."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return (
            [found.opaque(fp, encoded, "basic", "header", name, malformed=True)] if encoded else []
        )
    user, sep, password = decoded.partition(":")
    for part in (password, user):
        key = match_provider(part)
        if key is not None:
            return [found.provider(fp, key, "header", name)]
    if not sep or looks_secret(user, min_length=24):
        # No separator, or a user name that is itself a key: keep nothing of it.
        return [found.opaque(fp, decoded, "basic", "header", name)]
    ident = f"basic:{user}@{host or '?'}"
    return [
        CredentialSighting(
            fingerprint=fp(decoded),
            kind="basic",
            location="header",
            name=name,
            redacted=f"{user}:…",
            public_id=user,
            identity=ident,
            identity_kind="basic",
            claims=(("host", host or "?"), ("username", user)),
        )
    ]


def digest(name: str, params: str, host: str | None, fp: Fingerprint) -> list[CredentialSighting]:
    """Digest: the password never travels; username and realm identify the credential."""
    fields = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _DIGEST_PARAM.finditer(params)
    }
    user = fields.get("username")
    if not user:
        return []
    realm = fields.get("realm") or ""
    facts = tuple(
        sorted(
            (k, v)
            for k, v in (
                ("username", user),
                ("realm", realm),
                ("algorithm", fields.get("algorithm")),
                ("host", host or "?"),
            )
            if v
        )
    )
    return [
        CredentialSighting(
            fingerprint=fp(f"digest:{user}:{realm}"),
            kind="digest",
            location="header",
            name=name,
            redacted=f"{user}:…",
            public_id=user,
            identity=f"digest:{user}@{host or '?'}",
            identity_kind="digest",
            claims=facts,
        )
    ]


def signed(name: str, scheme: str, key_id: str, fp: Fingerprint) -> CredentialSighting:
    """A signed-request scheme: the (public) key id stands for the signing key, which never travels."""
    return CredentialSighting(
        fingerprint=fp(f"{scheme}:{key_id}"),
        kind="signed_request",
        location="header",
        name=name,
        redacted=key_id[:64],
        public_id=key_id[:256],
        claims=(("key_id", key_id[:256]), ("scheme", scheme[:32])),
    )


def aws(
    name: str, parsed: sigv4.SigV4, fp: Fingerprint, location: str, kind: str = "aws_sigv4"
) -> CredentialSighting:
    """An AWS signature's credential: the access key id (public) stands for the key pair."""
    return CredentialSighting(
        fingerprint=fp(parsed.access_key_id),
        kind=kind,
        location=location,
        name=name,
        redacted=parsed.access_key_id,
        public_id=parsed.access_key_id,
        identity=f"aws:{parsed.access_key_id}",
        identity_kind="aws",
        claims=tuple(sorted(parsed.claims().items())),
    )
