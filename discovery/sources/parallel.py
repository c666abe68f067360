"""Run a reader in a child process, so packet parsing overlaps with conversion and writing.

Capture ingest has two halves of similar cost: frames -> exchanges (the reader) and exchanges ->
case rows (credential detection, SQLite). On a machine with a second core the child parses while
the parent converts and writes. Batches travel through a pipe; in the parent a small thread keeps
draining it into a bounded queue, so the child goes on parsing while the parent is inside a
SQLite write (without it the child stalls on a full 64 KiB pipe for every batch the parent
writes); the queue bounds memory (a full queue blocks the child). The child never touches the
case file (forked, it exits with ``os._exit``, so the inherited SQLite handle is never closed
there).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import operator
import os
import pickle
import queue
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from discovery.errors import InputError
from discovery.models import ObservedExchange
from discovery.sources import IngestStats, Progress, reader_for

log = logging.getLogger(__name__)

BATCH = 256
# exchanges travel as plain tuples: a third cheaper to pickle and unpickle than the dataclass
_FIELDS = tuple(f.name for f in dataclasses.fields(ObservedExchange))
_AS_TUPLE = operator.attrgetter(*_FIELDS)  # every field, in order, in one C call
MIN_SIZE = 4 << 20  # smaller inputs are read in-process (a fork costs more than it saves)
PIPE_SIZE = 1 << 20
QUEUE_DEPTH = 32  # pickled batches waiting in the parent (~140 KiB each on API traffic)


def worth_it(path: Path) -> bool:
    """True when a child process is likely to pay off for this input."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return (
        size >= MIN_SIZE
        and (os.cpu_count() or 1) > 1
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1  # forking a threaded process (the console) is unsafe
    )


def _child(conn: Connection, fmt: str, path: Path) -> None:
    stats = IngestStats()
    batch: list[tuple[object, ...]] = []
    try:
        for obs in reader_for(fmt)(path, stats, lambda done: conn.send(("progress", done))):
            batch.append(_AS_TUPLE(obs))
            if len(batch) >= BATCH:
                conn.send(("batch", batch))
                batch = []
        conn.send(("batch", batch))
        conn.send(("done", stats))
    except InputError as exc:
        conn.send(("error", (exc.path, exc.reason, exc.where)))
    finally:
        conn.close()


def read_in_child(
    fmt: str, path: Path, stats: IngestStats, progress: Progress | None = None
) -> Iterator[ObservedExchange]:
    """The reader of ``fmt`` over ``path``, run in a forked child; same contract as a reader."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    _widen(receiver)
    proc = ctx.Process(target=_child, args=(sender, fmt, path), daemon=True)
    proc.start()
    sender.close()
    inbox: queue.Queue[bytes | None] = queue.Queue(QUEUE_DEPTH)
    pump = threading.Thread(target=_pump, args=(receiver, inbox), name="pcap-reader-pipe",
                            daemon=True)
    pump.start()
    loads = pickle.loads
    try:
        while True:
            raw = inbox.get()
            if raw is None:
                proc.join()
                raise RuntimeError(
                    f"{path}: the reader process ended unexpectedly (exit code {proc.exitcode})"
                )
            kind, payload = loads(raw)
            if kind == "batch":
                for fields in payload:
                    yield ObservedExchange(*fields)
            elif kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "done":
                _merge(stats, payload)
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


def _widen(conn: Connection) -> None:
    """Give the pipe room for whole batches (Linux: 1 MiB instead of 64 KiB), so the child writes
    a batch without waiting and the pump takes it in one read, with one GIL acquisition instead
    of one per 64 KiB (each waits up to the switch interval while the consumer converts)."""
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


def _merge(stats: IngestStats, child: IngestStats) -> None:
    stats.packets += child.packets
    stats.flows += child.flows
    stats.skipped.update(child.skipped)
    stats.counts.update(child.counts)
    for warning in child.warnings:
        stats.warn(warning)
