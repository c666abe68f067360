"""ObservedExchange -> Exchange: the point where raw header values are turned into fingerprints
and redacted forms and then dropped. Nothing after this function sees a secret."""

from __future__ import annotations

from collections.abc import Callable

from discovery.models import (
    CredentialSighting,
    Exchange,
    ObservedExchange,
    PrecomputedCredential,
    exchange,
)
from discovery.redact.credentials import RequestView, detect_credentials, header, token_request
from discovery.redact.credentials.oauth import issued
from discovery.redact.credentials.pathsecrets import scan_path
from discovery.redact.credentials.query import stored_name
from discovery.redact.graphql import per_operation
from discovery.redact.grpc import PROTOCOL as GRPC
from discovery.redact.grpc import grpc_call, grpc_kind
from discovery.redact.sensitive import scan_bodies
from discovery.wire.destinations import authority as join_authority
from discovery.wire.destinations import contradiction
from discovery.wire.fingerprints import ja4h
from discovery.wire.graphql import calls_of
from discovery.wire.paths import (
    MAX_PATH_SEGMENTS,
    folded_depth,
    names_of,
    normalise_path,
    query_pairs,
    split_target,
)

PRECOMPUTED_MEMO_SIZE = 4096
# (the case's fingerprint function, a source's digest) -> its sighting; digests, never secrets
_PRECOMPUTED_MEMO: dict[tuple[Callable[[str], str], PrecomputedCredential], CredentialSighting]
_PRECOMPUTED_MEMO = {}


def normalise_host(host: str, tls: bool) -> str:
    """Host as stored: lower-case, without the scheme's default port."""
    host = host.strip().lower()
    if host.endswith(":80") and not tls:
        return host[:-3]
    if host.endswith(":443") and tls:
        return host[:-4]
    return host


def _precomputed(
    pc: PrecomputedCredential, fingerprint: Callable[[str], str]
) -> CredentialSighting:
    """A sighting from a digest a source computed: re-keyed under the case key, namespaced.
    The same few digests recur on most records of a log: each is re-keyed once per key."""
    key = (fingerprint, pc)
    known = _PRECOMPUTED_MEMO.get(key)
    if known is None:
        known = _rekeyed(pc, fingerprint)
        if len(_PRECOMPUTED_MEMO) >= PRECOMPUTED_MEMO_SIZE:
            _PRECOMPUTED_MEMO.clear()
        _PRECOMPUTED_MEMO[key] = known
    return known


def _rekeyed(pc: PrecomputedCredential, fingerprint: Callable[[str], str]) -> CredentialSighting:
    return CredentialSighting(
        fingerprint=fingerprint(f"{pc.namespace}:{pc.digest}"),
        kind=pc.kind,
        location=pc.location,
        name=pc.name,
        redacted=pc.redacted,
        public_id=pc.public_id,
        identity=pc.identity,
        identity_kind=pc.identity_kind,
        claims=pc.claims,
    )


def to_exchanges(obs: ObservedExchange, fingerprint: Callable[[str], str]) -> tuple[Exchange, ...]:
    """The stored exchanges of an observed one: itself (``to_exchange``), or, for a request
    that calls API operations by its content (GraphQL), one per operation it called."""
    ex = to_exchange(obs, fingerprint)
    if obs.method is None or obs.blocked:
        return (ex,)
    body = obs.request_body
    if not body and not ex.query_names:
        return (ex,)
    pairs: list[tuple[str, str]] = []
    if ex.query_names and ("query" in ex.query_names or "extensions" in ex.query_names):
        pairs = query_pairs(split_target(obs.target or "")[1])
    if not pairs and not _may_carry_graphql(body, ex.request_content_type):
        return (ex,)
    calls = calls_of(obs.method, pairs, ex.request_content_type, body)
    if not calls:
        return (ex,)
    location = "body" if body else "query"
    return per_operation(ex, calls, obs.response_body, location, fingerprint)


def _may_carry_graphql(body: bytes, content_type: str | None) -> bool:
    """False when a body cannot be a GraphQL call ``calls_of`` recognises (none of its marks
    in the body, no GraphQL media type): tested here, in the compiled group, before calling
    the interpreted ``wire.graphql`` (most bodies are not GraphQL); a superset of its test."""
    return bool(body) and (
        b'"query"' in body
        or b"persistedQuery" in body
        or (content_type is not None and "graphql" in content_type.lower())
    )


def _joined(first: str | None, second: str | None) -> str | None:
    return f"{first}; {second}" if first and second else first or second


