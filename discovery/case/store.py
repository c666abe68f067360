"""The case file: one SQLite database per investigation (WAL), plus its key file.

Plain ``sqlite3`` on the hot paths: ``sqlite_utils`` costs ~180 ms to import, and the read commands
a responder runs dozens of times an hour must start fast. Writers batch inside transactions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from discovery.case import anchor, schema
from discovery.errors import CaseFileError
from discovery.models import CredentialSighting, Exchange
from discovery.redact.secrets import Fingerprinter, credential_id, load_or_create_key

log = logging.getLogger(__name__)

DEFAULT_CASE = "ir-console.db"
BUSY_TIMEOUT_MS = 30_000
# WAL pages before a writer that bulk-inserts checkpoints (SQLite's default: 1000). A batch of
# exchanges rewrites the same index pages again and again; checkpointing them every 4 MiB copied
# each into the database several times (a fifth of the insert time). Crash safety is the same at
# any WAL size (a commit is whole or absent); the WAL only grows to ~40 MiB before the copy.
BULK_WAL_AUTOCHECKPOINT = 10_000
# Page cache of a writer that bulk-inserts, in KiB (SQLite's default: 2 MiB). The exchanges'
# indexes take rows in no order (host, path); once they outgrow the cache each insert reads and
# writes pages back: 300,000 Zeek records inserted in 51 s with the default, 24 s with 128 MiB.
# A bound, not an allocation, and only while the load lasts (``Store.end_bulk``): SQLite sizes
# its sorters by the page cache too, so an analysis run under it held up to this much again.
BULK_CACHE_KIB = 131_072
# The page cache of a load whose indexes are built after it (``discovery.case.bulk``): the rows
# are appended, so a large cache only holds pages that are never read again; measured at 1M
# Zeek records, 16 MiB instead of 128 MiB costs ~10% more CPU and keeps memory flat.
DEFERRED_CACHE_KIB = 16_384

# sqlite3 binds a None parameter through its adaptation protocol, which (CPython 3.11) raises and
# formats an AttributeError inside for each one: about a microsecond per NULL, and an exchange
# row has about eleven. An adapter registered for None answers at once (``dict.get`` of a key
# it lacks is None) and SQLite stores NULL as before: rows bind a third faster.
_NOTHING: dict[object, None] = {}
sqlite3.register_adapter(type(None), _NOTHING.get)

# an exchange ready to insert: its row fields (``exchange_fields``), its time, its sightings
PreparedExchange = tuple[tuple[Any, ...], float, Sequence[CredentialSighting]]


def default_case_path() -> Path:
    """``IR_CONSOLE_DB`` or ``./ir-console.db``."""
    return Path(os.environ.get("IR_CONSOLE_DB") or DEFAULT_CASE)


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Content hash of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _decode_text(raw: bytes) -> str:
    """SQLite TEXT to str, never failing: invalid UTF-8 becomes U+FFFD."""
    return raw.decode("utf-8", "replace")


def dumps(value: Any) -> str:
    """Compact, stable JSON for columns."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class InputRegistration:
    """The outcome of registering an input: its id and whether it was already fully ingested."""

    id: int
    already_ingested: bool


def _usable_case(path: Path) -> bool:
    """Whether ``path`` holds a case to open: False when it is missing, empty, or a SQLite
    database with nothing in it (a creation killed before its first commit, by a version that
    created cases in place)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # opening it says what is wrong
    if not header:
        return False
    if header[68:72] == schema.APPLICATION_ID.to_bytes(4, "big"):
        return True  # the common case, read from the header alone
    return not _empty_database(path)


def _remove_leftover(path: Path) -> None:
    """Remove what an interrupted creation left at ``path`` (no case data: see _usable_case)."""
    if path.exists():
        log.warning("%s: an empty case left by an interrupted creation: creating it again", path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _empty_database(path: Path) -> bool:
    """A SQLite database with no schema, application id or version (nothing was committed)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                return False
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    except (OSError, sqlite3.Error):
        return False
    try:
        row = conn.execute(
            "SELECT (SELECT application_id FROM pragma_application_id), "
            "(SELECT user_version FROM pragma_user_version), "
            "(SELECT COUNT(*) FROM sqlite_master)"
        ).fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return tuple(row) == (0, 0, 0)


