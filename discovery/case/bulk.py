"""A bulk load into a case with no exchanges yet builds the exchanges' indexes after the load.

Inserting rows into an index whose keys arrive in no order (host, path, time of another
client) reads and rewrites its pages again and again; building the index once over the loaded
table sorts the keys instead. ``bench_zeek.py --floor`` measures both on the same rows.

Only a case with no exchanges defers (no reader can be waiting on an index of an empty table),
and only the indexes over every row (the partial ones cost little: they hold few rows). The
indexes' own SQL, read from the case, is kept in ``meta`` while they are away, so a load killed
midway leaves the way back in the case: the next analysis (``recompute``, which the pending
mark makes the next ingest run) builds them again before it reads anything. Concurrent loads
are safe: the drop and the check for an empty table happen in the load's first write
transaction, and rebuilding is idempotent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from discovery.case.store import BULK_CACHE_KIB, DEFERRED_CACHE_KIB, Store

log = logging.getLogger(__name__)

DEFERRED_KEY = "deferred_indexes"  # meta: JSON list of the dropped indexes' CREATE statements
TABLES = ("exchanges", "exchange_credentials")
# an input at least this large (bytes read) is loaded with its indexes built after, when the
# case has no exchanges yet (below it, dropping and building costs more than it saves)
BULK_FROM = 8 << 20
INDEX_STEP = "building the indexes of the loaded exchanges"
PROGRESS_STEPS = 200_000  # SQLite steps between progress calls while the indexes are built


def defer_indexes(store: Store) -> bool:
    """Inside the load's first write transaction: when the case has no exchanges, drop the
    full indexes of ``TABLES`` (their SQL kept in meta) and return True."""
    conn = store.conn
    if conn.execute("SELECT 1 FROM exchanges LIMIT 1").fetchone() is not None:
        return False
    marks = ",".join("?" for _ in TABLES)
    found = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks}) ORDER BY name",
        TABLES,
    ).fetchall()
    full = [(name, sql) for name, sql in found if " WHERE " not in sql.upper()]
    if not full:
        return False
    kept = json.loads(store.get_meta(DEFERRED_KEY) or "[]")
    store.set_meta(DEFERRED_KEY, json.dumps(sorted({*kept, *(sql for _, sql in full)})))
    for name, _ in full:
        conn.execute(f'DROP INDEX IF EXISTS "{name}"')
    # rows appended: a small page cache does (memory stays flat however large the load)
    store.set_bulk_cache(DEFERRED_CACHE_KIB)
    log.debug("indexes deferred for a bulk load: %s", ", ".join(n for n, _ in full))
    return True


def restore_indexes(store: Store, progress: Callable[[str], None] | None = None) -> bool:
    """Build the indexes a bulk load deferred (in one transaction); True when there were any.

    ``progress`` is called with ``INDEX_STEP`` when the build starts and again every
    ``PROGRESS_STEPS`` SQLite steps while it runs (seconds for millions of rows); None leaves
    the connection's progress handler alone (the analysis has its own)."""
    if store.get_meta(DEFERRED_KEY) is None:
        return False
    if progress is not None:
        report = progress

        def tick() -> int:
            report(INDEX_STEP)
            return 0  # go on

        report(INDEX_STEP)
        store.conn.set_progress_handler(tick, PROGRESS_STEPS)
    try:
        with store.transaction() as conn:
            kept = store.get_meta(DEFERRED_KEY)  # read again under the write lock
            if kept is None:
                return False
            for sql in json.loads(kept):
                conn.execute(_if_not_exists(sql))
            conn.execute("DELETE FROM meta WHERE key = ?", (DEFERRED_KEY,))
    finally:
        if progress is not None:
            store.conn.set_progress_handler(None, 0)
    # the load is over: its cache given back (what follows is the analysis, not inserts);
    # later batches insert into indexes again, under this cache
    store.end_bulk()
    store.set_bulk_cache(BULK_CACHE_KIB)
    return True


def _if_not_exists(sql: str) -> str:
    """``CREATE [UNIQUE] INDEX name ...`` as ``CREATE [UNIQUE] INDEX IF NOT EXISTS name ...``."""
    head, sep, rest = sql.partition("INDEX ")
    if not sep or rest.upper().startswith("IF NOT EXISTS"):
        return sql
    return f"{head}INDEX IF NOT EXISTS {rest}"
