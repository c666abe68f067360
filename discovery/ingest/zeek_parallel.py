"""Read and convert a Zeek log in child processes that share its lines, so reading, conversion
and writing use every core.

Each child reads the whole log (decompressing it when it is gzip: reading lines is the cheap
part) and converts the records of its blocks of lines (``zeek.read_share``: block ``b`` belongs
to child ``b`` modulo the number of children) into stored rows itself (the secret boundary:
credential detection, fingerprinting under the case key). It writes each block's rows into a
scratch database of its own with their credential links (no index; WAL, so this process
reads while it writes) and sends one message per block: its number, its rows' ids there, and
what their credential sightings write besides the links (each credential's first and last use
and uses in the block, aliases, issued tokens; ``packing``). This process attaches the
children's databases read-only, merges the blocks back into the log's order and copies rows
and links into the case with SQLite's own ``INSERT ... SELECT`` (``Store.insert_blocks``),
summing the blocks' credentials once per write batch: the rows, their ids and order, the
credential tables and the counters are those of the in-process reader, and this process
spends no Python on a row (the single writer was the limit: unpickling, unpacking and
inserting each row, then linking its credentials). The pipes, the pumps that drain them while this
process writes and the bounded queues are those of the capture path
(``discovery.ingest.parallel``).
"""

from __future__ import annotations

import heapq
import logging
import math
import multiprocessing
import operator
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from discovery.case.store import SHARD_LINKS, CopiedBlock, PreparedExchange, Store
from discovery.collector import fewer_collections
from discovery.errors import InputError
from discovery.ingest import parallel
from discovery.ingest.packing import Packed, Packer, Unpacker
from discovery.ingest.parallel import (
    add_child_stats,
    child_batches,
    child_collections,
    child_sender,
    start_children,
)
from discovery.stats import IngestStats, Progress

log = logging.getLogger(__name__)

SHARD_CACHE_KIB = 4096  # page cache of each child's database attached here (read in order)
_LINE = re.compile(r"\(line (\d+)\)")
# a block's number, its rows' first id and count and its links' first rowid and count, its
# credentials (packed), aliases and issued tokens (``CopiedBlock``)
_Block = tuple[
    int, tuple[tuple[int, int, int, int], Packed, list[tuple[str, str]], list[tuple[Any, ...]]]
]
# the last row's id and the last link's rowid a child wrote
_LAST_IDS = (
    "SELECT (SELECT MAX(id) FROM exchanges), "
    "(SELECT COALESCE(MAX(rowid), 0) FROM exchange_credentials)"
)


# the children pay off below this load average per core (measured on the 2-core box, 100,000
# TSV records: at a load of 2.5, 0.64-0.77 times one process's wall time in three runs of four,
# 1.19 in the fourth; 1,000,000 records at a load of 8: 1.27 times)
MAX_LOAD_PER_CORE = 1.5


def worth_it(path: Path, remaining: int) -> bool:
    """True when children are likely to pay off: ``remaining`` bytes of the log to read are
    ``parallel.MIN_SIZE`` or more (a round of ``--follow`` reads a few lines in-process), and
    the machine is not busy (load average below ``MAX_LOAD_PER_CORE`` per core). The children
    spend more CPU in all than one process (every child reads every line; rows are pickled
    across): on a busy machine they only add to its load (``bench_zeek.py --in-process``: 1.27
    times the wall time of one process on the shared 2-core box at a load of 8)."""
    if remaining < parallel.MIN_SIZE or not parallel.worth_it(path):
        return False
    cores = os.cpu_count() or 1
    return cores > 1 and _load() < MAX_LOAD_PER_CORE * cores


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # no load average here: assume a busy machine
        return float("inf")