def _create_case(path: Path) -> None:
    """Build a new case under a private temporary name, then link it into place (another
    process that created it first wins; its case is used)."""
    from discovery.case.files import PRIVATE_FILE

    _remove_stale_builds(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns():x}.creating")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot create: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            Store._prepare(temp, conn, False)
        finally:
            conn.close()  # the last connection: the WAL is checkpointed into the file
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        load_or_create_key(path, create=True)  # the key is there before the case is
        # an audit anchor left by an earlier case of this name is not the new case's
        anchor.remove(path)
        try:
            os.link(temp, path)
        except FileExistsError:
            if not _usable_case(path):  # an empty leftover appeared meanwhile: replace it
                _remove_leftover(path)
                os.replace(temp, path)
        except OSError:  # no hard links on this file system: a rename (last one wins)
            os.replace(temp, path)
    except sqlite3.Error as exc:
        raise CaseFileError(f"{path}: cannot create: {exc}") from exc
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot create: {exc.strerror or exc}") from exc
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{temp}{suffix}").unlink(missing_ok=True)


def _remove_stale_builds(path: Path) -> None:
    """Temporary builds of this case left by processes that were killed while creating it."""
    for leftover in path.parent.glob(f".{glob_escape(path.name)}.*.creating*"):
        pid = leftover.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters matched literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """An open case file. Use ``Store.open(path)``; close it (or use it as a context manager)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, key: bytes) -> None:
        self.path = path
        self.conn = conn
        self.fingerprint = Fingerprinter(key)
        # the audit chain's key: derived from the case key, so never in the case file either
        self.audit_key = hmac.digest(key, b"ir-console audit chain v1", "sha256")
        self._bulk = False  # wal_autocheckpoint raised for batched inserts
        self._cache_before_bulk = 0  # cache_size before the batches raised it
        self.bulk_cache_kib = BULK_CACHE_KIB  # the page cache of batched inserts
        self._after_commit: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: Path | str | None = None, *, create: bool = True) -> Store:
        """Open (and when ``create``, create) a case, running migrations; errors are CaseFileError.

        A new case is built whole under a private temporary name and linked into place, so a
        kill at any moment leaves either no case or a complete one; a case left empty by an
        older version killed while creating it is recognised and created again.
        """
        path = Path(path) if path is not None else default_case_path()
        if not _usable_case(path):
            if not create:
                raise CaseFileError(f"{path}: no such case file")
            _remove_leftover(path)
            _create_case(path)
        try:
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise CaseFileError(f"{path}: cannot open: {exc}") from exc
        # Text from a hostile or foreign writer may hold invalid UTF-8: decode it with U+FFFD
        # instead of failing the whole query (the sanitizer strips what is left on output).
        conn.text_factory = _decode_text
        try:
            cls._prepare(path, conn, True)
            key = load_or_create_key(path, create=create)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, key)

    @staticmethod
    def _prepare(path: Path, conn: sqlite3.Connection, exists: bool) -> None:
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if exists and app_id != schema.APPLICATION_ID:
                raise CaseFileError(f"{path}: not an ir-console case file")
        except sqlite3.DatabaseError as exc:
            raise CaseFileError(f"{path}: not an ir-console case file ({exc})") from exc
        if version > schema.SCHEMA_VERSION:
            raise CaseFileError(
                f"{path}: case schema version {version} is newer than this ir-console "
                f"supports ({schema.SCHEMA_VERSION}); upgrade ir-console"
            )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = OFF")  # integrity is kept by the writers, in order
        if version < schema.SCHEMA_VERSION:
            Store._migrate(conn, version)

    @staticmethod
    def _migrate(conn: sqlite3.Connection, version: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in schema.MIGRATIONS[current:]:
                step(conn)
            if current == 0:
                conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('created_at', ?)", (str(time.time()),)
                )
            conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("case migrated from schema %d to %d", version, schema.SCHEMA_VERSION)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error); what was
        registered with ``after_commit`` meanwhile runs once it is committed."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self._after_commit.clear()
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the current transaction commits (never if it rolls back)."""
        self._after_commit.append(callback)

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap poll for the console."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # ------------------------------------------------------------------ meta

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ------------------------------------------------------------------ inputs

    def register_input(self, path: Path, fmt: str, sha256: str | None = None) -> InputRegistration:
        """Register and claim an input by content hash (the rules: ``discovery.case.inputs``).

        Already complete: nothing to do. Left half-done by a killed ingest: its rows are removed
        and the same id is reused, so ingesting again ends with the counts of one clean run.
        Being read by another live process: ``InputBusy``.
        """
        from discovery.case import inputs
        from discovery.errors import InputBusy

        size = path.stat().st_size if path.exists() else 0
        print_ = (
            inputs.Fingerprint(sha256, size) if sha256 is not None else inputs.fingerprint(path)
        )
        while True:
            claim = inputs.claim(self, path, fmt, print_, hold=False)
            if not claim.missing:
                break
            print_ = inputs.fingerprint(path, set(print_.prefixes) | claim.missing)
        if claim.busy is not None:
            raise InputBusy(f"{path}: being ingested by {claim.busy.describe()}")
        return InputRegistration(claim.id, claim.already_ingested)

    def forget_input_rows(self, input_id: int) -> None:
        """Remove what a half-done ingest wrote (inside the caller's transaction)."""
        conn = self.conn
        conn.execute(
            "DELETE FROM exchange_credentials WHERE exchange_id IN "
            "(SELECT id FROM exchanges WHERE input_id = ?)",
            (input_id,),
        )
        conn.execute(
            "DELETE FROM issued_tokens WHERE exchange_id IN "
            "(SELECT id FROM exchanges WHERE input_id = ?)",
            (input_id,),
        )
        conn.execute("DELETE FROM exchanges WHERE input_id = ?", (input_id,))
        self.recount_credentials()

    def recount_credentials(self) -> None:
        """Requests and first/last seen of every credential, from its links (inside the
        caller's transaction); a credential no exchange carries any more is removed."""
        conn = self.conn
        conn.execute(
            "UPDATE credentials SET "
            "requests = (SELECT COUNT(*) FROM exchange_credentials ec "
            "            WHERE ec.credential_id = credentials.id), "
            "first_seen = (SELECT MIN(e.ts) FROM exchange_credentials ec JOIN exchanges e "
            "              ON e.id = ec.exchange_id WHERE ec.credential_id = credentials.id), "
            "last_seen = (SELECT MAX(e.ts) FROM exchange_credentials ec JOIN exchanges e "
            "             ON e.id = ec.exchange_id WHERE ec.credential_id = credentials.id)"
        )
        conn.execute("DELETE FROM credentials WHERE requests = 0")
        conn.execute(
            "DELETE FROM credential_aliases WHERE credential_id NOT IN (SELECT id FROM credentials)"
        )

    def register_capture(self, name: str, fmt: str) -> int:
        """Register a live capture as an input (a fresh one each time: it has no content hash
        to be recognised by), owned by this process; its counters follow with
        ``update_input_stats``."""
        from discovery.case import owner

        now = time.time()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO inputs(sha256, path, format, size, state, started_at, dropped, "
                "owner, heartbeat) VALUES (?, ?, ?, 0, 'ingesting', ?, 0, ?, ?)",
                (f"{fmt}:{secrets.token_hex(16)}", name, fmt, now, str(owner.me()), now),
            )
            return int(cur.lastrowid or 0)

    def update_input_stats(
        self, input_id: int, stats: dict[str, Any], dropped: int | None = None
    ) -> None:
        """The counters of an input still being read (a live capture, every second; also its
        owner's heartbeat)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE inputs SET stats = ?, dropped = ?, heartbeat = ? WHERE id = ?",
                (dumps(stats), dropped, time.time(), input_id),
            )

    def finish_input(
        self, input_id: int, stats: dict[str, Any], dropped: int | None = None
    ) -> None:
        """Mark an input read as a whole (``discovery.case.inputs.finish`` for a read that
        ended at a given byte); ``dropped``: packets the capture lost (None: not said)."""
        from discovery.case import inputs

        inputs.finish(self, input_id, stats, None, None, dropped)

    # ------------------------------------------------------------------ exchanges

    def add_exchanges(self, exchanges: Iterable[Exchange], input_id: int | None = None) -> int:
        """Insert a batch of exchanges with their credentials in one transaction; returns count."""
        with self.transaction():
            return self.insert_exchanges(exchanges, input_id)

    def insert_exchanges(self, exchanges: Iterable[Exchange], input_id: int | None) -> int:
        """Insert exchanges inside the caller's transaction (``case.writer`` batches them)."""
        return self.insert_prepared(
            ((exchange_fields(ex), ex.ts, ex.credentials) for ex in exchanges), input_id
        )

    def set_bulk_cache(self, kib: int) -> None:
        """The page cache of batched inserts from now on (``BULK_CACHE_KIB``; a load whose
        indexes are built after it takes ``DEFERRED_CACHE_KIB``): at once when this connection
        already inserts in batches, else from its first batch."""
        if kib != self.bulk_cache_kib:
            self.bulk_cache_kib = kib
            if self._bulk:
                self.conn.execute(f"PRAGMA cache_size = -{kib}")

    def end_bulk(self) -> None:
        """A batched load ended: the page cache it raised goes back to what it was, so the work
        that follows (the analysis reads every row, and SQLite sizes its sorters by the page
        cache) holds as little memory on a large case as on a small one. The next batch raises
        it again. (The checkpoint interval stays raised: it costs WAL on disk, not memory, and
        the analysis writes its tables in batches too.)"""
        if self._bulk:
            self._bulk = False
            self.conn.execute(f"PRAGMA cache_size = {self._cache_before_bulk}")

    def insert_prepared(self, exchanges: Iterable[PreparedExchange], input_id: int | None) -> int:
        """Insert exchanges already turned into their row fields (``exchange_fields``), with
        their time and credential sightings, as ``insert_exchanges`` does."""
        conn = self.conn
        self._start_bulk()
        batch = exchanges if isinstance(exchanges, list) else list(exchanges)
        count = len(batch)
        if not count:
            return 0
        # the rows go in as they are, with one executemany (no row tuple made again per row
        # for its ids: the input id is in the statement, and SQLite gives each row the id
        # after the largest, so the ids are known: the write lock is held)
        first_id = self._last_exchange_id()
        insert_rows(conn, [item[0] for item in batch], input_id)
        self._check_ids(first_id, count)
        self._link_credentials(batch, first_id)
        return count

    def insert_blocks(
        self, blocks: list[CopiedBlock], sources: list[str], input_id: int | None
    ) -> int:
        """Insert blocks of rows a child process already wrote, with their credential links,
        into a database of its own attached to this connection (``ATTACH`` under the name
        ``sources[block.source]``), as ``insert_prepared`` inserts rows: SQLite copies the rows
        and their links itself (``INSERT ... SELECT``: no Python per row), and the blocks'
        credentials (each block's first and last sighting and count of each, summed here),
        aliases and issued tokens are written once for all the blocks, as for one batch."""
        conn = self.conn
        self._start_bulk()
        count = 0
        first_id = last_id = self._last_exchange_id()
        creds: dict[str, _CredAgg] = {}
        aliases: set[tuple[str, str]] = set()
        issued: list[tuple[Any, ...]] = []
        for block in blocks:
            source, low, rows = sources[block.source], block.low, block.count
            conn.execute(_copy_exchanges(source, input_id), (low, low + rows - 1))
            offset = last_id + 1 - low  # a row's id here minus its id there
            if block.links:
                first_link = block.first_link
                conn.execute(
                    _copy_links(source), (offset, first_link, first_link + block.links - 1)
                )
            for row in block.issued:
                issued.append((row[0] + offset, *row[1:]))
            for sighting, first, last, uses in block.credentials:
                cid = credential_id(sighting.fingerprint)
                agg = creds.get(cid)
                if agg is None:
                    creds[cid] = _CredAgg(sighting, first, last, uses)
                else:
                    agg.merge(first, last, uses)
            aliases.update(block.aliases)
            last_id += rows
            count += rows
        self._check_ids(first_id, count)  # else the offsets were wrong: the batch is undone
        self._write_credentials(creds, [], issued, aliases)
        return count

    def _start_bulk(self) -> None:
        if not self._bulk:  # this connection writes exchanges in batches: see the constant
            conn = self.conn
            self._cache_before_bulk = int(conn.execute("PRAGMA cache_size").fetchone()[0])
            conn.execute(f"PRAGMA wal_autocheckpoint = {BULK_WAL_AUTOCHECKPOINT}")
            conn.execute(f"PRAGMA cache_size = -{self.bulk_cache_kib}")
            self._bulk = True

    def _last_exchange_id(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM exchanges").fetchone()[0])

    def _check_ids(self, first_id: int, count: int) -> None:
        last_id = self._last_exchange_id()
        if last_id != first_id + count:  # never: a row id is the largest plus one
            raise RuntimeError(f"exchange ids {first_id + 1}..{last_id} for {count} rows")

    def _link_credentials(self, batch: list[PreparedExchange], first_id: int) -> None:
        """The credential sightings of rows just inserted with ids from ``first_id + 1``:
        their links, the credentials and identities (first and last seen, requests), the
        tokens responses issued and the credentials' aliases."""
        found = CredentialWrites(batch, first_id)
        self._write_credentials(found.creds, found.links, found.issued, found.aliases)

    def _write_credentials(
        self,
        creds: dict[str, _CredAgg],
        links: list[tuple[int, str, str, str]],
        issued: list[tuple[Any, ...]],
        aliases: set[tuple[str, str]],
    ) -> None:
        conn = self.conn
        if creds:
            self._upsert_credentials(creds)
        if links:
            conn.executemany(INSERT_LINK, links)
        if issued:
            conn.executemany(
                "INSERT OR IGNORE INTO issued_tokens(exchange_id, credential_id, fingerprint, "
                "kind, name, redacted, claims) VALUES (?, ?, ?, ?, ?, ?, ?)",
                issued,
            )
        if aliases:
            conn.executemany(
                "INSERT OR IGNORE INTO credential_aliases(fingerprint, credential_id) VALUES (?, ?)",
                sorted(aliases),
            )

    def _upsert_credentials(self, creds: dict[str, _CredAgg]) -> None:
        conn = self.conn
        identities: dict[str, tuple[str, str, str, float, float]] = {}
        rows = []
        for cid, agg in creds.items():
            s = agg.sighting
            ident = s.identity or f"cred:{cid}"
            ident_source = s.identity_kind or "credential"
            prev = identities.get(ident)
            first = min(agg.first, prev[3]) if prev else agg.first
            last = max(agg.last, prev[4]) if prev else agg.last
            identities[ident] = (ident, _identity_name(ident, s), ident_source, first, last)
            rows.append(
                (
                    cid,
                    s.fingerprint,
                    s.kind,
                    s.redacted,
                    s.public_id,
                    ident,
                    dumps(dict(s.claims)),
                    s.issued_at,
                    s.expires_at,
                    agg.first,
                    agg.last,
                    agg.count,
                )
            )
        conn.executemany(
            "INSERT INTO identities(id, name, source, first_seen, last_seen) VALUES (?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET "
            "first_seen = MIN(COALESCE(first_seen, excluded.first_seen), excluded.first_seen), "
            "last_seen = MAX(COALESCE(last_seen, excluded.last_seen), excluded.last_seen)",
            list(identities.values()),
        )
        conn.executemany(
            "INSERT INTO credentials(id, fingerprint, kind, redacted, public_id, identity_id, "
            "claims, issued_at, expires_at, first_seen, last_seen, requests) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET "
            "first_seen = MIN(COALESCE(first_seen, excluded.first_seen), excluded.first_seen), "
            "last_seen = MAX(COALESCE(last_seen, excluded.last_seen), excluded.last_seen), "
            "requests = requests + excluded.requests",
            rows,
        )


class _CredAgg:
    """Per-batch aggregate of one credential's sightings."""

    __slots__ = ("count", "first", "last", "sighting")

    def __init__(
        self, sighting: CredentialSighting, first: float, last: float, count: int = 1
    ) -> None:
        self.sighting = sighting
        self.first = first
        self.last = last
        self.count = count

    def merge(self, first: float, last: float, count: int = 1) -> None:
        """Another use (``merge(ts, ts)``) or batch's aggregate of the same credential added."""
        self.first = min(self.first, first)
        self.last = max(self.last, last)
        self.count += count


class CredentialWrites:
    """What the credential sightings of a batch of rows write (their ids from ``first_id +
    1``): each credential's aggregate (in the order first seen), the links (once per row,
    credential, location and name), the tokens responses issued and the aliases."""

    __slots__ = ("aliases", "creds", "issued", "links")

    def __init__(self, batch: list[PreparedExchange], first_id: int) -> None:
        self.creds: dict[str, _CredAgg] = {}
        self.links: list[tuple[int, str, str, str]] = []
        self.aliases: set[tuple[str, str]] = set()
        self.issued: list[tuple[Any, ...]] = []
        creds, links, aliases, issued = self.creds, self.links, self.aliases, self.issued
        row_id = first_id
        for _fields, ts, sightings in batch:
            row_id += 1
            if not sightings:
                continue
            seen: set[tuple[str, str, str]] | None = set() if len(sightings) > 1 else None
            for sighting in sightings:
                cid = credential_id(sighting.fingerprint)
                if sighting.location == "response":  # issued by a token response: not a use
                    issued.append(_issued_row(row_id, cid, sighting))
                    continue
                if seen is not None:
                    link = (cid, sighting.location, sighting.name)
                    if link in seen:
                        continue
                    seen.add(link)
                links.append((row_id, cid, sighting.location, sighting.name))
                agg = creds.get(cid)
                if agg is None:
                    creds[cid] = _CredAgg(sighting, ts, ts)
                else:
                    agg.merge(ts, ts)
                for alias in sighting.aliases:
                    aliases.add((alias, cid))

    def credentials(self) -> list[tuple[CredentialSighting, float, float, int]]:
        """Each credential's first sighting, first and last time and uses, in the order first
        seen (``CopiedBlock.credentials``)."""
        return [(agg.sighting, agg.first, agg.last, agg.count) for agg in self.creds.values()]


class CopiedBlock:
    """A block of rows a child process wrote into its own database (``sources[source]`` of
    ``Store.insert_blocks``), ids ``low`` to ``low + count - 1`` there, with their ``links``
    credential links from rowid ``first_link`` there (``SHARD_LINKS``); and what the rows'
    credential sightings write here besides: each credential's first sighting with the first
    and last time and number of its uses in the block, the aliases, and the issued tokens
    (their exchange ids there)."""

    __slots__ = (
        "aliases",
        "count",
        "credentials",
        "first_link",
        "issued",
        "links",
        "low",
        "source",
    )

    def __init__(
        self,
        source: int,
        low: int,
        count: int,
        first_link: int,
        links: int,
        credentials: list[tuple[CredentialSighting, float, float, int]],
        aliases: list[tuple[str, str]],
        issued: list[tuple[Any, ...]],
    ) -> None:
        self.source = source
        self.low = low
        self.count = count
        self.first_link = first_link
        self.links = links
        self.credentials = credentials
        self.aliases = aliases
        self.issued = issued


def _issued_row(exchange_id: int, cid: str, sighting: CredentialSighting) -> tuple[Any, ...]:
    """The ``issued_tokens`` row of a token a response issued."""
    return (
        exchange_id,
        cid,
        sighting.fingerprint,
        sighting.kind,
        sighting.name,
        sighting.redacted,
        dumps(dict(sighting.claims)),
    )


def _identity_name(ident: str, sighting: CredentialSighting) -> str:
    if ident.startswith("cred:"):
        return f"{sighting.kind} {sighting.redacted}"
    return ident.split(":", 1)[1] if ":" in ident else ident


_EXCHANGE_COLUMNS = (
    "input_id, source, evidence, ts, client_ip, client_port, server_ip, server_port, tls, sni, "
    "alpn, ja4, http_version, method, path, raw_path, query_names, host, status, request_bytes, "
    "response_bytes, request_content_type, response_content_type, user_agent, partial, blocked, "
    "error, websocket, sensitive, anomalies, protocol, operation, outcome, facts, destination, "
    "host_mismatch, ja4s, ja4h"
)
_INSERT_EXCHANGE = (
    f"INSERT INTO exchanges({_EXCHANGE_COLUMNS}) VALUES "
    f"({', '.join('?' for _ in _EXCHANGE_COLUMNS.split(','))})"
)


def _input_value(input_id: int | None) -> str:
    """An input's id as SQL writes it in a statement (an int from this package, never input)."""
    return "NULL" if input_id is None else str(int(input_id))


def _with_input(statement: str, input_id: int | None) -> str:
    """``statement`` (an INSERT whose first value is the input's id) with the id written in."""
    return statement.replace(" VALUES (?, ", f" VALUES ({_input_value(input_id)}, ", 1)


@lru_cache(maxsize=64)  # a few inputs per ingest
def exchange_insert(input_id: int | None) -> str:
    """The INSERT of an input's exchange rows (``exchange_fields``), its id in the statement."""
    return _with_input(_INSERT_EXCHANGE, input_id)


@lru_cache(maxsize=64)
def _copy_exchanges(source: str, input_id: int | None) -> str:
    """The INSERT ... SELECT of the rows with ids from ? to ? of the exchanges of the attached
    database ``source`` (a name this package gave: never from input), as this input's."""
    columns = _EXCHANGE_COLUMNS.split(", ", 1)[1]
    return (
        f"INSERT INTO main.exchanges({_EXCHANGE_COLUMNS}) "
        f"SELECT {_input_value(input_id)}, {columns} "
        f'FROM "{source}".exchanges WHERE id BETWEEN ? AND ? ORDER BY id'
    )


INSERT_LINK = (
    "INSERT OR IGNORE INTO exchange_credentials(exchange_id, credential_id, location, name) "
    "VALUES (?, ?, ?, ?)"
)


# The credential links a child writes into its own database (``CopiedBlock``): a plain table
# (no key: ``CredentialWrites`` links a row to a credential once), each block's links one run
# of rowids, copied by that run.
SHARD_LINKS = (
    "CREATE TABLE exchange_credentials(exchange_id INTEGER NOT NULL, credential_id TEXT NOT NULL, "
    "location TEXT NOT NULL, name TEXT NOT NULL)"
)


@lru_cache(maxsize=64)
def _copy_links(source: str) -> str:
    """The INSERT ... SELECT of the credential links with rowids from ? to ? of the attached
    database ``source`` (a name this package gave; ``SHARD_LINKS``), each exchange id moved by
    the first ?."""
    return (
        "INSERT OR IGNORE INTO main.exchange_credentials(exchange_id, credential_id, location, "
        "name) SELECT exchange_id + ?, credential_id, location, name "
        f'FROM "{source}".exchange_credentials WHERE rowid BETWEEN ? AND ? ORDER BY rowid'
    )


# Columns most rows leave at one value (plain HTTP: no TLS, no anomaly, no gRPC or GraphQL),
# with that value as a row holds it and as SQL writes it. Binding a parameter costs (a text one
# is copied); a row holding all of these binds the others only, the values written in the
# statement: 100,000 Zeek rows inserted in 5.5-7.4 instead of 9.6-10.1 us each.
_USUAL = (
    ("tls", 0, "0"),
    ("sni", None, "NULL"),
    ("alpn", None, "NULL"),
    ("ja4", None, "NULL"),
    ("partial", 0, "0"),
    ("blocked", 0, "0"),
    ("websocket", 0, "0"),
    ("sensitive", "{}", "'{}'"),
    ("anomalies", "[]", "'[]'"),
    ("protocol", None, "NULL"),
    ("operation", None, "NULL"),
    ("outcome", None, "NULL"),
    ("facts", None, "NULL"),
    ("ja4s", None, "NULL"),
)
_FIELDS = _EXCHANGE_COLUMNS.split(", ")[1:]  # an ``exchange_fields`` tuple's columns
_USUAL_AT = tuple((_FIELDS.index(name), value) for name, value, _ in _USUAL)
_BOUND_AT = tuple(n for n, name in enumerate(_FIELDS) if name not in {u[0] for u in _USUAL})
_INSERT_USUAL = (
    f"INSERT INTO exchanges({_EXCHANGE_COLUMNS}) VALUES (?, "
    + ", ".join(next((u[2] for u in _USUAL if u[0] == name), "?") for name in _FIELDS)
    + ")"
)


@lru_cache(maxsize=64)
def _usual_insert(input_id: int | None) -> str:
    """``exchange_insert`` of rows that hold the usual values (``_USUAL``)."""
    return _with_input(_INSERT_USUAL, input_id)


def _bound(fields: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The fields a row binds when it holds the usual values (of their very type), else None."""
    for position, usual in _USUAL_AT:
        value = fields[position]
        if usual is None:
            if value is not None:
                return None
        elif type(value) is not type(usual) or value != usual:
            return None
    return tuple([fields[position] for position in _BOUND_AT])


def insert_rows(
    conn: sqlite3.Connection, rows: list[tuple[Any, ...]], input_id: int | None
) -> None:
    """Insert exchange rows (``exchange_fields``), in order, as ``input_id``'s; the runs of rows
    that hold the usual values (``_USUAL``) bind the other fields only."""
    run: list[tuple[Any, ...]] = []
    usual_run = False
    for fields in rows:
        bound = _bound(fields)
        usual = bound is not None
        if usual != usual_run and run:
            conn.executemany(
                _usual_insert(input_id) if usual_run else exchange_insert(input_id), run
            )
            run = []
        usual_run = usual
        run.append(fields if bound is None else bound)
    if run:
        conn.executemany(_usual_insert(input_id) if usual_run else exchange_insert(input_id), run)


_INSERT_EXCHANGE_WITH_ID = (
    f"INSERT INTO exchanges(id, {_EXCHANGE_COLUMNS}) VALUES "
    f"(?, {', '.join('?' for _ in _EXCHANGE_COLUMNS.split(','))})"
)


def names_json(names: tuple[str, ...]) -> str:
    """``json.dumps(list(names))``; plain names (printable ASCII, nothing to escape) are joined
    directly, without the json module's Python-level encoder (one call per stored request)."""
    if not names:
        return "[]"
    plain = "".join(names)
    if plain.isascii() and plain.isprintable() and '"' not in plain and "\\" not in plain:
        return '["' + '", "'.join(names) + '"]'
    return json.dumps(list(names))


def exchange_fields(ex: Exchange) -> tuple[Any, ...]:
    """The ``exchanges`` row of an exchange, without its id and input id (pure: a converter
    process can build it)."""
    return (
        ex.source,
        ex.evidence,
        ex.ts,
        ex.client_ip,
        ex.client_port,
        ex.server_ip,
        ex.server_port,
        int(ex.tls),
        ex.sni,
        ex.alpn,
        ex.ja4,
        ex.http_version,
        ex.method,
        ex.path,
        ex.raw_path,
        names_json(ex.query_names),
        ex.host,
        ex.status,
        ex.request_bytes,
        ex.response_bytes,
        ex.request_content_type,
        ex.response_content_type,
        ex.user_agent,
        int(ex.partial),
        int(ex.blocked),
        ex.error,
        int(ex.websocket),
        dumps(dict(ex.sensitive)) if ex.sensitive else "{}",
        names_json(ex.anomalies),
        ex.protocol,
        ex.operation,
        ex.outcome,
        ex.facts,
        ex.destination,
        ex.host_mismatch,
        ex.ja4s,
        ex.ja4h,
    )
