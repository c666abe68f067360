"""The append-only, hash-chained audit log (in the case file).

Each entry's hash is SHA-256 over the canonical JSON of (seq, ts, actor, action, subject, details,
prev_hash); the first entry chains to ``GENESIS``. Any changed, deleted or reordered entry breaks
the chain at that point, and ``verify`` names the first bad one. Callers write the audit entry
*before* acting (no audit write, no action).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from discovery.case.store import Store

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    seq: int,
    ts: float,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    body = canonical(
        {
            "seq": seq,
            "ts": ts,
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: float
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


def append(
    store: Store,
    actor: str,
    action: str,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    in_transaction: bool = False,
) -> AuditEntry:
    """Append one entry, chained to the current head. Raises if it cannot be written."""
    details = details or {}
    if in_transaction:
        return _append(store.conn, actor, action, subject, details)
    with store.transaction() as conn:
        return _append(conn, actor, action, subject, details)


def _append(
    conn: sqlite3.Connection, actor: str, action: str, subject: str | None, details: dict[str, Any]
) -> AuditEntry:
    head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq = (head[0] + 1) if head else 1
    prev = head[1] if head else GENESIS
    ts = time.time()
    # round-trip details through canonical JSON so the stored form hashes identically
    details = json.loads(canonical(details))
    digest = entry_hash(seq, ts, actor, action, subject, details, prev)
    conn.execute(
        "INSERT INTO audit_log(seq, ts, actor, action, subject, details, prev_hash, hash) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (seq, ts, actor, action, subject, canonical(details), prev, digest),
    )
    return AuditEntry(seq, ts, actor, action, subject, details, prev, digest)


def entries(store: Store) -> list[AuditEntry]:
    rows = store.conn.execute(
        "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM audit_log "
        "ORDER BY seq"
    ).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]


def head(store: Store) -> str:
    """The hash of the newest entry (GENESIS for an empty log)."""
    row = store.conn.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return str(row[0]) if row else GENESIS


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad: int | None  # seq of the first bad entry (or the position where one is missing)
    reason: str | None
    head: str


def verify(store: Store) -> Verification:
    """Walk the chain; report the first entry that was changed, deleted or reordered."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for entry in entries(store):
        count += 1
        if entry.seq != expected_seq:
            return Verification(
                False,
                count,
                expected_seq,
                f"entry {expected_seq} is missing (next is {entry.seq})",
                prev,
            )
        if entry.prev_hash != prev:
            return Verification(
                False,
                count,
                entry.seq,
                f"entry {entry.seq} does not chain to the entry before it",
                prev,
            )
        digest = entry_hash(
            entry.seq,
            entry.ts,
            entry.actor,
            entry.action,
            entry.subject,
            entry.details,
            entry.prev_hash,
        )
        if digest != entry.hash:
            return Verification(
                False, count, entry.seq, f"entry {entry.seq} was changed after it was written", prev
            )
        prev = entry.hash
        expected_seq += 1
    return Verification(True, count, None, None, prev)
