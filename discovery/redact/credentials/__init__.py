"""Credential detection in requests: each detector turns raw values into ``CredentialSighting``s
(keyed fingerprint + non-secret facts). The raw value never leaves this package.

One module per kind: ``authorization`` (Basic, Bearer, ``token``, SigV4, Digest, and the same in
``Proxy-Authorization``), ``headers`` (API-key headers), ``query``, ``cookies``, ``jwt``,
``sigv4`` and ``providers`` (keys recognised by prefix, alphabet, length and checksum).
"""

from __future__ import annotations

from functools import lru_cache

from discovery.models import CredentialSighting
from discovery.redact.credentials import authorization, cookies, headers, query
from discovery.redact.credentials.config import (
    DEFAULT_CONFIG,
    MEMO_MAX_VALUE,
    DetectorConfig,
    site_config,
)
from discovery.redact.credentials.found import Fingerprint

__all__ = ["DEFAULT_CONFIG", "DetectorConfig", "Fingerprint", "RequestView", "detect_credentials"]


class RequestView:
    """What detectors may read of one request: raw headers and decoded query pairs.

    A plain slotted class (one is built per request; a dataclass's generated ``__init__`` runs
    as Python even when this package is compiled)."""

    __slots__ = ("headers", "host", "method", "path", "query")
    headers: tuple[tuple[str, str], ...]
    query: list[tuple[str, str]]
    host: str | None
    path: str
    method: str

    def __init__(
        self,
        headers: tuple[tuple[str, str], ...],
        query: list[tuple[str, str]],
        host: str | None,
        path: str,
        method: str,
    ) -> None:
        self.headers = headers
        self.query = query
        self.host = host
        self.path = path
        self.method = method


def detect_credentials(
    view: RequestView, fp: Fingerprint, config: DetectorConfig | None = None
) -> list[CredentialSighting]:
    """Every credential this request carries, once per (credential, location, name).

    ``config`` defaults to ``site_config()``: the built-in names plus those of the file named
    by ``IR_CONSOLE_CREDENTIAL_NAMES``.
    """
    if config is None:
        config = site_config()
    found: list[CredentialSighting] = []
    session_token = any(  # the length first: a cheap test that rules out nearly every header
        len(n) == 20 and n.lower() == "x-amz-security-token" for n, _ in view.headers
    )
    for name, value in view.headers:
        if len(value) <= MEMO_MAX_VALUE:  # the same header values recur on every request
            found.extend(_header_memo(name, value, view.host, fp, session_token, config))
        else:
            found.extend(_header(name, value, view.host, fp, session_token, config))
    if view.query:
        found.extend(query.detect(view.query, fp, config))
    unique: dict[tuple[str, str, str], CredentialSighting] = {}
    for sighting in found:
        unique.setdefault(
            (sighting.fingerprint, sighting.location, sighting.name.lower()), sighting
        )
    return list(unique.values())


def _header(
    name: str,
    value: str,
    host: str | None,
    fp: Fingerprint,
    session_token: bool,
    config: DetectorConfig,
) -> tuple[CredentialSighting, ...]:
    """The credentials one header carries."""
    lname = name.lower()
    if lname in ("authorization", "proxy-authorization"):
        return tuple(authorization.detect(name, value, host, fp, session_token))
    if lname == "cookie":
        return tuple(cookies.detect(value, fp, config))
    if lname == "x-amz-security-token":
        return ()  # part of the SigV4 credential (marks it temporary); never kept
    return tuple(headers.detect(name, value, fp, config))


# Detection is a pure function of (header, host, session flag, key, config): memoised, bounded
# (entries, and value length: MEMO_MAX_VALUE), in process memory only, like the raw headers.
_header_memo = lru_cache(maxsize=4096)(_header)
