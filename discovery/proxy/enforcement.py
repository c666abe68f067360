"""Blocklist matching for the proxy: which request must be answered with 403 instead of forwarded.

The blocklist lives in the case file; ``Enforcer`` keeps an immutable snapshot of it and a thread
re-reads it when ``blocklist.change_marker`` changes, so a block written by another process (the
CLI, a runbook) takes effect on a running proxy within one poll interval.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from discovery.case import blocklist, proxies
from discovery.case.store import Store
from discovery.models import Headers
from discovery.redact.convert import normalise_host
from discovery.redact.credentials import RequestView, detect_credentials
from discovery.wire.destinations import contradiction, split_authority
from discovery.wire.paths import normalise_path, query_pairs, split_target

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The blocklist at one moment: blocked fingerprints and endpoint templates by host+method."""

    credentials: dict[str, str] = field(default_factory=dict)  # fingerprint -> credential id
    endpoints: dict[tuple[str, str], tuple[tuple[str, str], ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.credentials and not self.endpoints


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a request is blocked: the kind of block, its subject, and the reference we answer with."""

    kind: str  # "credential" | "endpoint" | "host-mismatch"
    subject: str  # credential id | "HOST METHOD TEMPLATE" | what the mismatch is
    reference: str  # random id put in the 403 body and the exchange's evidence


def load_snapshot(store: Store) -> Snapshot:
    """Read the case's blocklist into a snapshot."""
    creds: dict[str, str] = {}
    grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for block in blocklist.blocks(store):
        if block.kind == "credential":
            creds[block.value] = block.subject
        elif block.kind == "endpoint":
            host, method, template = blocklist.parse_endpoint(block.value)
            grouped.setdefault((host, method), []).append((template, block.value))
    return Snapshot(creds, {k: tuple(v) for k, v in grouped.items()})


def new_reference() -> str:
    """A reference id for one blocked request (random: it reveals nothing about the credential)."""
    return "irc-" + secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a request goes and what it claims: ``address`` is the host and port the proxy
    connects to (the absolute URL's or CONNECT target's, a reverse proxy's upstream), ``claimed``
    the Host header (or ``:authority``), ``sni`` the TLS server name the client sent.
    ``client_named`` is true when the client chose the address (a regular or upstream proxy):
    then a Host or SNI naming another host is a mismatch."""

    address: str | None = None  # "host:port"
    claimed: str | None = None
    sni: str | None = None
    client_named: bool = False


def decide(
    snapshot: Snapshot,
    *,
    method: str,
    host: str | None = None,
    target: str,
    headers: Headers,
    tls: bool,
    fingerprint: Callable[[str], str],
    destination: Destination | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Decision | None:
    """The block that applies to a request, or None when it may pass.

    Endpoint blocks are checked against every name the request goes by (the address the proxy
    connects to, the Host header, the absolute target's authority, the SNI): a fake Host header
    cannot move a request off a blocked endpoint. When the client named the address, a Host or
    SNI naming another host is blocked as a mismatch. Credentials are found by the pipeline's own
    detector (``detect_credentials``: any whitespace after the scheme, query, cookies, path, and
    the body when given), so whatever the case records as a credential, the proxy blocks.
    """
    if snapshot.empty:
        return None
    where = destination or Destination(claimed=host)
    raw_path, raw_query, authority = split_target(target)
    path = normalise_path(raw_path)
    names = _names(where, authority or "", tls)
    upper = method.upper()
    if snapshot.endpoints:
        for name in names:
            for key in ((name, upper), (name, "*")):
                for template, subject in snapshot.endpoints.get(key, ()):
                    if blocklist.template_matches(template, path):
                        return Decision("endpoint", subject, new_reference())
    if where.client_named and where.address:
        mismatch = host_mismatch(where, tls)
        if mismatch is not None:
            return Decision("host-mismatch", mismatch, new_reference())
    if snapshot.credentials:
        view = RequestView(
            headers=headers,
            query=query_pairs(raw_query),
            host=names[0] if names else None,
            path=raw_path or "/",
            method=upper,
            body=body,
            content_type=content_type,
        )
        for sighting in detect_credentials(view, fingerprint):
            credential = snapshot.credentials.get(sighting.fingerprint)
            if credential is not None:
                return Decision("credential", credential, new_reference())
    return None


def _stored(host: str, port: int | None, tls: bool) -> str:
    """A host and port as the case stores them (``normalise_host``: no default port)."""
    shown = f"[{host}]" if ":" in host else host
    return normalise_host(shown if port is None else f"{shown}:{port}", tls)


def _names(where: Destination, authority: str, tls: bool) -> list[str]:
    """Every stored-form name of the request's host: the address first."""
    names: list[str] = []
    port: int | None = None
    if where.address:
        host, port = split_authority(where.address)
        names.append(_stored(host, port, tls))
    for claimed in (where.claimed, authority):
        if claimed:
            host, claimed_port = split_authority(claimed)
            names.append(_stored(host, claimed_port, tls))
    if where.sni:
        names.append(_stored(where.sni.strip().lower().rstrip("."), port, tls))
    return list(dict.fromkeys(n for n in names if n))


def host_mismatch(where: Destination, tls: bool) -> str | None:
    """How the Host header or SNI contradicts the address the client named, or None
    (``wire.destinations.contradiction``: the proxy uses the absolute-form target or CONNECT
    target and ignores Host, RFC 9112 section 3.2.2)."""
    if not where.address:
        return None
    return contradiction(
        destination=where.address, named=True, claimed=where.claimed, sni=where.sni
    )


class Enforcer:
    """A live view of one case's blocklist, refreshed by a poller thread when it changes.

    It writes a heartbeat to the case (``case.proxies``) when it starts, every
    ``HEARTBEAT_SECONDS`` and as soon as it applied a change, and removes it when closed, so
    ``block``, the console and runbooks can say whether the blocklist is enforced."""

    def __init__(self, case_path: Path, poll_seconds: float = POLL_SECONDS) -> None:
        self._store = Store.open(case_path)
        self.fingerprint = self._store.fingerprint
        self.poll_seconds = poll_seconds
        self.id = secrets.token_hex(8)
        self.started_at = time.time()
        self._marker = blocklist.change_marker(self._store)
        self.snapshot = load_snapshot(self._store)
        self.applied_at = time.time()
        self._beaten = 0.0
        self._beat()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="irc-blocklist", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                if self.refresh() or time.monotonic() - self._beaten >= proxies.HEARTBEAT_SECONDS:
                    self._beat()
            except sqlite3.Error as exc:  # keep the last good snapshot; try again next poll
                log.warning("cannot re-read the blocklist (%s); keeping the previous one", exc)

    def _beat(self) -> None:
        proxies.beat(
            self._store,
            self.id,
            started_at=self.started_at,
            applied_marker=self._marker,
            applied_at=self.applied_at,
            blocks=len(self.snapshot.credentials)
            + sum(len(v) for v in self.snapshot.endpoints.values()),
        )
        self._beaten = time.monotonic()

    def refresh(self) -> bool:
        """Re-read the blocklist if its change marker moved; whether it did."""
        marker = blocklist.change_marker(self._store)
        if marker == self._marker:
            return False
        snapshot = load_snapshot(self._store)
        self._marker = marker
        self.snapshot = snapshot  # one attribute store: readers see the old or the new snapshot
        self.applied_at = time.time()
        log.info(
            "blocklist reloaded: %d credentials, %d endpoints blocked",
            len(snapshot.credentials),
            sum(len(v) for v in snapshot.endpoints.values()),
        )
        return True

    def check(
        self,
        *,
        method: str,
        target: str,
        headers: Headers,
        tls: bool,
        destination: Destination,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Decision | None:
        """The block that applies to a request, against the current snapshot."""
        return decide(
            self.snapshot,
            method=method,
            target=target,
            headers=headers,
            tls=tls,
            fingerprint=self.fingerprint,
            destination=destination,
            body=body,
            content_type=content_type,
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            proxies.stopped(self._store, self.id)
        except sqlite3.Error as exc:  # the row goes stale instead: readers ignore it
            log.warning("cannot remove this proxy's heartbeat (%s)", exc)
        self._store.close()
