"""Pure conversion of mitmproxy flows into ``ObservedExchange`` (the edge: nothing past it sees a flow).

A flow read from a file may say anything: its times, status and ports are checked here
(``bounds``); a flow without a usable time raises ``BadFlow``, an implausible status or port is
dropped.
"""

from __future__ import annotations

from mitmproxy import connection, http

from discovery.models import Headers, ObservedExchange
from discovery.sources import bounds
from discovery.wire.destinations import authority

BODY_LIMIT = 64 * 1024
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
    conn: connection.Client, server: connection.Server | None, ts: float, source: str = "proxy"
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
        host=conn.sni,
        error=conn.error or "client TLS handshake failed",
    )
