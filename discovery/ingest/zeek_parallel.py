"""Read and convert a Zeek log in child processes that share its lines, so reading, conversion
and writing use every core.

Each child reads the whole log (decompressing it when it is gzip: reading lines is the cheap
part) and converts the records of its blocks of lines (``zeek.read_share``: block ``b`` belongs
to child ``b`` modulo the number of children) into stored rows itself (the secret boundary:
credential detection, fingerprinting under the case key), and sends them one block per message.
This process merges the blocks back into the log's order and writes them: the rows, their order
and the counters are those of the in-process reader. The pipes, the pumps that drain them while
this process writes, the bounded queues and the packed rows (``packing``) are those of the
capture path (``discovery.ingest.parallel``).
"""

from __future__ import annotations

import heapq
import math
import multiprocessing
import operator
import os
import re
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from discovery.case.store import PreparedExchange
from discovery.errors import InputError
from discovery.ingest import parallel
from discovery.ingest.packing import Packed, Packer, Unpacker
from discovery.ingest.parallel import (
    add_child_stats,
    child_batches,
    child_sender,
    start_children,
)
from discovery.stats import IngestStats, Progress

_LINE = re.compile(r"\(line (\d+)\)")
_Block = tuple[int, Packed]  # a block's number and its rows, packed


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
) -> None:
    """One share of the log's blocks read and converted; one message per block with rows."""
    from discovery.ingest.zeek_rows import rows
    from discovery.sources.zeek import BLOCK_LINES

    send = child_sender(conn, unused)
    stats = IngestStats()
    pack = Packer()
    progress = (lambda done: send(("progress", done))) if share[0] == 0 else None
    batch: list[PreparedExchange] = []
    current = -1
    try:
        for number, row in rows(
            path, stats, fingerprint, progress, start=start, end=end, share=share
        ):
            block = (number - 1) // BLOCK_LINES
            if block != current:
                if batch:
                    send(("rows", (current, pack(batch))))
                    batch = []
                current = block
            batch.append(row)
        if batch:
            send(("rows", (current, pack(batch))))
        send(("done", stats))
    except InputError as exc:
        send(("error", (exc.path, exc.reason, exc.where)))
    finally:
        conn.close()


def convert_in_children(
    path: Path,
    stats: IngestStats,
    fingerprint: Callable[[str], str],
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> Iterator[PreparedExchange]:
    """The exchanges of a Zeek log ready to insert (``Store.insert_prepared``), read and
    converted by children sharing its lines, in the log's order, with the readers' counters
    merged into ``stats``; ``start`` and ``end`` as for ``zeek.read`` (the log may grow
    meanwhile: every child reads the same bytes)."""
    children = start_children(
        _child,
        lambda index, count, sender, others: (
            sender,
            path,
            (index, count),
            fingerprint,
            others,
            start,
            end,
        ),
    )
    counted = [IngestStats() for _ in children]
    streams = [
        _blocks(receiver, proc, path, child_stats, progress)
        for (receiver, proc), child_stats in zip(children, counted, strict=True)
    ]
    try:
        for _block, rows in heapq.merge(*streams, key=operator.itemgetter(0)):
            yield from rows
    finally:
        for stream in streams:  # ends and joins every child, whatever happened
            stream.close()
    _gather(stats, counted)


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
    receiver: Connection,
    proc: multiprocessing.process.BaseProcess,
    path: Path,
    stats: IngestStats,
    progress: Progress | None,
) -> Generator[tuple[int, list[PreparedExchange]], None, None]:
    """One child's blocks with their numbers, in its order, rebuilt into rows to insert."""
    rebuild = Unpacker()
    block: _Block
    for block in child_batches(receiver, proc, path, stats, progress):
        number, (reset, new, rows) = block
        yield number, rebuild(reset, new, rows)
