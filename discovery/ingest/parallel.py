"""Read and convert a capture in child processes that share its flows, so reading, conversion
and writing use every core.

Each child reads the whole file (reading frames is the cheap part) but follows only the TCP
connections of its share (``ConnectionTracker(share=...)``) and turns their exchanges into stored
rows itself (credential detection, fingerprinting under the case key, the body scan): raw header
values and bodies never leave it, and never reach the process that holds the case file. This
process merges the children's rows by their keys back into the order one reader gives, and
writes them.

Batches travel through one pipe per child; in this process a small thread per pipe keeps
draining it into a bounded queue, so a child goes on while this process is inside a SQLite write
(without it a child stalls on a full pipe for every batch written); the queues bound memory (a
full queue blocks its child). A child never touches the case file (forked, it exits with
``os._exit``, so the inherited SQLite handle is never closed there).

The exchanges, their order and the counters are those of the in-process reader, but for
flow-cap evictions (each child caps its own share of the concurrent flows).
"""

from __future__ import annotations

import gc
import heapq
import logging
import multiprocessing
import operator
import os
import pickle
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from discovery.case.store import PreparedExchange
from discovery.collector import YOUNG_GC, fewer_collections
from discovery.errors import InputError
from discovery.forking import helpers_can_run
from discovery.ingest.packing import Packed, Packer, Unpacker
from discovery.models import ObservedExchange
from discovery.stats import IngestStats, Progress
from discovery.wire.keylog import KeyLog
from discovery.wire.reassembly import Limits

log = logging.getLogger(__name__)

BATCH = 256
MIN_SIZE = 4 << 20  # smaller inputs are read in-process (a fork costs more than it saves)
MAX_SHARDS = 4  # each child reads every frame: beyond a few, that reading outweighs the split
PIPE_SIZE = 1 << 20
QUEUE_DEPTH = 32  # pickled batches waiting per child (~60 KiB each on API traffic)

_Key = tuple[int, int]


def worth_it(path: Path) -> bool:
    """True when child processes are likely to pay off for this input."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size >= MIN_SIZE and helpers_can_run()


def shard_count() -> int:
    """How many children share a capture's flows: one per core, 2 to ``MAX_SHARDS``."""
    return max(2, min(MAX_SHARDS, os.cpu_count() or 1))


def child_sender(
    conn: Connection, unused: tuple[Connection, ...]
) -> Callable[[tuple[str, Any]], None]:
    """A child's sending end: the other children's pipe ends it inherited by the fork closed
    (EOF must mean it), then each message pickled onto ``conn``."""
    for other in unused:
        other.close()
    dumps = pickle.dumps

    def send(message: tuple[str, Any]) -> None:
        conn.send_bytes(dumps(message, pickle.HIGHEST_PROTOCOL))

    return send


def start_children(
    target: Callable[..., None],
    args_of: Callable[[int, int, Connection, tuple[Connection, ...]], tuple[Any, ...]],
) -> list[tuple[Connection, multiprocessing.process.BaseProcess]]:
    """``shard_count()`` forked children, each ``target(*args_of(index, count, its sending end,
    the other pipe ends))``, and for each its receiving end (widened) and process; the sending
    ends are closed here, so a child's EOF means it is done."""
    ctx = multiprocessing.get_context("fork")
    count = shard_count()
    pipes = [ctx.Pipe(duplex=False) for _ in range(count)]
    for receiver, _sender in pipes:
        widen_pipe(receiver)
    procs = []
    for index, (_receiver, sender) in enumerate(pipes):
        others = tuple(end for pair in pipes for end in pair if end is not sender)
        proc = ctx.Process(target=target, args=args_of(index, count, sender, others), daemon=True)
        proc.start()
        procs.append(proc)
    for _receiver, sender in pipes:
        sender.close()
    return [(receiver, proc) for (receiver, _sender), proc in zip(pipes, procs, strict=True)]


