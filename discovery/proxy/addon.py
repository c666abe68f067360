"""The ir-console mitmproxy addon: every flow into the case, and blocked credentials answered 403.

Usable as ``mitmdump -s discovery/proxy/addon.py --set irc_db=case.db [--set irc_enforce=true]``
and embedded by ``ir-console capture proxy``. The addon is thin: conversion lives in
``convert``, writing in ``writer`` (a writer process), blocklist matching in ``enforcement``,
which flows are held until committed in ``urgency``, client limits in ``limits``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mitmproxy import connection, ctx, exceptions, http, tcp, tls
from mitmproxy.addonmanager import Loader

from discovery.errors import DiscoveryError
from discovery.proxy.enforcement import POLL_SECONDS, Decision, Destination, Enforcer
from discovery.proxy.limits import HEADER_TIMEOUT, MAX_CONNECTIONS, ClientLimits
from discovery.proxy.streaming import BodyGate, decoded_prefix
from discovery.proxy.urgency import DURABLE_MODES, urgent
from discovery.proxy.writer import BATCH, QUEUE_SIZE, RECOMPUTE_SECONDS, BackgroundWriter
from discovery.sources.flows import (
    BODY_LIMIT,
    JA4_KEY,
    body_prefix,
    client_tls_failure,
    flow_to_observed,
    headers_of,
    hello_ja4,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_RECORDED = "irc_recorded"
_BLOCK = "irc_block"
DURABLE_MS = 5000  # longest a response waits for its flow's commit
WATCH_SECONDS = 1.0  # how often connections waiting for a request head are checked


def _option_error(message: str) -> exceptions.OptionsError:
    """mitmproxy's error for a bad option value (its constructor is untyped)."""
    return exceptions.OptionsError(message)  # type: ignore[no-untyped-call]


