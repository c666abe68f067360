"""The ir-console mitmproxy addon: every flow into the case, and blocked credentials answered 403.

Usable as ``mitmdump -s discovery/proxy/addon.py --set irc_db=case.db [--set irc_enforce=true]``
and embedded by ``ir-console capture proxy``. The addon is thin: conversion lives in
``convert``, writing in ``writer`` (a writer process), blocklist matching in ``enforcement``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from mitmproxy import ctx, exceptions, http, tls
from mitmproxy.addonmanager import Loader

from discovery.errors import DiscoveryError
from discovery.proxy.enforcement import POLL_SECONDS, Enforcer
from discovery.proxy.writer import BATCH, QUEUE_SIZE, RECOMPUTE_SECONDS, BackgroundWriter
from discovery.sources.flows import BODY_LIMIT, client_tls_failure, flow_to_observed, headers_of

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_RECORDED = "irc_recorded"
_BLOCK = "irc_block"


def _option_error(message: str) -> exceptions.OptionsError:
    """mitmproxy's error for a bad option value (its constructor is untyped)."""
    return exceptions.OptionsError(message)  # type: ignore[no-untyped-call]


def blocked_response(reference: str, kind: str) -> http.Response:
    """The 403 answer to a blocked request: a JSON body with a reference id, never the secret."""
    body = {
        "error": "blocked",
        "message": f"request blocked by ir-console ({kind} on the incident blocklist)",
        "reference": reference,
    }
    return http.Response.make(
        403,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


class IrConsole:
    """Records flows into an ir-console case and, when enforcing, blocks what the case blocks."""

    def __init__(self) -> None:
        self.writer: BackgroundWriter | None = None
        self.enforcer: Enforcer | None = None
        self.body_limit = BODY_LIMIT

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

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        # int options only: mitmproxy's --set cannot parse floats
        names = ("irc_queue", "irc_batch", "irc_body_limit", "irc_recompute", "irc_poll_ms")
        if updated & set(names):
            for name in names:
                if getattr(opts, name) < 1:
                    raise _option_error(f"{name} must be at least 1")
        self.body_limit = opts.irc_body_limit
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

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        enforcer = self.enforcer
        if enforcer is None or flow.response is not None or enforcer.snapshot.empty:
            return  # nothing blocked: no per-request work on the event loop
        req = flow.request
        decision = enforcer.check(
            method=req.method,
            host=req.host_header or req.host,
            target=req.path or "/",
            headers=headers_of(req),
            tls=bool(flow.client_conn.tls or req.scheme == "https"),
        )
        if decision is None:
            return
        flow.metadata[_BLOCK] = decision.reference
        flow.response = blocked_response(decision.reference, decision.kind)
        log.warning(
            "ir-console: blocked %s %s (%s %s, reference %s)",
            req.method,
            req.pretty_host,
            decision.kind,
            decision.subject,
            decision.reference,
        )

    def response(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        if self.writer is not None:
            self.writer.put(
                client_tls_failure(data.context.client, data.context.server, time.time())
            )

    def done(self) -> None:
        self._close_enforcer()
        self._close_writer()

    def _record(self, flow: http.HTTPFlow) -> None:
        if self.writer is None or flow.metadata.get(_RECORDED):
            return
        flow.metadata[_RECORDED] = True
        reference = flow.metadata.get(_BLOCK)
        self.writer.put(
            flow_to_observed(
                flow,
                blocked=reference is not None,
                reference=reference,
                body_limit=self.body_limit,
            )
        )

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


addons: Sequence[object] = [IrConsole()]
