"""Run a reader and the conversion to stored exchanges in child processes, so packet parsing,
conversion and writing overlap.

Capture ingest has two halves of similar cost: frames -> exchanges (the reader) and exchanges ->
case rows (credential detection, SQLite). On a machine with a second core the child parses while
the parent converts and writes. Batches travel through a pipe; in the parent a small thread keeps
draining it into a bounded queue, so the child goes on parsing while the parent is inside a
SQLite write (without it the child stalls on a full 64 KiB pipe for every batch the parent
writes); the queue bounds memory (a full queue blocks the child). The child never touches the
case file (forked, it exits with ``os._exit``, so the inherited SQLite handle is never closed
there).

``convert_in_children`` adds a second child between the reader and this process: it turns each
observed exchange into its stored form (credential detection, fingerprinting under the case key,
the body scan), so this process only writes, and raw header values and bodies never reach the
process that holds the case file. The three stages keep two cores busy; the order of exchanges,
their contents and the counters are those of the in-process path.
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
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from discovery.errors import InputError
from discovery.models import CredentialSighting, ObservedExchange
from discovery.sources import IngestStats, Progress, reader_for
from discovery.store import PreparedExchange

log = logging.getLogger(__name__)

BATCH = 256
# exchanges travel as plain tuples: a third cheaper to pickle and unpickle than the dataclass
_FIELDS = tuple(f.name for f in dataclasses.fields(ObservedExchange))
_AS_TUPLE = operator.attrgetter(*_FIELDS)  # every field, in order, in one C call
_CRED_AS_TUPLE = operator.attrgetter(*(f.name for f in dataclasses.fields(CredentialSighting)))
MIN_SIZE = 4 << 20  # smaller inputs are read in-process (a fork costs more than it saves)
PIPE_SIZE = 1 << 20
SIGHTINGS_KEPT = 4096  # distinct credential sightings the converter and the parent remember
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


def _child(conn: Connection, fmt: str, path: Path, unused: tuple[Connection, ...] = ()) -> None:
    for other in unused:  # other stages' ends, inherited by the fork: EOF must mean what it says
        other.close()
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


def _converter(
    inbox: Connection, conn: Connection, fingerprint: Callable[[str], str], unused: Connection
) -> None:
    """Second child: observed exchanges from the reader in, rows ready to insert out (see
    ``_Preparer``); every other message is passed on as it came."""
    unused.close()  # the reader's end: EOF here must mean the reader is gone
    loads, dumps = pickle.loads, pickle.dumps
    prepare = _Preparer(fingerprint)
    try:
        while True:
            try:
                raw = inbox.recv_bytes()
            except (EOFError, OSError):
                return  # the reader died: closing our end tells the parent
            kind, payload = loads(raw)
            if kind != "batch":
                conn.send_bytes(raw)
                if kind in ("done", "error"):
                    return
                continue
            conn.send_bytes(dumps(("rows", prepare(payload)), pickle.HIGHEST_PROTOCOL))
    finally:
        inbox.close()
        conn.close()


class _Preparer:
    """Observed exchanges (as tuples) -> (new sightings, rows): each row is the exchange's
    ``exchange_fields``, its time and the ids of its credential sightings, in order.

    Most requests carry a credential already seen, so each distinct sighting travels once, as
    (id, fields); the receiver keeps them by id. The table is bounded: when it is full it starts
    afresh and says so (``reset``), and the receiver forgets its copy.
    """

    def __init__(self, fingerprint: Callable[[str], str]) -> None:
        from discovery.pipeline import to_exchange
        from discovery.store import exchange_fields

        self.fingerprint = fingerprint
        self.to_exchange = to_exchange
        self.fields = exchange_fields
        self.known: dict[str, list[tuple[CredentialSighting, int]]] = {}
        self.size = 0

    def __call__(
        self, batch: list[Any]
    ) -> tuple[bool, list[tuple[int, tuple[object, ...]]], list[tuple[object, ...]]]:
        reset = self.size >= SIGHTINGS_KEPT  # checked per batch: a batch adds a bounded few
        if reset:
            self.known.clear()
            self.size = 0
        new: list[tuple[int, tuple[object, ...]]] = []
        rows: list[tuple[object, ...]] = []
        convert, fields, fingerprint = self.to_exchange, self.fields, self.fingerprint
        make = ObservedExchange
        for observed in batch:
            ex = convert(make(*observed), fingerprint)
            refs = []
            for sighting in ex.credentials:
                same = self.known.setdefault(sighting.fingerprint, [])
                for seen, known_id in same:
                    if seen == sighting:
                        sid = known_id
                        break
                else:
                    sid = self.size
                    self.size += 1
                    same.append((sighting, sid))
                    new.append((sid, _CRED_AS_TUPLE(sighting)))
                refs.append(sid)
            rows.append((fields(ex), ex.ts, tuple(refs)))
        return reset, new, rows


def convert_in_children(
    fmt: str,
    path: Path,
    stats: IngestStats,
    fingerprint: Callable[[str], str],
    progress: Progress | None = None,
) -> Iterator[PreparedExchange]:
    """``to_exchange`` over the reader of ``fmt``, both run in forked children: the exchanges
    ready to insert (``Store._insert_prepared``) in the reader's order, with the reader's
    counters merged into ``stats``."""
    ctx = multiprocessing.get_context("fork")
    middle_in, reader_out = ctx.Pipe(duplex=False)
    receiver, converter_out = ctx.Pipe(duplex=False)
    _widen(middle_in)
    _widen(receiver)
    reader = ctx.Process(
        target=_child,
        args=(reader_out, fmt, path),
        daemon=True,
        kwargs={"unused": (middle_in, receiver, converter_out)},
    )
    reader.start()
    reader_out.close()
    converter = ctx.Process(
        target=_converter, args=(middle_in, converter_out, fingerprint, receiver), daemon=True
    )
    converter.start()
    middle_in.close()
    converter_out.close()
    known: dict[int, CredentialSighting] = {}
    make = CredentialSighting
    for reset, new, rows in _receive(receiver, [converter, reader], path, stats, progress):
        if reset:
            known.clear()
        for sid, fields in new:
            known[sid] = make(*fields)
        for fields, ts, refs in rows:
            yield fields, ts, tuple([known[sid] for sid in refs])


def _receive(
    receiver: Connection,
    procs: list[multiprocessing.process.BaseProcess],
    path: Path,
    stats: IngestStats,
    progress: Progress | None,
) -> Iterator[Any]:  # the tuples a stage sent (unpickled)
    """The batches of rows arriving on ``receiver`` (progress, counters and errors handled);
    ``procs`` (the one writing to ``receiver`` first) are ended and joined whatever happens."""
    inbox: queue.Queue[bytes | None] = queue.Queue(QUEUE_DEPTH)
    pump = threading.Thread(
        target=_pump, args=(receiver, inbox), name="pcap-reader-pipe", daemon=True
    )
    pump.start()
    loads = pickle.loads
    try:
        while True:
            raw = inbox.get()
            if raw is None:
                for proc in procs:
                    proc.join()
                codes = ", ".join(str(proc.exitcode) for proc in procs)
                raise RuntimeError(
                    f"{path}: the reader process ended unexpectedly (exit code {codes})"
                )
            kind, payload = loads(raw)
            if kind == "rows":
                yield payload
            elif kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "done":
                _merge(stats, payload)
                break
            elif kind == "error":
                raise InputError(*payload)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # its end of the pipe closes: the pump sees EOF
        for proc in procs:
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
