"""API keys in request headers: a configured list of names, names that suggest a credential,
and JWTs or provider keys in any other header value."""

from __future__ import annotations

from discovery.models import CredentialSighting
from discovery.redact.credentials import found
from discovery.redact.credentials.config import DetectorConfig, squash
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.jwt import JWT_IN_TEXT, decode_jwt
from discovery.redact.credentials.providers import find_provider_keys
from discovery.redact.credentials.shape import looks_secret

MIN_API_KEY_LENGTH = 8


def detect(
    name: str, value: str, fp: Fingerprint, config: DetectorConfig, host: str | None = None
) -> list[CredentialSighting]:
    """Credentials in one header that is not Authorization or Cookie."""
    value = value.strip()
    if not value:
        return []
    context = "header:" + squash(name)
    if config.is_api_key_header(name):
        if len(value) < MIN_API_KEY_LENGTH and not found.recognised(value):
            return []
        return [found.token(fp, value, "header", name, "api_key", context, host)]
    if config.maybe_credential_header(name) and (found.recognised(value) or looks_secret(value)):
        return [found.token(fp, value, "header", name, "api_key", context, host)]
    return embedded(value, "header", name, fp)


def embedded(text: str, location: str, name: str, fp: Fingerprint) -> list[CredentialSighting]:
    """JWTs and provider keys inside a longer value."""
    out = [found.provider(fp, key, location, name) for key in find_provider_keys(text)]
    if "eyJ" not in text:
        return out
    for match in JWT_IN_TEXT.finditer(text):
        decoded = decode_jwt(match.group(0))
        if decoded is not None:
            out.append(found.jwt(fp, match.group(0), decoded, location, name))
    return out
