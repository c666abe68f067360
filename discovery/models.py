"""The data model every source converts to: immutable records, no foreign objects past the edge.

The two exchange records are ``NamedTuple``s, the rest frozen dataclasses: an ingest builds two
exchange records per request, and a NamedTuple of ~30 fields is built in a third of the time of a
frozen dataclass (whose ``__init__`` goes through ``object.__setattr__`` once per field). The hot
paths build them with ``observed_exchange``/``exchange``: the same records, without the
NamedTuple's Python-level ``__new__`` (most of the cost once the rest is compiled).

Two layers, on purpose:

* ``ObservedExchange`` is what a source (pcap, live sniffer, mitmproxy, HAR, Zeek) emits. It holds
  the request's raw headers and a bounded body prefix *in memory only*, because credential and
  sensitive-data detection need them. It is never written anywhere.
* ``Exchange`` (+ its ``CredentialSighting`` list) is what ``discovery.redact.convert`` derives from it:
  metadata only, secrets already replaced by keyed fingerprints and redacted forms. Only these
  reach the case file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NamedTuple

Headers = tuple[tuple[str, str], ...]


class ObservedExchange(NamedTuple):
    """One request and its response (or a TLS connection) as a source saw it; never persisted."""

    ts: float  # epoch seconds (float) of the request's first byte
    source: str  # "pcap" | "live" | "proxy" | "mitm" | "har" | "zeek"
    evidence: str  # where it came from: "frames 12-19", "flow 3f2a…", "entry 7", "uid CHhAvV…"
    client_ip: str | None = None
    client_port: int | None = None
    server_ip: str | None = None
    server_port: int | None = None
    tls: bool = False
    sni: str | None = None
    alpn: str | None = None
    ja4: str | None = None
    http_version: str | None = None  # "1.0" | "1.1" | "2" | "3"; None for opaque TLS
    method: str | None = None  # None for an opaque TLS connection
    target: str | None = None  # raw request-target as sent: path + "?" + query (or absolute URI)
    host: str | None = None  # Host / :authority, else SNI
    status: int | None = None  # None when no response was seen
    request_headers: Headers = ()
    response_headers: Headers = ()
    request_body: bytes = b""  # decoded prefix (bounded by the source)
    response_body: bytes = b""  # decoded prefix (bounded by the source)
    request_bytes: int = 0  # body size on the wire (or declared)
    response_bytes: int = 0
    partial: bool = False  # a gap or truncation touched this exchange
    blocked: bool = False  # answered by our proxy's enforcement, never reached upstream
    error: str | None = None  # a failed flow's reason
    websocket: bool = False
    # Credential facts computed before we saw the request, for sources that never see raw
    # headers (Zeek with our policy script logs a keyed HMAC of credential headers).
    extra: tuple[PrecomputedCredential, ...] = ()
    # deviations from the HTTP/1.x grammar a lenient parser accepted ("bare_lf",
    # "framing_conflict: ...", see docs/findings.md); header names and counts only, no values
    anomalies: tuple[str, ...] = ()
    # "host:port" the client named at the connection level when it differs from the server
    # address (a proxy's CONNECT target or absolute-form URI; the proxy resolved and connected
    # to it, whatever Host says); None: the server address is where the request went
    destination: str | None = None
    ja4s: str | None = None  # JA4S of the server's TLS answer, where the ServerHello was read
    # JSON object of non-secret facts a source knows of a connection (Zeek conn.log: duration,
    # conn_state, history, service, packet counts), stored as the exchange's ``facts``
    facts: str | None = None


@dataclass(frozen=True, slots=True)
class PrecomputedCredential:
    """A credential a source reported only as a digest (never the raw value).

    ``namespace`` says whose key made ``digest`` (e.g. ``zeek-hmac``: the deployment's key, not
    the case key); the pipeline fingerprints ``namespace:digest`` under the case key, so such
    a credential never collides with one fingerprinted from a raw value.
    """

    namespace: str
    digest: str
    kind: str  # "zeek_hmac" | "basic_user" | ...
    location: str  # "header" | "query" | "cookie"
    name: str  # header name, lower-case
    redacted: str
    public_id: str | None = None
    identity: str | None = None
    identity_kind: str | None = None
    claims: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CredentialSighting:
    """A credential seen on one request: its keyed fingerprint and non-secret facts only."""

    fingerprint: str  # HMAC-SHA256 hex under the case key
    kind: str  # "jwt" | "bearer" | "basic" | "api_key" | "aws_sigv4" | "github_token" | ...
    location: str  # "header" | "query" | "cookie" | "body" | "path" | "response" (issued)
    name: str  # header, query parameter, cookie, body field name; path: the segment's role
    redacted: str  # e.g. "sk_live_…9fQ2"
    public_id: str | None = None  # AWS key id, Basic username, key prefix, JWT jti …
    identity: str | None = None  # resolved identity key, e.g. "jwt:https://iss|sub"
    identity_kind: str | None = None  # "jwt" | "aws" | "basic" | "credential"
    claims: tuple[tuple[str, Any], ...] = ()  # non-secret claims (iss, sub, scope, exp, …)
    issued_at: float | None = None
    expires_at: float | None = None
    # Keyed fingerprints of the secret parts a responder may hold on their own (the password
    # of a Basic pair, the token of ``id:token``): ``credentials find`` looks them up too.
    aliases: tuple[str, ...] = ()


class Exchange(NamedTuple):
    """A request/response (or opaque TLS connection) as stored: metadata only, no secret."""

    ts: float
    source: str
    evidence: str
    client_ip: str | None
    client_port: int | None
    server_ip: str | None
    server_port: int | None
    tls: bool
    sni: str | None
    alpn: str | None
    ja4: str | None
    http_version: str | None
    method: str | None
    path: str | None  # normalised path (no query); None for opaque TLS
    raw_path: str | None  # path as sent (before normalisation), kept as evidence
    query_names: tuple[str, ...]
    host: str | None
    status: int | None
    request_bytes: int
    response_bytes: int
    request_content_type: str | None
    response_content_type: str | None
    user_agent: str | None
    partial: bool
    blocked: bool
    error: str | None
    websocket: bool
    sensitive: tuple[tuple[str, int], ...] = ()  # (kind, count) found in bodies, never values
    credentials: tuple[CredentialSighting, ...] = ()
    anomalies: tuple[str, ...] = ()  # as on ObservedExchange
    # An API protocol carried over HTTP, where the request says which operation it calls: one
    # exchange per operation (a GraphQL batch of n operations is n exchanges, the request's
    # bytes on the first). ``protocol`` "graphql" (later "grpc"); ``operation`` how the
    # inventory names the call ("mutation createUser"; a gRPC method is its path); ``outcome``
    # the protocol's own answer ("data", "errors", "data+errors"; a grpc-status); ``facts`` a
    # JSON object of non-secret facts (root fields, field paths, depth, aliases, variable
    # names, a rejection's reason), never a value the request carried.
    protocol: str | None = None
    operation: str | None = None
    outcome: str | None = None
    facts: str | None = None
    # where the request really went ("host:port", stored form: no default port): the target a
    # client named through a proxy, else the server address; None when unknown
    destination: str | None = None
    # how the Host header or SNI contradicts the destination (wire.destinations), or None
    host_mismatch: str | None = None
    ja4s: str | None = None  # JA4S of the server's TLS answer
    ja4h: str | None = None  # JA4H of the request (FoxIO's definition)

    @property
    def opaque(self) -> bool:
        """True for a TLS connection whose requests could not be seen."""
        return self.method is None


_new_tuple = tuple.__new__


def observed_exchange(
    ts: float,
    source: str,
    evidence: str,
    client_ip: str | None = None,
    client_port: int | None = None,
    server_ip: str | None = None,
    server_port: int | None = None,
    tls: bool = False,
    sni: str | None = None,
    alpn: str | None = None,
    ja4: str | None = None,
    http_version: str | None = None,
    method: str | None = None,
    target: str | None = None,
    host: str | None = None,
    status: int | None = None,
    request_headers: Headers = (),
    response_headers: Headers = (),
    request_body: bytes = b"",
    response_body: bytes = b"",
    request_bytes: int = 0,
    response_bytes: int = 0,
    partial: bool = False,
    blocked: bool = False,
    error: str | None = None,
    websocket: bool = False,
    extra: tuple[PrecomputedCredential, ...] = (),
    anomalies: tuple[str, ...] = (),
    destination: str | None = None,
    ja4s: str | None = None,
    facts: str | None = None,
) -> ObservedExchange:
    """``ObservedExchange(...)``, built without its Python-level ``__new__`` (same value)."""
    values = (
        ts,
        source,
        evidence,
        client_ip,
        client_port,
        server_ip,
        server_port,
        tls,
        sni,
        alpn,
        ja4,
        http_version,
        method,
        target,
        host,
        status,
        request_headers,
        response_headers,
        request_body,
        response_body,
        request_bytes,
        response_bytes,
        partial,
        blocked,
        error,
        websocket,
        extra,
        anomalies,
        destination,
        ja4s,
        facts,
    )
    return _new_tuple(ObservedExchange, values)


_FIELD_AT: Final = {name: at for at, name in enumerate(ObservedExchange._fields)}
_TLS_FIELDS: Final = tuple(_FIELD_AT[n] for n in ("tls", "sni", "alpn", "ja4", "ja4s", "host"))


def over_tls(
    observed: ObservedExchange,
    sni: str | None,
    alpn: str | None,
    ja4: str | None,
    ja4s: str | None,
    host: str | None,
) -> ObservedExchange:
    """``observed._replace(tls=True, sni=..., alpn=..., ja4=..., ja4s=..., host=...)``, without
    the Python-level ``_replace`` (a decrypted connection's facts on each of its exchanges)."""
    values = list(observed)
    tls_at, sni_at, alpn_at, ja4_at, ja4s_at, host_at = _TLS_FIELDS
    values[tls_at] = True
    values[sni_at] = sni
    values[alpn_at] = alpn
    values[ja4_at] = ja4
    values[ja4s_at] = ja4s
    values[host_at] = host
    return _new_tuple(ObservedExchange, tuple(values))


def exchange(
    ts: float,
    source: str,
    evidence: str,
    client_ip: str | None,
    client_port: int | None,
    server_ip: str | None,
    server_port: int | None,
    tls: bool,
    sni: str | None,
    alpn: str | None,
    ja4: str | None,
    http_version: str | None,
    method: str | None,
    path: str | None,
    raw_path: str | None,
    query_names: tuple[str, ...],
    host: str | None,
    status: int | None,
    request_bytes: int,
    response_bytes: int,
    request_content_type: str | None,
    response_content_type: str | None,
    user_agent: str | None,
    partial: bool,
    blocked: bool,
    error: str | None,
    websocket: bool,
    sensitive: tuple[tuple[str, int], ...] = (),
    credentials: tuple[CredentialSighting, ...] = (),
    anomalies: tuple[str, ...] = (),
    protocol: str | None = None,
    operation: str | None = None,
    outcome: str | None = None,
    facts: str | None = None,
    destination: str | None = None,
    host_mismatch: str | None = None,
    ja4s: str | None = None,
    ja4h: str | None = None,
) -> Exchange:
    """``Exchange(...)``, built without its Python-level ``__new__`` (same value)."""
    values = (
        ts,
        source,
        evidence,
        client_ip,
        client_port,
        server_ip,
        server_port,
        tls,
        sni,
        alpn,
        ja4,
        http_version,
        method,
        path,
        raw_path,
        query_names,
        host,
        status,
        request_bytes,
        response_bytes,
        request_content_type,
        response_content_type,
        user_agent,
        partial,
        blocked,
        error,
        websocket,
        sensitive,
        credentials,
        anomalies,
        protocol,
        operation,
        outcome,
        facts,
        destination,
        host_mismatch,
        ja4s,
        ja4h,
    )
    return _new_tuple(Exchange, values)
