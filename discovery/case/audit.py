"""The append-only audit log (in the case file), chained under a key that is not in the case.

Each entry's hash is an HMAC-SHA256, under the audit key (derived from the case key, ``PATH.key``
beside the case), of the canonical JSON of (seq, ts, actor, action, subject, details, prev_hash);
the first entry chains to ``GENESIS``. After every append the log's head and entry count are
written outside the case, under the same key (``anchor``). ``verify`` walks the chain and compares
its end with the anchor, so a changed, inserted, reordered or deleted entry, a log cut at its
tail, and a log rewritten with the public hash function are all detected, and the first bad entry
is named. What it cannot detect: someone holding the case key (they can rewrite the log and the
anchor together) who also rolls back any mirror of the anchor (docs/runbooks.md, "The audit log").

Callers write the audit entry *before* acting (no audit write, no action).

Logs written by an older ir-console were chained with plain SHA-256 (``entry_hash``), which anyone
can recompute; the first append by this version verifies such a log, re-chains it under the key
and records what it found (``audit.keyed``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from discovery.case import anchor
from discovery.case.store import Store

log = logging.getLogger(__name__)

GENESIS = "0" * 64
CHAIN = "hmac-sha256-v1"  # meta ``audit_chain`` once the log is keyed


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _body(
    seq: int,
    ts: float,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    return canonical(
        {
            "seq": seq,
            "ts": ts,
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
            "prev_hash": prev_hash,
        }
    ).encode()


def entry_mac(
    key: bytes,
    seq: int,
    ts: float,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """An entry's hash: HMAC-SHA256 under the audit key."""
    return hmac.digest(
        key, _body(seq, ts, actor, action, subject, details, prev_hash), "sha256"
    ).hex()


def entry_hash(
    seq: int,
    ts: float,
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """An entry's hash as older versions wrote it: plain SHA-256 (anyone can recompute it)."""
    return hashlib.sha256(_body(seq, ts, actor, action, subject, details, prev_hash)).hexdigest()


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
    """Append one entry, chained to the current head. Raises if it cannot be written.

    The anchor is written once the entry is committed (after the caller's transaction when
    ``in_transaction``); an entry rolled back with its transaction is never anchored.
    """
    details = details or {}
    if in_transaction:
        entry = _append(store, actor, action, subject, details)
        store.after_commit(lambda: update_anchor(store))
        return entry
    with store.transaction():
        entry = _append(store, actor, action, subject, details)
    update_anchor(store)
    return entry


def _append(
    store: Store, actor: str, action: str, subject: str | None, details: dict[str, Any]
) -> AuditEntry:
    conn = store.conn
    if store.get_meta("audit_chain") != CHAIN:
        _key_the_log(store)
    head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq = (head[0] + 1) if head else 1
    prev = head[1] if head else GENESIS
    ts = time.time()
    # round-trip details through canonical JSON so the stored form hashes identically
    details = json.loads(canonical(details))
    digest = entry_mac(store.audit_key, seq, ts, actor, action, subject, details, prev)
    conn.execute(
        "INSERT INTO audit_log(seq, ts, actor, action, subject, details, prev_hash, hash) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (seq, ts, actor, action, subject, canonical(details), prev, digest),
    )
    return AuditEntry(seq, ts, actor, action, subject, details, prev, digest)


def _key_the_log(store: Store) -> None:
    """First keyed append: re-chain an older, public-hash log under the key, saying what its
    public chain showed (inside the caller's transaction)."""
    old = entries(store)
    store.set_meta("audit_chain", CHAIN)
    if not old:
        return
    legacy = _walk(old, None)
    prev = GENESIS
    for entry in old:
        digest = entry_mac(
            store.audit_key,
            entry.seq,
            entry.ts,
            entry.actor,
            entry.action,
            entry.subject,
            entry.details,
            prev,
        )
        store.conn.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, entry.seq)
        )
        prev = digest
    _append(
        store,
        "ir-console",
        "audit.keyed",
        None,
        {
            "legacy_entries": len(old),
            "legacy_chain_ok": legacy.ok,
            "legacy_first_bad": legacy.first_bad,
            "legacy_reason": legacy.reason,
        },
    )


