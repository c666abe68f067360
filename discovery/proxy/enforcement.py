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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from discovery.case import blocklist
from discovery.case.store import Store
from discovery.models import Headers
from discovery.redact.convert import normalise_host
from discovery.redact.credentials import RequestView, detect_credentials
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

    kind: str  # "credential" | "endpoint"
    subject: str  # credential id | "HOST METHOD TEMPLATE"
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


def decide(
    snapshot: Snapshot,
    *,
    method: str,
    host: str | None,
    target: str,
    headers: Headers,
    tls: bool,
    fingerprint: Callable[[str], str],
) -> Decision | None:
    """The block that applies to a request, or None when it may pass."""
    if snapshot.empty:
        return None
    raw_path, raw_query, authority = split_target(target)
    path = normalise_path(raw_path)
    stored_host = normalise_host(host or authority or "", tls)
    upper = method.upper()
    if snapshot.endpoints:
        for key in ((stored_host, upper), (stored_host, "*")):
            for template, subject in snapshot.endpoints.get(key, ()):
                if blocklist.template_matches(template, path):
                    return Decision("endpoint", subject, new_reference())
    if snapshot.credentials:
        view = RequestView(
            headers=headers,
            query=query_pairs(raw_query),
            host=stored_host or None,
            path=path,
            method=upper,
        )
        for sighting in detect_credentials(view, fingerprint):
            credential = snapshot.credentials.get(sighting.fingerprint)
            if credential is not None:
                return Decision("credential", credential, new_reference())
    return None


class Enforcer:
    """A live view of one case's blocklist, refreshed by a poller thread when it changes."""

    def __init__(self, case_path: Path, poll_seconds: float = POLL_SECONDS) -> None:
        self._store = Store.open(case_path)
        self.fingerprint = self._store.fingerprint
        self.poll_seconds = poll_seconds
        self._marker = blocklist.change_marker(self._store)
        self.snapshot = load_snapshot(self._store)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="irc-blocklist", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except sqlite3.Error as exc:  # keep the last good snapshot; try again next poll
                log.warning("cannot re-read the blocklist (%s); keeping the previous one", exc)

    def refresh(self) -> None:
        """Re-read the blocklist if its change marker moved."""
        marker = blocklist.change_marker(self._store)
        if marker == self._marker:
            return
        snapshot = load_snapshot(self._store)
        self._marker = marker
        self.snapshot = snapshot  # one attribute store: readers see the old or the new snapshot
        log.info(
            "blocklist reloaded: %d credentials, %d endpoints blocked",
            len(snapshot.credentials),
            sum(len(v) for v in snapshot.endpoints.values()),
        )

    def check(
        self, *, method: str, host: str | None, target: str, headers: Headers, tls: bool
    ) -> Decision | None:
        """The block that applies to a request, against the current snapshot."""
        return decide(
            self.snapshot,
            method=method,
            host=host,
            target=target,
            headers=headers,
            tls=tls,
            fingerprint=self.fingerprint,
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._store.close()