def _child(
    conn: Connection,
    path: Path,
    share: tuple[int, int],
    fingerprint: Callable[[str], str],
    unused: tuple[Connection, ...] = (),
    limits: Limits | None = None,
    end: int | None = None,
    secrets: KeyLog | None = None,
) -> None:
    """One share of the flows read and converted; batches of rows (with their keys) sent."""
    from discovery.sources.pcap import read_share

    child_collections()
    send = child_sender(conn, unused)
    stats = IngestStats()
    prepare = Preparer(fingerprint)
    progress = (lambda done: send(("progress", done))) if share[0] == 0 else None
    batch: list[ObservedExchange] = []
    keys: list[_Key] = []
    try:
        for key, observed in read_share(path, stats, share, progress, limits, end, secrets=secrets):
            batch.append(observed)
            keys.append(key)
            if len(batch) >= BATCH:
                send(("rows", prepare.keyed(batch, keys)))
                batch, keys = [], []
        send(("rows", prepare.keyed(batch, keys)))
        send(("done", stats))
    except InputError as exc:
        send(("error", (exc.path, exc.reason, exc.where)))
    finally:
        conn.close()


class Preparer:
    """Observed exchanges -> their rows, packed (``packing``): each row is the exchange's
    ``exchange_fields``, its time and its credential sightings, each distinct sighting sent
    once."""

    def __init__(self, fingerprint: Callable[[str], str]) -> None:
        from discovery.case.store import exchange_fields
        from discovery.redact.convert import to_exchanges

        self.fingerprint = fingerprint
        self.to_exchanges = to_exchanges
        self.fields = exchange_fields
        self.pack = Packer()

    def __call__(self, batch: list[ObservedExchange]) -> Packed:
        return self.pack(self._rows(batch)[0])

    def keyed(
        self, batch: list[ObservedExchange], keys: list[_Key]
    ) -> tuple[bool, list[tuple[int, tuple[object, ...]]], list[tuple[object, ...]], list[_Key]]:
        """As a call, with each row's key: an observed exchange that became several rows (a
        GraphQL batch, one row per operation) gives its key to each, in order."""
        rows, counts = self._rows(batch)
        if len(rows) != len(keys):
            keys = [key for key, n in zip(keys, counts, strict=True) for _ in range(n)]
        reset, new, packed = self.pack(rows)
        return reset, new, packed, keys

    def _rows(self, batch: list[ObservedExchange]) -> tuple[list[PreparedExchange], list[int]]:
        """The batch's rows, and how many rows each observed exchange gave."""
        rows: list[PreparedExchange] = []
        convert, fields, fingerprint = self.to_exchanges, self.fields, self.fingerprint
        counts: list[int] = []  # rows per observed exchange
        for observed in batch:
            converted = convert(observed, fingerprint)
            counts.append(len(converted))
            for ex in converted:
                rows.append((fields(ex), ex.ts, ex.credentials))
        return rows, counts


def convert_in_children(
    fmt: str,
    path: Path,
    stats: IngestStats,
    fingerprint: Callable[[str], str],
    progress: Progress | None = None,
    limits: Limits | None = None,
    end: int | None = None,
    secrets: KeyLog | None = None,
) -> Generator[PreparedExchange, None, None]:
    """The exchanges of a pcap or pcapng file ready to insert (``Store.insert_prepared``), read
    and converted by children sharing its flows, in the in-process reader's order, with the
    readers' counters merged into ``stats``; ``limits`` as for the in-process reader; every
    child reads up to byte ``end`` (the file may grow meanwhile: they must see the same)."""
    if fmt not in ("pcap", "pcapng"):
        raise ValueError(f"no shared reading for {fmt} inputs")
    children = start_children(
        _child,
        lambda index, count, sender, others: (
            sender,
            path,
            (index, count),
            fingerprint,
            others,
            limits,
            end,
            secrets,
        ),
    )
    streams = [_rows(receiver, proc, path, stats, progress) for receiver, proc in children]
    try:
        with fewer_collections():
            for _key, prepared in heapq.merge(*streams, key=operator.itemgetter(0)):
                yield prepared
    finally:
        for stream in streams:  # ends and joins every child, whatever happened
            stream.close()


