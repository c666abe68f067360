"""Credential detection in requests: each detector turns raw values into ``CredentialSighting``s
(keyed fingerprint + non-secret facts). The raw value never leaves this package.

One module per place or kind: ``authorization`` (Basic, Bearer, ``token``, SigV4, Digest, and
the same in ``Proxy-Authorization``), ``headers`` (API-key headers), ``query``, ``cookies``,
``bodies`` (form, JSON and multipart fields), ``messages`` (gRPC request messages), ``pathsecrets`` (tokens and webhook secrets in the
path), ``jwt``, ``sigv4`` and ``providers`` (keys recognised by prefix, alphabet, length and
checksum). ``detect_credentials`` is the one decision of what a request carries: the pipeline
stores it and an enforcing proxy blocks on it.
"""

from __future__ import annotations

from functools import lru_cache

from discovery.models import CredentialSighting
from discovery.redact.credentials import authorization, bodies, cookies, headers, pathsecrets, query
from discovery.redact.credentials.config import (
    DEFAULT_CONFIG,
    MEMO_MAX_VALUE,
    DetectorConfig,
    site_config,
)
from discovery.redact.credentials.found import Fingerprint
from discovery.redact.credentials.messages import detect as detect_in_messages
from discovery.redact.credentials.oauth import TokenRequest, annotate, parse_token_request

__all__ = [
    "DEFAULT_CONFIG",
    "DetectorConfig",
    "Fingerprint",
    "RequestView",
    "detect_credentials",
    "header",
]


class RequestView:
    """What detectors may read of one request: raw headers, decoded query pairs, the path as
    sent, and the kept prefix of its body with its Content-Type.

    A plain slotted class (one is built per request; a dataclass's generated ``__init__`` runs
    as Python even when this package is compiled)."""

    __slots__ = ("body", "content_type", "headers", "host", "method", "path", "query")
    headers: tuple[tuple[str, str], ...]
    query: list[tuple[str, str]]
    host: str | None
    path: str
    method: str
    body: bytes
    content_type: str | None

    def __init__(
        self,
        headers: tuple[tuple[str, str], ...],
        query: list[tuple[str, str]],
        host: str | None,
        path: str,
        method: str,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> None:
        self.headers = headers
        self.query = query
        self.host = host
        self.path = path
        self.method = method
        self.body = body
        self.content_type = content_type


def detect_credentials(
    view: RequestView, fp: Fingerprint, config: DetectorConfig | None = None
) -> list[CredentialSighting]:
    """Every credential this request carries (headers, query, cookies, path, body), once per
    (credential, location, name).

    ``config`` defaults to ``site_config()``: the built-in names plus those of the file named
    by ``IR_CONSOLE_CREDENTIAL_NAMES``. ``view.content_type`` defaults to the request's own
    Content-Type header.
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
        found.extend(query.detect(view.query, fp, config, view.host))
    if len(view.path) >= pathsecrets.MIN_SEGMENT:
        found.extend(pathsecrets.scan_path(view.path, fp)[0])
    if view.body:
        content_type = view.content_type
        if content_type is None:
            content_type = header(view.headers, "content-type")
        grpc = None
        # tested here before calling into the interpreted wire.grpc (most bodies are not gRPC)
        if content_type is not None and content_type[:16].lower() == "application/grpc":
            encoding = header(view.headers, "grpc-encoding")
            grpc = detect_in_messages(view.body, content_type, encoding, fp, config)
        found.extend(bodies.detect(view.body, content_type, fp, config) if grpc is None else grpc)
        request = token_request(view)
        if request is not None:  # an OAuth token request: the client names its credentials
            found = annotate(found, request)
    unique: dict[tuple[str, str, str], CredentialSighting] = {}
    for sighting in found:
        unique.setdefault(
            (sighting.fingerprint, sighting.location, sighting.name.lower()), sighting
        )
    return list(unique.values())


def token_request(view: RequestView) -> TokenRequest | None:
    """The OAuth token request a request is (``grant_type`` in its body), or None."""
    if view.method != "POST" or not view.body or b"grant_type" not in view.body:
        return None
    content_type = view.content_type
    if content_type is None:
        content_type = header(view.headers, "content-type")
    return parse_token_request(view.method, view.host, view.headers, view.body, content_type)


def header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    """First value of a header, case-insensitively (``name`` in lower case)."""
    size = len(name)
    for key, value in headers:
        if len(key) == size and key.lower() == name:  # the length rules out most at once
            return value
    return None


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
    return tuple(headers.detect(name, value, fp, config, host))


# Detection is a pure function of (header, host, session flag, key, config): memoised, bounded
# (entries, and value length: MEMO_MAX_VALUE), in process memory only, like the raw headers.
_header_memo = lru_cache(maxsize=4096)(_header)