def _child(
    conn: Connection,
    path: Path,
    share: tuple[int, int],
    fingerprint: Callable[[str], str],
    unused: tuple[Connection, ...],
    start: int,
    end: int | None,
    shard: Path,
) -> None:
    """One share of the log's blocks read and converted, each block's rows and their
    credential links written into this child's own database (``shard``: the case's
    exchanges and exchange_credentials tables, no index) and committed, then one message per
    block: its number, its rows' first id there and count, and what their credential
    sightings write in the case besides the links (``CopiedBlock``; sightings packed)."""
    from discovery.case.store import INSERT_LINK, CredentialWrites, insert_rows
    from discovery.ingest.zeek_rows import rows
    from discovery.sources.zeek import BLOCK_LINES

    child_collections()  # as the capture's children: a tenth of their CPU was the collector
    send = child_sender(conn, unused)
    stats = IngestStats()
    pack = Packer()
    progress = (lambda done: send(("progress", done))) if share[0] == 0 else None
    db = sqlite3.connect(shard, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")  # a scratch file: a crash reads the log again
    written = linked = 0  # rows and links written

    def write(block: int, batch: list[PreparedExchange]) -> None:
        nonlocal written, linked
        found = CredentialWrites(batch, written)  # the rows' ids there: from written + 1
        db.execute("BEGIN IMMEDIATE")
        insert_rows(db, [row[0] for row in batch], None)
        if found.links:
            db.executemany(INSERT_LINK, found.links)
        db.execute("COMMIT")
        first, first_link = written + 1, linked + 1
        written += len(batch)
        linked += len(found.links)
        if db.execute(_LAST_IDS).fetchone() != (written, linked):
            raise RuntimeError(f"{shard}: rows {first}..{written} not where they were written")
        credentials = pack.credentials(found.credentials())
        sent = (
            (first, len(batch), first_link, len(found.links)),
            credentials,
            sorted(found.aliases),
            found.issued,
        )
        send(("rows", (block, sent)))

    batch: list[PreparedExchange] = []
    current = -1
    try:
        for number, row in rows(
            path, stats, fingerprint, progress, start=start, end=end, share=share
        ):
            block = (number - 1) // BLOCK_LINES
            if block != current:
                if batch:
                    write(current, batch)
                    batch = []
                current = block
            batch.append(row)
        if batch:
            write(current, batch)
        send(("done", stats))
    except InputError as exc:
        send(("error", (exc.path, exc.reason, exc.where)))
    finally:
        db.close()
        conn.close()


class SharedRead:
    """A Zeek log read and converted by children sharing its lines, each writing its rows
    and their credential links into a database of its own (in a private folder beside the
    case) that this process attaches read-only to the case's connection: ``blocks`` gives
    the blocks of rows in the log's order (``CopiedBlock``: which database, the rows' ids
    there, what their credentials write besides the links), for
    ``ExchangeWriter.add_copied(blocks, sources)``, which copies rows and links with SQLite's
    own ``INSERT ... SELECT`` (no Python per row, no pickling of rows). ``close`` (also a
    context manager's exit) ends the children, detaches the databases and removes them."""

    def __init__(
        self,
        store: Store,
        path: Path,
        stats: IngestStats,
        progress: Progress | None = None,
        *,
        start: int = 0,
        end: int | None = None,
    ) -> None:
        self.store = store
        self.path = path
        self.stats = stats
        self.progress = progress
        self.start = start
        self.end = end
        self.sources: list[str] = [f"zeek_shard_{n}" for n in range(parallel.shard_count())]
        self._attached: list[str] = []
        self._folder: Path | None = None
        self._blocks: Generator[CopiedBlock, None, None] | None = None

    def blocks(self) -> Iterator[CopiedBlock]:
        if self._blocks is None:
            self._blocks = self._read()
        return self._blocks

    def _read(self) -> Generator[CopiedBlock, None, None]:
        self._folder = Path(
            tempfile.mkdtemp(prefix=".ir-console-zeek-", dir=self.store.path.parent)
        )
        exchanges = self.store.conn.execute(
            "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'exchanges'"
        ).fetchone()[0]
        shards = [self._folder / f"{name}.db" for name in self.sources]
        for shard in shards:  # made here, closed before the fork: a child opens its own
            db = sqlite3.connect(shard, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode = WAL")  # read here while the child writes
                db.execute(exchanges)
                db.execute(SHARD_LINKS)
            finally:
                db.close()
        fingerprint = self.store.fingerprint
        children = start_children(
            _child,
            lambda index, count, sender, others: (
                sender,
                self.path,
                (index, count),
                fingerprint,
                others,
                self.start,
                self.end,
                shards[index],
            ),
        )
        if len(children) != len(shards):
            raise RuntimeError(f"{len(children)} children for {len(shards)} databases")
        for name, shard in zip(self.sources, shards, strict=True):
            uri = shard.resolve().as_uri() + "?mode=ro"
            self.store.conn.execute(f'ATTACH DATABASE ? AS "{name}"', (uri,))
            self._attached.append(name)
            self.store.conn.execute(f'PRAGMA "{name}".cache_size = -{SHARD_CACHE_KIB}')
        counted = [IngestStats() for _ in children]
        streams = [
            _blocks(index, receiver, proc, self.path, child_stats, self.progress)
            for index, ((receiver, proc), child_stats) in enumerate(
                zip(children, counted, strict=True)
            )
        ]
        try:
            with fewer_collections():  # while the blocks are merged and written
                for _number, block in heapq.merge(*streams, key=operator.itemgetter(0)):
                    yield block
        finally:
            for stream in streams:  # ends and joins every child, whatever happened
                stream.close()
        _gather(self.stats, counted)

    def close(self) -> None:
        if self._blocks is not None:
            self._blocks.close()
        while self._attached:
            name = self._attached.pop()
            try:
                self.store.conn.execute(f'DETACH DATABASE "{name}"')
            except sqlite3.Error as exc:  # closed with the connection at the latest
                log.warning("could not detach %s: %s", name, exc)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> SharedRead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _gather(stats: IngestStats, children: list[IngestStats]) -> None:
    """The children's counters added into ``stats``, and their warnings (each child's first
    few, in its order) put back in the log's order, so ``stats`` keeps the first warnings one
    reader would have kept."""
    warnings = []
    for child in children:
        warnings.extend(child.warnings)
        child.warnings = []
        add_child_stats(stats, child)
    for warning in sorted(warnings, key=_line_of):
        stats.warn(warning)


def _line_of(warning: str) -> float:
    """The line a reader's warning names (``PATH (line N): ...``); one about the whole file
    (a gzip stream cut short) comes after every line."""
    found = _LINE.search(warning)
    return float(found.group(1)) if found else math.inf


def _blocks(
    source: int,
    receiver: Connection,
    proc: multiprocessing.process.BaseProcess,
    path: Path,
    stats: IngestStats,
    progress: Progress | None,
) -> Generator[tuple[int, CopiedBlock], None, None]:
    """Child ``source``'s blocks with their numbers, in its order."""
    unpack = Unpacker()
    message: _Block
    for message in child_batches(receiver, proc, path, stats, progress):
        number, ((low, count, first_link, links), packed, aliases, issued) = message
        credentials = unpack.credentials(*packed)
        yield (
            number,
            CopiedBlock(source, low, count, first_link, links, credentials, aliases, issued),
        )