def child_collections() -> None:
    """In a reading child, once: what the fork inherited is frozen (never garbage: no
    collection walks it again) and the youngest generation is collected every ``YOUNG_GC``
    allocations (the older generations' thresholds unchanged)."""
    gc.freeze()
    gc.set_threshold(YOUNG_GC, *gc.get_threshold()[1:])


def _rows(
    receiver: Connection,
    proc: multiprocessing.process.BaseProcess,
    path: Path,
    stats: IngestStats,
    progress: Progress | None,
) -> Generator[tuple[_Key, PreparedExchange], None, None]:
    """One child's rows with their keys, in its order (its sightings table rebuilt here)."""
    rebuild = Unpacker()
    for reset, new, rows, keys in child_batches(receiver, proc, path, stats, progress):
        yield from zip(keys, rebuild(reset, new, rows), strict=True)


def child_batches(
    receiver: Connection,
    proc: multiprocessing.process.BaseProcess,
    path: Path,
    stats: IngestStats,
    progress: Progress | None,
) -> Iterator[Any]:  # the payloads of the "rows" messages a child sent (unpickled)
    """The batches one reading child sends on ``receiver`` (its progress passed on, its counters
    added into ``stats``, its error raised); the child is ended and joined whatever happens."""
    inbox: queue.Queue[bytes | None] = queue.Queue(QUEUE_DEPTH)
    pump = threading.Thread(target=_pump, args=(receiver, inbox), name="pcap-pipe", daemon=True)
    pump.start()
    loads = pickle.loads
    try:
        while True:
            raw = inbox.get()
            if raw is None:
                proc.join()
                raise RuntimeError(
                    f"{path}: a reader process ended unexpectedly (exit code {proc.exitcode})"
                )
            kind, payload = loads(raw)
            if kind == "rows":
                yield payload
            elif kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "done":
                add_child_stats(stats, payload)
                break
            elif kind == "error":
                raise InputError(*payload)
    finally:
        if proc.is_alive():
            proc.terminate()  # its end of the pipe closes: the pump sees EOF
        proc.join()
        while pump.is_alive():  # unblock a pump waiting for room in the queue
            try:
                inbox.get_nowait()
            except queue.Empty:
                pump.join(0.01)
        receiver.close()


def widen_pipe(conn: Connection) -> None:
    """Give the pipe room for whole batches (Linux: 1 MiB instead of 64 KiB), so a child writes
    a batch without waiting and the pump takes it in one read, with one GIL acquisition instead
    of one per 64 KiB (each waits up to the switch interval while this process writes)."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except (ImportError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        log.debug("pipe size left at the system default")


def _pump(receiver: Connection, inbox: queue.Queue[bytes | None]) -> None:
    """Move pickled messages from the pipe to the queue (``recv_bytes`` releases the GIL)."""
    while True:
        try:
            raw = receiver.recv_bytes()
        except (EOFError, OSError):
            inbox.put(None)
            return
        inbox.put(raw)


def add_child_stats(stats: IngestStats, child: IngestStats) -> None:
    """A reading child's counters and warnings added into the parent's ``stats`` (each child
    read the same bytes, so ``consumed`` is the least any child reached)."""
    if child.consumed is not None:  # every child read the same bytes
        stats.consumed = (
            child.consumed if stats.consumed is None else min(stats.consumed, child.consumed)
        )
    stats.packets += child.packets
    stats.flows += child.flows
    stats.skipped.update(child.skipped)
    stats.counts.update(child.counts)
    for warning in child.warnings:
        stats.warn(warning)
