"""The audit chains of merged cases (``case merge``), kept as separate verified chains.

A case's audit entries are MACs under *its* audit key, and its anchor lies beside *it*: once its
entries are in another case, neither travels with them. So a merge

1. verifies the source's chain where it can, with the source's own key and anchor
   (``audit.verify``), and refuses a chain that does not verify;
2. copies the entries whole into ``audit_origin_entries`` (one ``audit_origins`` row per source
   chain, known by its first entry's hash), and
3. appends one ``case.merge.audit`` entry to the merged case's *own* chain, keyed and anchored
   like any entry, that pins the copied chain: its entry count, head and the SHA-256 of its
   canonical entries.

``verify_origins`` checks each copied chain against the pin of the newest merge entry naming it
(so a copied entry changed, added, dropped or reordered in the merged case is detected, as the
merged case's own chain and anchor protect the pin), its own structure (sequence, links), and,
when the source shared the merged case's key, every entry's MAC as the source's ``audit verify``
did. Merging the same chain again adds nothing; a chain that grew since (the source case went on)
replaces its copy, pinned again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from discovery.case import audit
from discovery.case.store import Store
from discovery.errors import CaseFileError

MERGE_ACTION = "case.merge.audit"


@dataclass(frozen=True)
class ImportedChain:
    """One source chain after a merge: ``added`` False when the same chain was already there."""

    first_hash: str
    entries: int
    head: str
    added: bool
    same_key: bool


@dataclass(frozen=True)
class OriginCheck:
    """One copied chain checked in the merged case."""

    case_path: str
    entries: int
    ok: bool
    reason: str | None
    macs_checked: bool  # the entries' MACs were checked too (the source shared our key)


def _content_sha256(entries: list[audit.AuditEntry]) -> str:
    digest = hashlib.sha256()
    for e in entries:
        row = [e.seq, e.ts, e.actor, e.action, e.subject, e.details, e.prev_hash, e.hash]
        digest.update(audit.canonical(row).encode() + b"\n")
    return digest.hexdigest()


def import_chain(target: Store, source: Store) -> ImportedChain | None:
    """Copy the source's verified audit chain into ``target`` (inside the caller's transaction)
    and pin it in ``target``'s own chain; None when the source has no audit entries."""
    entries = audit.entries(source)
    if not entries:
        return None
    checked = audit.verify(source)
    if not checked.ok:
        raise CaseFileError(
            f"{source.path}: its audit log does not verify (entry {checked.first_bad}: "
            f"{checked.reason}): not merged"
        )
    first, head = entries[0].hash, entries[-1].hash
    same_key = hmac.compare_digest(source.audit_key, target.audit_key)
    conn = target.conn
    known = conn.execute(
        "SELECT id, head FROM audit_origins WHERE first_hash = ?", (first,)
    ).fetchone()
    if known is not None and known[1] == head:
        return ImportedChain(first, len(entries), head, False, same_key)
    if known is not None:  # the source went on: its longer chain replaces the copy
        conn.execute("DELETE FROM audit_origin_entries WHERE origin_id = ?", (known[0],))
        conn.execute("DELETE FROM audit_origins WHERE id = ?", (known[0],))
    content = _content_sha256(entries)
    cur = conn.execute(
        "INSERT INTO audit_origins(first_hash, case_path, entries, head, content_sha256, "
        "same_key, merged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (first, str(source.path), len(entries), head, content, int(same_key), time.time()),
    )
    origin = int(cur.lastrowid or 0)
    conn.executemany(
        "INSERT INTO audit_origin_entries(origin_id, seq, ts, actor, action, subject, details, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                origin,
                e.seq,
                e.ts,
                e.actor,
                e.action,
                e.subject,
                audit.canonical(e.details),
                e.prev_hash,
                e.hash,
            )
            for e in entries
        ],
    )
    audit.append(
        target,
        "ir-console",
        MERGE_ACTION,
        str(source.path),
        {
            "origin": first,
            "entries": len(entries),
            "head": head,
            "content_sha256": content,
            "anchored": checked.anchored,
            "verified_with": "the merged case's own key and anchor",
        },
        in_transaction=True,
    )
    return ImportedChain(first, len(entries), head, True, same_key)


def verify_origins(store: Store) -> list[OriginCheck]:
    """Check every copied chain against the pin in this case's own chain (verify that chain
    with ``audit.verify``: the pins are only as good as it is)."""
    pins: dict[str, dict[str, object]] = {}
    for entry in audit.entries(store):
        if entry.action == MERGE_ACTION and isinstance(entry.details.get("origin"), str):
            pins[str(entry.details["origin"])] = entry.details  # the newest pin wins
    out = []
    rows = store.conn.execute(
        "SELECT id, first_hash, case_path, same_key FROM audit_origins ORDER BY id"
    ).fetchall()
    for origin, first, case_path, same_key in rows:
        entries = [
            audit.AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7])
            for r in store.conn.execute(
                "SELECT seq, ts, actor, action, subject, details, prev_hash, hash "
                "FROM audit_origin_entries WHERE origin_id = ? ORDER BY seq",
                (origin,),
            )
        ]
        reason = _check(entries, first, pins.get(first), store.audit_key if same_key else None)
        out.append(OriginCheck(case_path, len(entries), reason is None, reason, bool(same_key)))
    return out


def _check(
    entries: list[audit.AuditEntry],
    first: str,
    pin: dict[str, object] | None,
    key: bytes | None,
) -> str | None:
    """Why a copied chain does not verify, or None."""
    if pin is None:
        return "no merge entry in this case's audit log pins this chain"
    if not entries or entries[0].hash != first:
        return "its first entry is not the one it was merged with"
    if len(entries) != pin.get("entries") or entries[-1].hash != pin.get("head"):
        return (
            f"it holds {len(entries)} entries ending in {entries[-1].hash[:12]}…; the merge "
            f"pinned {pin.get('entries')} ending in {str(pin.get('head'))[:12]}…"
        )
    if _content_sha256(entries) != pin.get("content_sha256"):
        return "an entry was changed after the merge (its content differs from the pin)"
    walked = audit._walk(entries, key) if key is not None else _links(entries)
    if not walked.ok:
        return walked.reason
    return None


def _links(entries: list[audit.AuditEntry]) -> audit.Verification:
    """Sequence and links of a chain whose MACs need a key we do not have."""
    prev = audit.GENESIS
    for number, entry in enumerate(entries, 1):
        if entry.seq != number:
            return audit.Verification(False, number, number, f"entry {number} is missing", prev)
        if entry.prev_hash != prev:
            return audit.Verification(
                False, number, entry.seq, f"entry {entry.seq} does not chain", prev
            )
        prev = entry.hash
    return audit.Verification(True, len(entries), None, None, prev)
