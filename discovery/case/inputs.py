"""Inputs of a case: registered by content, claimed by a live process while read, continued when
they grow.

* **By content.** An input is known by the SHA-256 of its bytes: the same file ingested again
  (under any name) adds nothing.
* **Claimed.** While an input is read its row is ``ingesting`` and names its owner (host, process
  id and start time, see ``owner``); a second ingest of the same content finds the claim live and
  waits or refuses ("being ingested by PID N"), and a dead owner's half-done read is removed and
  read again, so the case ends with the counts of one clean run.
* **Growing.** A read ends at its last whole record (``consumed``: a packet, a log line, a flow)
  and keeps the hash of the bytes before it. A file whose first ``consumed`` bytes hash the same
  is that input grown (a capture still being written, Zeek's ``current/http.log``): it is read on
  from there, as a new input that ``continues`` the earlier one, so every record is added once.
  A file that grew while an earlier version of it is being read waits for that read to finish.
* **Compressed.** A gzip-compressed input is known by its *decompressed* bytes (sizes and offsets
  too): Zeek's rotated ``http.….log.gz`` is the ``current/http.log`` it followed, finished, so
  after ``ingest --follow`` read the current log, the archive is read on from where it stopped.
  A gzip stream cut short (still being compressed, damaged) counts up to the cut.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discovery.case import owner as owners
from discovery.case.pending import mark_pending
from discovery.case.store import Store, dumps

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

# claims held by ingests running in this process: (case path, input id). A claim naming this
# process but not listed here was left by an ingest of this process that did not finish.
_ACTIVE: set[tuple[str, int]] = set()
_ACTIVE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A file's content hash and size, and the hashes of its first N bytes for some N."""

    sha256: str
    size: int
    prefixes: dict[int, str] = field(default_factory=dict)


def fingerprint(path: Path, offsets: set[int] | frozenset[int] = frozenset()) -> Fingerprint:
    """Hash a file in one pass, remembering the hash of its first N bytes at each offset N."""
    digest = hashlib.sha256()
    prefixes: dict[int, str] = {}
    stops = sorted(n for n in offsets if n > 0)
    done = 0
    for block in _content(path, stops):
        while stops and stops[0] <= done:
            if stops[0] == done:
                prefixes[done] = digest.copy().hexdigest()
            stops.pop(0)
        digest.update(block)
        done += len(block)
    while stops and stops[0] <= done:  # an offset at the very end
        if stops[0] == done:
            prefixes[done] = digest.copy().hexdigest()
        stops.pop(0)
    return Fingerprint(digest.hexdigest(), done, prefixes)


def _content(
    path: Path, stops: list[int] | None = None, limit: int | None = None
) -> Iterator[bytes]:
    """The bytes of an input in blocks, decompressed when it is gzip, each block ending at or
    before the next of ``stops`` (ascending, consumed by the caller), up to ``limit`` bytes."""
    done = 0
    for block in _blocks(path):
        while block:
            cut = len(block) if limit is None else min(len(block), limit - done)
            if stops:
                ahead = [s - done for s in stops if s > done]
                if ahead:
                    cut = min(cut, ahead[0])
            if cut <= 0:
                return
            yield block[:cut]
            done += cut
            block = block[cut:]


def _blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes, or its decompressed bytes when it is gzip (every member; a stream cut
    short or damaged ends at what decompresses before it)."""
    with path.open("rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            while block := raw.read(CHUNK):
                yield block
            return
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while chunk := raw.read(CHUNK):
            while chunk:
                try:
                    out = member.decompress(chunk)
                except zlib.error:
                    return
                if out:
                    yield out
                if not member.eof:
                    break
                chunk = member.unused_data.lstrip(b"\0")  # the next member (padding skipped)
                member = zlib.decompressobj(16 + zlib.MAX_WBITS)


def prefix_sha256(path: Path, length: int) -> str:
    """SHA-256 of the first ``length`` bytes of a file."""
    digest = hashlib.sha256()
    for block in _content(path, limit=length):
        digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming an input.

    ``id`` and ``start`` (the byte to read from) when it is ours to read; ``already_ingested``
    when there is nothing to read; ``busy`` (its owner) when a live process reads it now;
    ``missing`` when the prefix hashes at these offsets are needed to decide (hash, claim again).
    """

    id: int = 0
    start: int = 0
    already_ingested: bool = False
    busy: owners.Owner | None = None
    busy_since: float | None = None
    missing: frozenset[int] = frozenset()


def offsets_to_hash(store: Store, fmt: str, size: int) -> set[int]:
    """Where a file of this format and size could continue an input already in the case."""
    rows = store.conn.execute(
        "SELECT consumed FROM inputs WHERE state = 'complete' AND format = ? "
        "AND consumed > 0 AND consumed < ? "
        "UNION SELECT size FROM inputs WHERE state = 'ingesting' AND format = ? "
        "AND size > 0 AND size < ?",
        (fmt, size, fmt, size),
    ).fetchall()
    return {int(r[0]) for r in rows}


