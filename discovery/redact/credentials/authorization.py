"""``Authorization`` and ``Proxy-Authorization``: Basic, Bearer, ``token``, SigV4, Digest, others."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import replace

from discovery.models import CredentialSighting
from discovery.redact.credentials import found, ntlm, sigv4
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.providers import match_basic, match_host, match_provider
from discovery.redact.credentials.shape import entropy, looks_secret
from discovery.redact.secrets import redact

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
# Schemes a provider documents for its API keys: the value is a key whatever its shape.
_KEY_SCHEMES = frozenset({"ssws", "flyv1", "bot"})
_NOT_SECRET_SCHEMES = frozenset(
    {"negotiate", "ntlm", "hoba", "mutual", "vapid", "scram-sha-256", "scram-sha-1"}
)


# ``Token token="…"`` (Rails' ``authenticate_with_http_token``, PagerDuty), ``key=…``: the
# token is the parameter's value, the other parameters are not part of the credential.
_TOKEN_PARAM = re.compile(
    r'^(?:token|key|api_?key|access_token)\s*=\s*(?:"([^"]{1,4096})"|([^\s,"]{1,4096}))',
    re.IGNORECASE,
)
# ``ID:TOKEN`` without a scheme (PlanetScale service tokens): a short public id and a secret.
_ID_TOKEN = re.compile(r"^([A-Za-z0-9._\-]{1,64}):([^\s:]{8,4096})$")


def token_param(value: str) -> str | None:
    """The token of ``token=…`` (``Token token="…"``), or None."""
    param = _TOKEN_PARAM.match(value)
    return None if param is None else param.group(1) or param.group(2)


def split_scheme(value: str) -> tuple[str, str]:
    """(scheme, credentials) of an Authorization value, split at the first run of whitespace:
    servers accept a tab or several spaces after the scheme (``Bearer\tTOKEN``), so the same
    token is the same credential however it was spaced."""
    parts = value.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def detect(
    name: str, value: str, host: str | None, fp: Fingerprint, session_token: bool
) -> list[CredentialSighting]:
    """Credentials in one Authorization-like header value."""
    value = value.strip()
    scheme, rest = split_scheme(value)
    lscheme = scheme.lower()
    if lscheme == "basic":
        return basic(name, rest, host, fp)
    if scheme == sigv4.ALGORITHM:
        parsed = sigv4.parse_authorization(value, session_token)
        return [aws(name, parsed, fp, "header", host=host)] if parsed else []
    if lscheme == "digest":
        return digest(name, rest, host, fp)
    if lscheme in ("ntlm", "negotiate"):
        return ntlm.detect(name, lscheme, rest, fp)
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
        rest = token_param(rest) or rest
        context = f"scheme:{lscheme}"
        return [found.token(fp, rest, "header", name, kind, context, host, scheme=lscheme)]
    if rest and (found.recognised(rest) or looks_secret(rest) or lscheme in _KEY_SCHEMES):
        kind, context = "authorization", f"scheme:{lscheme[:32]}"
        return [found.token(fp, rest, "header", name, kind, context, host, scheme=lscheme[:32])]
    if not rest:
        pair = _ID_TOKEN.match(value)
        if pair is not None and not found.recognised(value):
            return [id_token(name, pair.group(1), pair.group(2), fp)]
        if found.recognised(value) or looks_secret(value):
            return [found.token(fp, value, "header", name, "authorization", host=host)]
    if rest and lscheme not in _TOKEN_SCHEMES:
        # a scheme nobody documented with a value of no known shape: still what the server
        # was given to authenticate the request, kept as an opaque credential
        return [found.opaque(fp, value, "authorization", "header", name, scheme=lscheme[:32])]
    return []


def id_token(name: str, key_id: str, secret: str, fp: Fingerprint) -> CredentialSighting:
    """``ID:TOKEN``: a provider key is that key (its id kept as a fact); otherwise the pair is
    the credential, found again from the token alone."""
    key = match_provider(secret)
    if key is not None:
        sighting = found.provider(fp, key, "header", name)
        claims = tuple(sorted((*sighting.claims, ("key_id", key_id))))
        return found.with_aliases(replace(sighting, claims=claims), fp, f"{key_id}:{secret}")
    sighting = CredentialSighting(
        fingerprint=fp(f"{key_id}:{secret}"),
        kind="token",
        location="header",
        name=name,
        redacted=f"{key_id}:{redact(secret)}",
        public_id=key_id,
        claims=(("key_id", key_id),),
    )
    return found.with_aliases(sighting, fp, secret)


def basic(name: str, encoded: str, host: str | None, fp: Fingerprint) -> list[CredentialSighting]:
    """Basic: the username is kept, the password never; a provider key as user or password
    (``curl -u sk_live_…:``, ``x-access-token:ghs_…``, a Twilio SID with its auth token) is
    reported as that key. Either part can be looked up on its own (``credentials find``)."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return (
            [found.opaque(fp, encoded, "basic", "header", name, malformed=True)] if encoded else []
        )
    user, sep, password = decoded.partition(":")
    secret_user = _secret_user(user)
    key = match_basic(user, password) if sep else None
    for part in (password, user):
        key = key or match_provider(part)
    if key is None:  # a secret sent to a provider's documented API host is that provider's
        key = match_host(host, user if secret_user and not password else password)
    if key is not None:
        sighting = found.provider(fp, key, "header", name)
        if user and key.token != user and not secret_user:
            claims = tuple(sorted((*sighting.claims, ("username", user[:256]))))
            sighting = replace(sighting, claims=claims)
        return [found.with_aliases(sighting, fp, decoded)]
    if not sep or secret_user:
        # No separator, or a user name that is itself a key: keep nothing of it.
        sighting = found.opaque(fp, decoded, "basic", "header", name)
        return [found.with_aliases(sighting, fp, user if secret_user else "", password)]
    ident = f"basic:{user}@{host or '?'}"
    sighting = CredentialSighting(
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
    return [found.with_aliases(sighting, fp, password)]


def _secret_user(user: str) -> bool:
    """A Basic user that is itself a key (``curl -u KEY:``): a random-looking value, or a long
    high-entropy one with no sign of a name (no ``@``, no space): it is never kept."""
    if looks_secret(user, min_length=24):
        return True
    return len(user) >= 24 and "@" not in user and " " not in user and entropy(user) >= 4.0


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
    name: str,
    parsed: sigv4.SigV4,
    fp: Fingerprint,
    location: str,
    kind: str = "aws_sigv4",
    host: str | None = None,
) -> CredentialSighting:
    """A SigV4 (or v2) signature's credential: the access key id (public) stands for the key
    pair. An S3-compatible store's key id is its own identity at that host."""
    key_id = parsed.access_key_id
    ident = f"aws:{key_id}" if parsed.aws else f"sigv4:{key_id}@{host or '?'}"
    claims = parsed.claims()
    if not parsed.aws:
        claims["host"] = host or "?"
    return CredentialSighting(
        fingerprint=fp(key_id) if parsed.aws else fp(f"sigv4:{key_id}@{host or '?'}"),
        kind=kind,
        location=location,
        name=name,
        redacted=key_id[:128],
        public_id=key_id[:128],
        identity=ident,
        identity_kind="aws" if parsed.aws else "sigv4",
        claims=tuple(sorted(claims.items())),
    )