def to_exchange(obs: ObservedExchange, fingerprint: Callable[[str], str]) -> Exchange:
    """Derive the stored form of an observed exchange: credentials fingerprinted, and every
    secret in the path or a query parameter name replaced by its redacted form."""
    path = raw_path = None
    names: tuple[str, ...] = ()
    pairs: list[tuple[str, str]] = []
    host = obs.host
    error = obs.error
    authority: str | None = None
    if obs.target is not None:
        raw_path, raw_query, authority = split_target(obs.target)
        if authority and "@" in authority:  # userinfo (user:password@) is never kept
            authority = authority.rpartition("@")[2]
        pairs = query_pairs(raw_query)
        names = names_of(pairs)  # the query is split once, for both
        if not host and authority:
            host = authority
    if not host:
        host = obs.sni
    if host:
        host = normalise_host(host, obs.tls)
    credentials: tuple[CredentialSighting, ...] = ()
    if obs.method is not None:
        view = RequestView(
            headers=obs.request_headers,
            query=pairs,
            host=host,
            path=raw_path or "/",
            method=obs.method,
            body=obs.request_body,
        )
        found = detect_credentials(view, fingerprint)
        request = token_request(view) if obs.response_body else None
        if request is not None:  # what the token response issued, tied to the client
            endpoint = f"{host or '?'}{raw_path or '/'}"
            found += issued(
                request,
                obs.status,
                obs.response_body,
                header(obs.response_headers, "content-type"),
                found,
                fingerprint,
                endpoint,
            )
        credentials = tuple(found)
        if raw_path is not None and any(s.location == "path" for s in credentials):
            raw_path = scan_path(raw_path, fingerprint)[1]
        if names and any(s.location == "query" for s in credentials):
            names = tuple(dict.fromkeys(stored_name(n) for n in names))
    if raw_path is not None:
        path = normalise_path(raw_path)
        depth = folded_depth(raw_path)
        if depth:  # marked: the stored path keeps its first segments, the rest as one
            folded = f"path of {depth} segments folded after {MAX_PATH_SEGMENTS}"
            error = f"{error}; {folded}" if error else folded
    if obs.extra:
        credentials += tuple(_precomputed(pc, fingerprint) for pc in obs.extra)
    request_type = agent = None
    for key, value in obs.request_headers:  # one pass for both (first value of each, as header())
        if len(key) == 12 and key.lower() == "content-type":
            if request_type is None:
                request_type = value
        elif len(key) == 10 and agent is None and key.lower() == "user-agent":
            agent = value
    destination, mismatch = _destination(obs, authority)
    status = obs.status
    anomalies = obs.anomalies
    kind: str | None = None
    protocol: str | None = None
    outcome: str | None = None
    facts: str | None = obs.facts  # what the source knew of the connection (Zeek conn.log)
    # tested here, in the compiled group, before calling the interpreted wire.grpc: most
    # requests are not gRPC, and calling it for each costs about 0.5 us of a 13 us conversion
    if request_type is not None and request_type[:16].lower() == "application/grpc":
        kind = grpc_kind(request_type) if obs.method else None
    if kind is not None:  # a gRPC call: grpc-status is its outcome, its messages protobuf
        assert request_type is not None
        call = grpc_call(obs, kind, request_type)
        status, error, sensitive = call.status, _joined(error, call.error), call.sensitive
        anomalies += call.anomalies
        protocol, outcome, facts = GRPC, call.outcome, call.facts
    else:  # what the endpoint returns (secrets a client sends are credentials, above)
        sensitive = scan_bodies(obs.response_body) if obs.method else ()
    return exchange(
        ts=obs.ts,
        source=obs.source,
        evidence=obs.evidence,
        client_ip=obs.client_ip,
        client_port=obs.client_port,
        server_ip=obs.server_ip,
        server_port=obs.server_port,
        tls=obs.tls,
        sni=obs.sni,
        alpn=obs.alpn,
        ja4=obs.ja4,
        http_version=obs.http_version,
        method=obs.method.upper() if obs.method else None,
        path=path,
        raw_path=raw_path,
        query_names=names,
        host=host,
        status=status,
        request_bytes=obs.request_bytes,
        response_bytes=obs.response_bytes,
        request_content_type=request_type,
        response_content_type=header(obs.response_headers, "content-type"),
        user_agent=agent,
        partial=obs.partial,
        blocked=obs.blocked,
        error=error,
        websocket=obs.websocket,
        sensitive=sensitive,
        credentials=credentials,
        anomalies=anomalies,
        protocol=protocol,
        outcome=outcome,
        facts=facts,
        destination=destination,
        host_mismatch=mismatch,
        ja4s=obs.ja4s,
        ja4h=ja4h(obs.method, obs.http_version, obs.request_headers) if obs.method else None,
    )


def _destination(obs: ObservedExchange, authority: str | None) -> tuple[str | None, str | None]:
    """Where the request really went and how its Host or SNI contradicts that: the target the
    client named (a proxy's CONNECT target or absolute URI: the source's ``destination``, or an
    absolute-form target seen on the wire, sent to a proxy), else the server address."""
    named = True
    where = obs.destination or authority or None
    if where is None and obs.method == "CONNECT" and obs.target:  # authority-form: the target
        where = obs.target
    if where is None and obs.server_ip and obs.server_port is not None:
        where, named = join_authority(obs.server_ip, obs.server_port), False
    if where is None:
        return None, None
    mismatch = (
        contradiction(destination=where, named=named, claimed=obs.host, sni=obs.sni)
        if obs.method is not None
        else None
    )
    return normalise_host(where, obs.tls), mismatch
