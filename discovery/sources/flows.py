"""Pure conversion of mitmproxy flows into ``ObservedExchange`` (the edge: nothing past it sees a flow).

A flow read from a file may say anything: its times, status and ports are checked here
(``bounds``); a flow without a usable time raises ``BadFlow``, an implausible status or port is
dropped.

The client's JA4 comes from the ClientHello mitmproxy read (``hello_ja4``, our JA4 code on its
raw bytes as sent); our addon keeps it in the flow's metadata (``JA4_KEY``), so a flow file
written while the addon ran carries it too (checked for JA4's shape, else left out).
"""

from __future__ import annotations

import re

from mitmproxy import connection, http, tls

from discovery.models import Headers, ObservedExchange
from discovery.sources import bounds
from discovery.wire.destinations import authority
from discovery.wire.tls import NotClientHello, ja4, parse_client_hello

BODY_LIMIT = 64 * 1024
JA4_KEY = "irc_ja4"  # flow metadata: the JA4 of the client connection's ClientHello
_JA4_SHAPE = re.compile(r"[tqd][0-9a-z]{2}[di][0-9]{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}")
_VERSIONS = {"HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2.0": "2", "HTTP/3": "3", "HTTP/3.0": "3"}


class BadFlow(ValueError):
    """A flow that cannot become an exchange (a flow file's, never a live one's)."""


def http_version(raw: str) -> str | None:
    """mitmproxy's ``HTTP/2.0`` style version as ours (``2``); None when unknown or empty."""
    if not raw:
        return None
    upper = raw.upper()
    if upper in _VERSIONS:
        return _VERSIONS[upper]
    return upper.removeprefix("HTTP/") or None


def headers_of(message: http.Message) -> Headers:
    """Header fields as (name, value) pairs, in wire order, undecodable bytes kept as escapes."""
    return tuple(
        (k.decode("latin-1"), v.decode("utf-8", "surrogateescape"))
        for k, v in message.headers.fields
    )