def blocked_response(reference: str, kind: str) -> http.Response:
    """The 403 answer to a blocked request: a JSON body with a reference id, never the secret."""
    why = (
        "its Host header or SNI does not name the host it is sent to"
        if kind == "host-mismatch"
        else f"{kind} on the incident blocklist"
    )
    body = {
        "error": "blocked",
        "message": f"request blocked by ir-console ({why})",
        "reference": reference,
    }
    return http.Response.make(
        403,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def destination_of(flow: http.HTTPFlow) -> Destination:
    """Where mitmproxy sends the request (``request.host:port``: the absolute URL's or CONNECT
    target's, or a reverse proxy's upstream) beside the Host header and SNI the client sent."""
    req = flow.request
    mode = flow.client_conn.proxy_mode
    return Destination(
        address=f"[{req.host}]:{req.port}" if ":" in req.host else f"{req.host}:{req.port}",
        claimed=req.host_header,
        sni=flow.client_conn.sni,
        client_named=mode.type_name in ("regular", "upstream"),
    )


class IrConsole:
    """Records flows into an ir-console case and, when enforcing, blocks what the case blocks."""

    def __init__(self) -> None:
        self.writer: BackgroundWriter | None = None
        self.enforcer: Enforcer | None = None
        self.body_limit = BODY_LIMIT
        self.durable = "credentials"
        self.durable_timeout = DURABLE_MS / 1000
        self.limits = ClientLimits()
        self.held = 0  # responses held until their flow was committed
        self.held_too_long = 0  # ... of which released before the commit came (timeout)
        self.ja4: dict[str, str] = {}  # client connection id: the JA4 of its ClientHello
        self._watch: asyncio.Task[None] | None = None

    def load(self, loader: Loader) -> None:
        loader.add_option("irc_db", str, "", "ir-console case file to record flows into.")
        loader.add_option(
            "irc_enforce",
            bool,
            False,
            "Answer requests with blocked credentials or endpoints with 403 (needs irc_db).",
        )
        loader.add_option(
            "irc_queue",
            int,
            QUEUE_SIZE,
            "Exchanges queued for the case writer before dropping (counted).",
        )
        loader.add_option("irc_batch", int, BATCH, "Exchanges per case transaction.")
        loader.add_option(
            "irc_body_limit",
            int,
            BODY_LIMIT,
            "Bytes of each body kept in memory for sensitive-data detection.",
        )
        loader.add_option(
            "irc_recompute",
            int,
            int(RECOMPUTE_SECONDS),
            "Minimum seconds between analysis recomputes while new traffic arrives.",
        )
        loader.add_option(
            "irc_poll_ms",
            int,
            int(POLL_SECONDS * 1000),
            "Milliseconds between checks of the case's blocklist for changes.",
        )
        loader.add_option(
            "irc_durable",
            str,
            "credentials",
            "Which responses wait until their flow is committed to the case: credentials "
            "(flows that carried a credential or were blocked), all, or none.",
            choices=DURABLE_MODES,
        )
        loader.add_option(
            "irc_durable_ms",
            int,
            DURABLE_MS,
            "Longest a held response waits for its flow's commit (milliseconds).",
        )
        loader.add_option(
            "irc_header_timeout",
            int,
            int(HEADER_TIMEOUT),
            "Seconds a client connection may take to send a request head (from opening, or "
            "from the end of the previous response); then it is closed. 0: no limit.",
        )
        loader.add_option(
            "irc_max_client_conns",
            int,
            MAX_CONNECTIONS,
            "Connections one client address may hold at once; more are refused. 0: no limit.",
        )

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        # int options only: mitmproxy's --set cannot parse floats
        names = (
            "irc_queue",
            "irc_batch",
            "irc_body_limit",
            "irc_recompute",
            "irc_poll_ms",
            "irc_durable_ms",
        )
        if updated & set(names):
            for name in names:
                if getattr(opts, name) < 1:
                    raise _option_error(f"{name} must be at least 1")
        for name in ("irc_header_timeout", "irc_max_client_conns"):
            if getattr(opts, name) < 0:
                raise _option_error(f"{name} must be 0 (no limit) or more")
        self.body_limit = opts.irc_body_limit
        self.durable = opts.irc_durable
        self.durable_timeout = opts.irc_durable_ms / 1000
        self.limits.header_timeout = float(opts.irc_header_timeout)
        self.limits.max_connections = opts.irc_max_client_conns
        if opts.irc_enforce and not opts.irc_db:
            raise _option_error("irc_enforce needs irc_db (the case holding the blocklist)")
        if updated & {"irc_db", "irc_queue", "irc_batch", "irc_recompute"}:
            self._close_writer()
            if opts.irc_db:
                self.writer = self._open(
                    lambda: BackgroundWriter(
                        Path(opts.irc_db),
                        queue_size=opts.irc_queue,
                        batch=opts.irc_batch,
                        recompute_seconds=opts.irc_recompute,
                    )
                )
                log.info("ir-console: recording flows into %s", opts.irc_db)
        if updated & {"irc_db", "irc_enforce", "irc_poll_ms"}:
            self._close_enforcer()
            if opts.irc_enforce:
                self.enforcer = self._open(
                    lambda: Enforcer(Path(opts.irc_db), opts.irc_poll_ms / 1000)
                )
                log.info("ir-console: enforcing the blocklist of %s", opts.irc_db)

    @staticmethod
    def _open(factory: Callable[[], _T]) -> _T:
        try:
            return factory()
        except DiscoveryError as exc:
            raise _option_error(f"ir-console: {exc}") from exc

    # ------------------------------------------------------------------ client limits

    def running(self) -> None:
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_heads())

    def client_connected(self, client: connection.Client) -> None:
        address = client.peername[0] if client.peername else "?"
        refused = self.limits.opened(client.id, str(address), time.time())
        if refused:
            client.error = f"ir-console: connection refused: {refused}"
            log.warning("ir-console: %s", client.error)

    def client_disconnected(self, client: connection.Client) -> None:
        self.limits.closed(client.id)
        self.ja4.pop(client.id, None)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        """The client's JA4, from its ClientHello as sent, for every flow of the connection."""
        client = data.context.client
        fingerprint = hello_ja4(data.client_hello, quic=client.transport_protocol == "udp")
        if fingerprint is not None:
            self.ja4[client.id] = fingerprint

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self.limits.tunnelled(flow.client_conn.id)

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        self.limits.tunnelled(flow.client_conn.id)

    async def _watch_heads(self) -> None:
        """Close client connections that took too long to send a request head."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            for conn_id in self.limits.overdue(time.time()):
                self.limits.tunnelled(conn_id)  # asked to close once
                if _close_client(conn_id, "request head not received in time"):
                    log.warning(
                        "ir-console: closed a client connection: no request head within %g s",
                        self.limits.header_timeout,
                    )

    # ------------------------------------------------------------------ flows

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.limits.head_complete(flow.client_conn.id)
        self._note_ja4(flow)  # now: a flow file written by mitmproxy (-w) carries it too
        # headers, target and destination: decided before the body is read
        self._enforce(flow, body=False)
        if flow.response is None and _streamed(flow):
            self._gate(flow)

    def _gate(self, flow: http.HTTPFlow) -> None:
        """A body mitmproxy streams (``streaming``): its first ``irc_body_limit`` bytes are
        recorded, and, when credentials are blocked, held until they are read and checked."""
        enforcer = self.enforcer
        hold = enforcer is not None and bool(enforcer.snapshot.credentials)
        if self.writer is None and not hold:
            return
        req = flow.request
        encoding = req.headers.get("content-encoding")
        content_type = req.headers.get("content-type")
        tls = bool(flow.client_conn.tls or req.scheme == "https")

        def decide(prefix: bytes) -> Decision | None:
            current = self.enforcer
            if current is None:
                return None
            return current.check(
                method=req.method,
                target=req.path or "/",
                headers=(),
                tls=tls,
                destination=destination_of(flow),
                body=decoded_prefix(prefix, encoding, self.body_limit),
                content_type=content_type,
            )

        def block(decision: Decision) -> None:
            flow.metadata[_BLOCK] = decision.reference
            log.warning(
                "ir-console: blocked a streamed request body to %s (%s %s, reference %s): "
                "nothing of the body forwarded, the client's connection closed",
                destination_of(flow).address,
                decision.kind,
                decision.subject,
                decision.reference,
            )
            _close_client(flow.client_conn.id, "blocked credential in a streamed request body")

        req.stream = BodyGate(self.body_limit, decide=decide if hold else None, on_block=block)

    def request(self, flow: http.HTTPFlow) -> None:
        """The body, once read: a credential in a form, JSON or multipart body is blocked too."""
        if flow.request.raw_content:
            self._enforce(flow, body=True)

    def _enforce(self, flow: http.HTTPFlow, *, body: bool) -> None:
        enforcer = self.enforcer
        if enforcer is None or flow.response is not None or enforcer.snapshot.empty:
            return  # nothing blocked: no per-request work on the event loop
        req = flow.request
        headers = headers_of(req)
        tls = bool(flow.client_conn.tls or req.scheme == "https")
        if body:  # the headers were checked already: the body alone, read as its type says
            decision = enforcer.check(
                method=req.method,
                target=req.path or "/",
                headers=(),
                tls=tls,
                destination=destination_of(flow),
                body=body_prefix(req, self.body_limit, headers),
                content_type=req.headers.get("content-type"),
            )
        else:
            decision = enforcer.check(
                method=req.method,
                target=req.path or "/",
                headers=headers,
                tls=tls,
                destination=destination_of(flow),
            )
        if decision is None:
            return
        flow.metadata[_BLOCK] = decision.reference
        flow.response = blocked_response(decision.reference, decision.kind)
        log.warning(
            "ir-console: blocked %s %s (%s %s, reference %s)",
            req.method,
            destination_of(flow).address,
            decision.kind,
            decision.subject,
            decision.reference,
        )

    async def response(self, flow: http.HTTPFlow) -> None:
        """Record the flow; an urgent one's response goes out only once it is in the case."""
        if flow.websocket is not None:
            self.limits.tunnelled(flow.client_conn.id)
        self.limits.answered(flow.client_conn.id, time.time())
        seq = self._record(flow)
        if seq is None or self.writer is None:
            return
        self.held += 1
        if not await self.writer.committed(seq, self.durable_timeout):
            self.held_too_long += 1
            log.warning(
                "ir-console: a response was released before its flow was committed "
                "(the case writer is slow or stopped)"
            )

    def error(self, flow: http.HTTPFlow) -> None:
        self.limits.answered(flow.client_conn.id, time.time())
        self._record(flow)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        if self.writer is not None:
            client = data.context.client
            self.writer.put(
                client_tls_failure(
                    client, data.context.server, time.time(), ja4=self.ja4.get(client.id)
                )
            )

    def done(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._close_enforcer()
        self._close_writer()

    def _record(self, flow: http.HTTPFlow) -> int | None:
        """Queue the flow for the case; its sequence number when its response must wait for
        the commit (see ``urgency``), else None."""
        if self.writer is None or flow.metadata.get(_RECORDED):
            return None
        flow.metadata[_RECORDED] = True
        self._note_ja4(flow)
        reference = flow.metadata.get(_BLOCK)
        gate = flow.request.stream
        observed = flow_to_observed(
            flow,
            blocked=reference is not None,
            reference=reference,
            body_limit=self.body_limit,
            request_body=(
                decoded_prefix(
                    bytes(gate.prefix),
                    flow.request.headers.get("content-encoding"),
                    self.body_limit,
                )
                if isinstance(gate, BodyGate)
                else None
            ),
            request_bytes=gate.total if isinstance(gate, BodyGate) else None,
        )

        hold = urgent(
            self.durable,
            blocked=reference is not None,
            headers=observed.request_headers,
            target=observed.target or "/",
        )
        seq = self.writer.put(observed, urgent=hold)
        return seq if hold else None

    def _note_ja4(self, flow: http.HTTPFlow) -> None:
        fingerprint = self.ja4.get(flow.client_conn.id)
        if fingerprint is not None:
            flow.metadata[JA4_KEY] = fingerprint

    def _close_writer(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()
            log.info(
                "ir-console: %d exchanges written, %d dropped, %d failed",
                writer.written,
                writer.dropped,
                writer.failed,
            )

    def _close_enforcer(self) -> None:
        if self.enforcer is not None:
            enforcer, self.enforcer = self.enforcer, None
            enforcer.close()


def _streamed(flow: http.HTTPFlow) -> bool:
    """Whether mitmproxy streams this request's body: it decided so (a declared length over
    ``stream_large_bodies``), or it will once that much is buffered (a length it does not know:
    chunked HTTP/1.1, HTTP/2 and 3 without ``content-length``)."""
    req = flow.request
    if req.stream:
        return True
    # the option belongs to mitmproxy's proxy server (absent where none runs, as in tests)
    if not getattr(ctx.options, "stream_large_bodies", None) or "content-length" in req.headers:
        return False
    chunked = "chunked" in req.headers.get("transfer-encoding", "").lower()
    return chunked or req.is_http2 or req.is_http3


def _close_client(conn_id: str, reason: str) -> bool:
    """Close a client connection by its id (mitmproxy has no public call for it: this uses its
    proxy server's connection handlers, as its own inactivity timeout does)."""
    server: Any = ctx.master.addons.get("proxyserver")  # type: ignore[no-untyped-call]
    handler = getattr(server, "connections", {}).get(conn_id)
    io = getattr(handler, "transports", {}).get(getattr(handler, "client", None))
    task = getattr(io, "handler", None)
    if task is None:
        return False
    task.cancel(reason)
    return True


addons: Sequence[object] = [IrConsole()]