def _alive(store: Store, input_id: int, owner_text: str | None, heartbeat: float | None) -> bool:
    owner = owners.Owner.parse(owner_text)
    if owner is not None and owner == owners.me():
        with _ACTIVE_LOCK:
            return (str(store.path), input_id) in _ACTIVE
    return owners.alive(owner, heartbeat, time.time())


def claim(store: Store, path: Path, fmt: str, print_: Fingerprint, *, hold: bool = True) -> Claim:
    """Claim an input for reading (see the module's docstring for the rules). ``hold``: this
    process reads it now, until ``finish`` or ``release`` (without, the claim names this process
    but is recovered by the next claim, as a killed read's is)."""
    me = str(owners.me())
    now = time.time()
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT id, state, owner, heartbeat, started_at, start_offset FROM inputs "
            "WHERE sha256 = ?",
            (print_.sha256,),
        ).fetchone()
        if row is not None:
            input_id, state, owner_text, heartbeat, started, start = row
            if state == "complete":
                return Claim(id=int(input_id), already_ingested=True)
            if _alive(store, int(input_id), owner_text, heartbeat):
                return Claim(busy=owners.Owner.parse(owner_text), busy_since=started)
            # a dead owner's half-done read: its rows go, the same id is read again
            store.forget_input_rows(int(input_id))
            conn.execute(
                "UPDATE inputs SET started_at = ?, path = ?, format = ?, stats = '{}', "
                "owner = ?, heartbeat = ? WHERE id = ?",
                (now, str(path), fmt, me, now, input_id),
            )
            return _mine(store, int(input_id), int(start or 0), hold)
        # an earlier version of this file being read now (or abandoned): wait, or clear it
        growing = conn.execute(
            "SELECT id, sha256, size, owner, heartbeat, started_at FROM inputs "
            "WHERE state = 'ingesting' AND format = ? AND size > 0 AND size < ?",
            (fmt, print_.size),
        ).fetchall()
        missing = {int(r[2]) for r in growing} - set(print_.prefixes)
        for input_id, digest, size, owner_text, heartbeat, started in growing:
            if print_.prefixes.get(int(size)) != digest:
                continue
            if _alive(store, int(input_id), owner_text, heartbeat):
                return Claim(busy=owners.Owner.parse(owner_text), busy_since=started)
            forget_input(store, int(input_id))
        # a complete input this file continues: read on from where it stopped
        done = conn.execute(
            "SELECT id, consumed, prefix_sha256 FROM inputs WHERE state = 'complete' "
            "AND format = ? AND consumed > 0 AND consumed < ? ORDER BY consumed DESC, id DESC",
            (fmt, print_.size),
        ).fetchall()
        missing |= {int(r[1]) for r in done} - set(print_.prefixes)
        if missing:
            return Claim(missing=frozenset(missing))
        parent = next((r for r in done if print_.prefixes.get(int(r[1])) == r[2]), None)
        start = int(parent[1]) if parent else 0
        cur = conn.execute(
            "INSERT INTO inputs(sha256, path, format, size, state, started_at, owner, heartbeat, "
            "start_offset, continues) VALUES (?, ?, ?, ?, 'ingesting', ?, ?, ?, ?, ?)",
            (
                print_.sha256,
                str(path),
                fmt,
                print_.size,
                now,
                me,
                now,
                start,
                int(parent[0]) if parent else None,
            ),
        )
        return _mine(store, int(cur.lastrowid or 0), start, hold)


def _mine(store: Store, input_id: int, start: int, hold: bool) -> Claim:
    if hold:
        with _ACTIVE_LOCK:
            _ACTIVE.add((str(store.path), input_id))
    return Claim(id=input_id, start=start)


def release(store: Store, input_id: int) -> None:
    """This process no longer reads the input (finished, failed or interrupted): a claim left
    ``ingesting`` is then dead, and the next ingest recovers it."""
    with _ACTIVE_LOCK:
        _ACTIVE.discard((str(store.path), input_id))


def heartbeat(store: Store, input_id: int) -> None:
    """A sign of life of the owner (inside the caller's transaction)."""
    store.conn.execute("UPDATE inputs SET heartbeat = ? WHERE id = ?", (time.time(), input_id))


def finish(
    store: Store,
    input_id: int,
    stats: dict[str, Any],
    consumed: int | None,
    prefix: str | None,
    dropped: int | None = None,
) -> None:
    """Mark an input read: its counters, where the read ended (``consumed`` bytes of whole
    records, with their hash; None for a format read only as a whole), and the packets its
    capture lost (``dropped``: None when the input does not say)."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE inputs SET state = 'complete', finished_at = ?, stats = ?, consumed = ?, "
            "prefix_sha256 = ?, dropped = ? WHERE id = ?",
            (time.time(), dumps(stats), consumed, prefix, dropped, input_id),
        )
    release(store, input_id)


def forget_input(store: Store, input_id: int) -> None:
    """Remove an input and what it wrote (inside the caller's transaction); the analysis is
    pending again (rows an earlier, analysed read of this input wrote are gone)."""
    store.forget_input_rows(input_id)
    store.conn.execute("DELETE FROM inputs WHERE id = ?", (input_id,))
    mark_pending(store)