def _first(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def body_prefix(
    message: http.Message, limit: int = BODY_LIMIT, headers: Headers | None = None
) -> bytes:
    """A decoded prefix of a body (empty when streamed or not decodable)."""
    raw = message.raw_content
    if not raw:
        return b""
    encoded = (
        _first(headers, "content-encoding")
        if headers is not None
        else message.headers.get("content-encoding")
    )
    if not encoded:
        return raw[:limit]
    try:
        decoded = message.get_content(strict=False)
    except ValueError:
        return b""
    return (decoded or b"")[:limit]


def hello_ja4(hello: tls.ClientHello, quic: bool = False) -> str | None:
    """JA4 of a ClientHello mitmproxy read from a client, computed on its bytes as sent; None
    when they do not parse."""
    try:
        parsed = parse_client_hello(hello.raw_bytes(wrap_in_record=True))
    except NotClientHello:
        return None
    return ja4(parsed, "q" if quic else "t")


def flow_ja4(flow: http.HTTPFlow) -> str | None:
    """The client's JA4 as our addon noted it on the flow (a flow file's: only if well formed)."""
    value = flow.metadata.get(JA4_KEY)
    return value if isinstance(value, str) and _JA4_SHAPE.fullmatch(value) else None


def _address(addr: tuple[str, int] | None) -> tuple[str | None, int | None]:
    if not addr:
        return None, None
    return str(addr[0])[:64], bounds.port(addr[1])


def _alpn(conn: connection.Connection) -> str | None:
    return conn.alpn.decode("ascii", "replace") if conn.alpn else None


def flow_to_observed(
    flow: http.HTTPFlow,
    source: str = "proxy",
    *,
    blocked: bool = False,
    reference: str | None = None,
    body_limit: int = BODY_LIMIT,
    request_body: bytes | None = None,
    request_bytes: int | None = None,
) -> ObservedExchange:
    """One HTTP flow (finished, failed or answered by us) as an observed exchange;
    ``request_body``/``request_bytes``: what the proxy saw of a body it streamed (mitmproxy
    keeps none of it)."""
    req = flow.request
    resp = flow.response
    client_ip, client_port = _address(flow.client_conn.peername)
    server = flow.server_conn
    server_ip, server_port = _address(server.peername or server.address)
    if server_port is None:
        server_port = bounds.port(req.port)
    client_tls = flow.client_conn.tls_established or flow.client_conn.tls
    tls = bool(client_tls or req.scheme == "https")
    sni = flow.client_conn.sni or (server.sni if server.tls else None)
    evidence = f"flow {flow.id}"
    if reference:
        evidence += f" ref {reference}"
    req_headers = headers_of(req)
    resp_headers = headers_of(resp) if resp is not None else ()
    if resp is not None and resp.trailers:  # HTTP/2 trailers (gRPC's grpc-status) follow
        resp_headers += tuple(
            (k.decode("latin-1"), v.decode("utf-8", "surrogateescape"))
            for k, v in resp.trailers.fields
        )
    websocket = flow.websocket is not None or (
        resp is not None
        and resp.status_code == 101
        and (_first(resp_headers, "upgrade") or "").lower() == "websocket"
    )
    ts = bounds.timestamp(req.timestamp_start)
    if ts is None:
        raise BadFlow(f"request time {req.timestamp_start!r} is not a time in 1970-9999")
    return ObservedExchange(
        ts=ts,
        source=source,
        evidence=evidence,
        client_ip=client_ip,
        client_port=client_port,
        server_ip=server_ip,
        server_port=server_port,
        tls=tls,
        sni=sni,
        alpn=_alpn(flow.client_conn) or _alpn(server),
        ja4=flow_ja4(flow) if client_tls else None,
        http_version=http_version(req.http_version),
        method=req.method,
        target=req.path or "/",
        host=req.authority or _first(req_headers, "host") or req.host,
        status=bounds.status(resp.status_code) if resp is not None else None,
        request_headers=req_headers,
        response_headers=resp_headers,
        request_body=(
            request_body if request_body is not None else body_prefix(req, body_limit, req_headers)
        ),
        response_body=body_prefix(resp, body_limit, resp_headers) if resp is not None else b"",
        request_bytes=request_bytes if request_bytes is not None else len(req.raw_content or b""),
        response_bytes=len(resp.raw_content or b"") if resp is not None else 0,
        blocked=blocked,
        error=flow.error.msg if flow.error is not None else None,
        websocket=websocket,
        destination=named_destination(flow),
    )


def named_destination(flow: http.HTTPFlow) -> str | None:
    """``host:port`` the client named to a regular or upstream proxy (the absolute-form URI's or
    the CONNECT target's authority): where the proxy really sent the request, whatever its Host
    header says. None in reverse and transparent modes (the server address says it there)."""
    mode = getattr(flow.client_conn, "proxy_mode", None)
    if getattr(mode, "type_name", None) not in ("regular", "upstream"):
        return None
    req = flow.request
    port = bounds.port(req.port)
    if not req.host or port is None:
        return None
    return authority(str(req.host)[:255], port)


def client_tls_failure(
    conn: connection.Client,
    server: connection.Server | None,
    ts: float,
    source: str = "proxy",
    ja4: str | None = None,
) -> ObservedExchange:
    """A client TLS handshake with the proxy that failed (e.g. the client does not trust our CA):
    an opaque TLS connection, known by its SNI only."""
    client_ip, client_port = _address(conn.peername)
    server_ip, server_port = _address(
        (server.peername or server.address) if server is not None else None
    )
    return ObservedExchange(
        ts=ts,
        source=source,
        evidence=f"connection {conn.id}",
        client_ip=client_ip,
        client_port=client_port,
        server_ip=server_ip,
        server_port=server_port,
        tls=True,
        sni=conn.sni,
        ja4=ja4,
        host=conn.sni,
        error=conn.error or "client TLS handshake failed",
    )