def update_anchor(store: Store) -> None:
    """Write the committed head to the anchor (a failure is logged: the entry is in the case,
    and ``verify`` reports an anchor that lags)."""
    row = store.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return
    try:
        anchor.write(store.path, store.audit_key, int(row[0]), str(row[1]))
    except OSError as exc:
        log.error("audit anchor %s not written: %s", anchor.anchor_path(store.path), exc)


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
    anchored: int | None = None  # entries the anchor records (None: no anchor)
    note: str | None = None  # something true and worth saying that is not a failure


def verify(store: Store) -> Verification:
    """Walk the chain under the key and compare its end with the anchor; name the first entry
    that was changed, inserted, reordered or deleted, or where the log was cut."""
    try:
        recorded = anchor.read(store.path, store.audit_key)
        mirrored = anchor.read_mirror(store.path, store.audit_key)
    except anchor.AnchorDamaged as exc:
        walked = _walk(entries(store), store.audit_key)
        return Verification(False, walked.entries, walked.first_bad or 1, str(exc), walked.head)
    if mirrored is not None and (recorded is None or mirrored.entries > recorded.entries):
        recorded = mirrored  # the mirror remembers more: someone rolled the anchor back
    keyed = store.get_meta("audit_chain") == CHAIN or recorded is not None
    walked = _walk(entries(store), store.audit_key if keyed else None)
    if not keyed:
        if walked.ok and walked.entries:
            return Verification(
                True,
                walked.entries,
                None,
                None,
                walked.head,
                note="chained with plain SHA-256 by an older ir-console: anyone can recompute "
                "it, so it is not tamper-evident until the next audited change re-keys it",
            )
        return walked
    if not walked.ok:
        return Verification(
            False, walked.entries, walked.first_bad, walked.reason, walked.head, _count(recorded)
        )
    path = anchor.anchor_path(store.path)
    if recorded is None:
        if walked.entries == 0:
            return walked
        return Verification(
            False,
            walked.entries,
            walked.entries + 1,
            f"the audit anchor {path} is missing: deletion at the tail cannot be ruled out",
            walked.head,
        )
    if recorded.entries > walked.entries:
        return Verification(
            False,
            walked.entries,
            walked.entries + 1,
            f"entries {walked.entries + 1} to {recorded.entries} are missing: the anchor "
            f"records {recorded.entries} entries, the log holds {walked.entries}",
            walked.head,
            recorded.entries,
        )
    at = store.conn.execute(
        "SELECT hash FROM audit_log WHERE seq = ?", (recorded.entries,)
    ).fetchone()
    if recorded.entries and (at is None or at[0] != recorded.head):
        return Verification(
            False,
            walked.entries,
            recorded.entries,
            f"entry {recorded.entries} is not the one the anchor recorded: the log was cut "
            "and written again from an earlier entry",
            walked.head,
            recorded.entries,
        )
    note = None
    if recorded.entries < walked.entries:
        note = (
            f"the anchor records {recorded.entries} of {walked.entries} entries (written "
            "before the last appends were anchored); the next append brings it up to date"
        )
    return Verification(True, walked.entries, None, None, walked.head, recorded.entries, note)


def _count(recorded: anchor.Anchor | None) -> int | None:
    return recorded.entries if recorded is not None else None


def _walk(log_entries: list[AuditEntry], key: bytes | None) -> Verification:
    """The chain alone: under ``key``, or with the public hash when None (older logs)."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for entry in log_entries:
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
        fields = (
            entry.seq,
            entry.ts,
            entry.actor,
            entry.action,
            entry.subject,
            entry.details,
            entry.prev_hash,
        )
        digest = entry_mac(key, *fields) if key is not None else entry_hash(*fields)
        if not hmac.compare_digest(digest, entry.hash):
            return Verification(
                False, count, entry.seq, f"entry {entry.seq} was changed after it was written", prev
            )
        prev = entry.hash
        expected_seq += 1
    return Verification(True, count, None, None, prev)
