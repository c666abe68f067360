"""A live capture shared between worker processes, for traffic one core cannot keep up with.

Each worker reads its own ring; the rings form a fanout group, so the kernel splits the packets
between them by a symmetric flow hash and each worker sees whole connections (the way
Suricata's and Zeek's workers share an interface). A worker runs the frame path files use
(``ConnectionTracker``), turns its exchanges into stored rows itself (``parallel.Preparer``:
credential detection and fingerprints stay in the worker, as for shared file reading) and sends
them in batches through a pipe; this process unpacks them (``packing.Unpacker``) and writes
them to the case every second with the capture's counters. A worker numbers its own frames and
its evidence says so ("worker 2: frames 10-14"), matching its own pcapng files with ``--write``.

Nothing is dropped on the way: a full pipe or queue makes its worker wait, its ring fills, and
the kernel drops and counts. Each worker reads its own socket's counters (reading resets them)
and reports them; a stop lets no packet in and each worker reads its ring to the end.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from discovery.case.store import PreparedExchange, Store
from discovery.case.writer import ExchangeWriter
from discovery.errors import CaptureError
from discovery.forking import helpers_can_run
from discovery.ingest.keylog_follow import SecretsFeed
from discovery.ingest.packing import Unpacker
from discovery.ingest.parallel import BATCH, QUEUE_DEPTH, Preparer, widen_pipe
from discovery.models import ObservedExchange
from discovery.stats import IngestStats
from discovery.wire.connections import ConnectionTracker

if TYPE_CHECKING:
    from discovery.ingest.live import LiveCapture, Progress

log = logging.getLogger(__name__)

TICK = 1.0


class _Worker:
    """What this process knows of one worker: its last counters, and its result when done."""

    def __init__(self, proc: multiprocessing.process.BaseProcess) -> None:
        self.proc = proc
        self.rebuild = Unpacker()
        self.packets = 0
        self.received = 0
        self.dropped = 0
        self.truncated = 0
        self.done: dict[str, Any] | None = None
        self.ended = False


def run_shared(
    capture: LiveCapture,
    store: Store,
    input_id: int,
    writer: ExchangeWriter,
    stop: threading.Event,
    hurry: threading.Event | None,
    progress: Progress | None,
) -> None:
    """Run ``capture`` (rings open, one per worker) in worker processes until stopped; their
    rows written through ``writer``, their counters left in ``capture.counters`` and
    ``capture.stats``."""
    if not helpers_can_run():
        raise CaptureError("--workers needs a second core and fork (and a single-threaded caller)")
    ctx = multiprocessing.get_context("fork")
    stopping, hurrying = ctx.Event(), ctx.Event()
    pipes = [ctx.Pipe(duplex=False) for _ in capture.rings]
    workers: list[_Worker] = []
    for index, (receiver, sender) in enumerate(pipes):
        widen_pipe(receiver)
        others = tuple(end for pair in pipes for end in pair if end is not sender)
        proc = ctx.Process(
            target=_work,
            args=(capture, index, sender, store.fingerprint, stopping, hurrying, others),
            daemon=True,
        )
        proc.start()
        workers.append(_Worker(proc))
    for ring in capture.rings:  # each worker holds its own ring now
        ring.detach()
    capture.rings = []
    outputs, capture.outputs = capture.outputs, []
    for _receiver, sender in pipes:
        sender.close()
    inbox: queue.Queue[tuple[int, bytes | None]] = queue.Queue(QUEUE_DEPTH * len(workers))
    pumps = [
        threading.Thread(target=_pump, args=(i, r, inbox), name="live-pipe", daemon=True)
        for i, (r, _s) in enumerate(pipes)
    ]
    for pump in pumps:
        pump.start()
    options = capture.options
    started = time.monotonic()
    next_tick = started + TICK
    rows: list[PreparedExchange] = []
    try:
        while not all(w.ended for w in workers):
            now = time.monotonic()
            if not stopping.is_set() and (
                stop.is_set()
                or (options.duration is not None and now - started >= options.duration)
            ):
                stopping.set()
            if hurry is not None and hurry.is_set():
                hurrying.set()
            try:
                index, raw = inbox.get(timeout=0.2)
            except queue.Empty:
                pass
            else:
                rows += _receive(workers[index], raw)
            if time.monotonic() >= next_tick:
                _write(writer, rows)
                rows = []
                _count(capture, workers, outputs)
                capture.stats.exchanges = writer.written
                store.update_input_stats(input_id, capture.summary(), capture.counters.dropped)
                if progress is not None:
                    progress(capture.stats, capture.counters, writer.written)
                next_tick = time.monotonic() + TICK
        _write(writer, rows)
    finally:
        stopping.set()
        if any(not w.ended for w in workers):
            hurrying.set()  # an error here: the workers stop at once
        for w in workers:
            w.proc.join(10)
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join()
        for receiver, _sender in pipes:
            receiver.close()
        _count(capture, workers, outputs)
    for w in workers:
        if w.done is None:
            raise CaptureError(
                f"a capture worker ended unexpectedly (exit code {w.proc.exitcode}); "
                "what it had read is lost"
            )
        _merge(capture.stats, w.done["stats"])


def _receive(worker: _Worker, raw: bytes | None) -> list[PreparedExchange]:
    if raw is None:
        worker.ended = True
        return []
    kind, payload = pickle.loads(raw)  # noqa: S301 - from our own forked worker
    if kind == "rows":
        return worker.rebuild(*payload)
    if kind == "counters":
        worker.packets, worker.received, worker.dropped, worker.truncated = payload
    elif kind == "done":
        worker.done = payload
        worker.packets = payload["packets"]
        worker.received, worker.dropped = payload["received"], payload["dropped"]
        worker.truncated = payload["truncated"]
    elif kind == "error":
        raise CaptureError(f"a capture worker failed: {payload}")
    return []


def _write(writer: ExchangeWriter, rows: list[PreparedExchange]) -> None:
    if rows:
        writer.add_prepared(rows)


def _count(capture: LiveCapture, workers: list[_Worker], outputs: list[Any]) -> None:
    c = capture.counters
    c.received = sum(w.received for w in workers)
    c.kernel_dropped = sum(w.dropped for w in workers)
    c.truncated = sum(w.truncated for w in workers)
    c.unread = sum(w.done["unread"] for w in workers if w.done is not None)
    capture.stats.packets = sum(w.packets for w in workers)
    if outputs:
        c.files = [f for w in workers if w.done is not None for f in w.done["files"]]


def _merge(stats: IngestStats, child: IngestStats) -> None:
    stats.flows += child.flows
    stats.skipped.update(child.skipped)
    stats.counts.update(child.counts)
    for warning in child.warnings:
        stats.warn(warning)


def _pump(index: int, receiver: Connection, inbox: queue.Queue[tuple[int, bytes | None]]) -> None:
    """Move one worker's messages to the shared queue (``recv_bytes`` releases the GIL); a
    full queue makes the worker wait."""
    while True:
        try:
            raw = receiver.recv_bytes()
        except (EOFError, OSError):
            inbox.put((index, None))
            return
        inbox.put((index, raw))


def _work(
    capture: LiveCapture,
    index: int,
    conn: Connection,
    fingerprint: Callable[[str], str],
    stopping: Any,
    hurrying: Any,
    unused: tuple[Connection, ...],
) -> None:
    """One worker: its ring through the frame path, rows and counters sent up."""
    from discovery.ingest.live import read_ring

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for other in unused:
        other.close()
    ring = capture.rings[index]
    for k, other_ring in enumerate(capture.rings):
        if k != index:
            other_ring.detach()
    output = capture.outputs[index] if capture.outputs else None
    dumps = pickle.dumps

    def send(message: tuple[str, Any]) -> None:
        conn.send_bytes(dumps(message, pickle.HIGHEST_PROTOCOL))

    stats = IngestStats()
    name = capture.options.name
    tracker = ConnectionTracker(stats, "live", where=f"live capture on {name} (worker {index + 1})")
    feed = None
    if capture.follower is not None:  # this worker's copy, following the files on its own
        follower = capture.follower
        follower.stats = stats if index == 0 else IngestStats()  # bad lines counted once
        feed = SecretsFeed(follower, tracker, capture.options.keylog_wait)
    frame_in = tracker.frame
    prepare = Preparer(fingerprint)
    label = f"worker {index + 1}: "
    pending: list[ObservedExchange] = []
    frame = 0

    def packet(sec: int, nsec: int, linktype: int, data: bytes, wirelen: int, ifindex: int) -> None:
        nonlocal frame
        frame += 1
        if output is not None:
            output.packet(frame, sec, nsec, linktype, data, wirelen, ifindex)
        frame_in(frame, sec + nsec * 1e-9, linktype, data)

    def send_rows() -> None:
        if pending:
            batch = [obs._replace(evidence=label + obs.evidence) for obs in pending]
            pending.clear()
            send(("rows", prepare(batch)))

    def after_read() -> None:
        if feed is not None:
            feed.look()
        if tracker.out:
            pending.extend(tracker.take())
            if len(pending) >= BATCH:
                send_rows()

    def every_second() -> None:
        if feed is not None:
            feed.tick()
        send_rows()
        tracker.reassembler.sweep_idle(time.time())
        ring.update_counters()
        if output is not None:
            output.flush()
        send(("counters", (frame, ring.accepted, ring.dropped, ring.truncated)))

    try:
        read_ring(ring, packet, stopping.is_set, hurrying.is_set, _never, after_read, every_second)
        if feed is not None:
            feed.last()
        tracker.finish()
        pending.extend(tracker.take())
        send_rows()
        ring.close()
        files: list[dict[str, object]] = []
        if output is not None:
            output.close(ring.accepted, ring.dropped)
            files = [f.as_dict() for f in output.files]
        stats.packets = frame
        send(
            (
                "done",
                {
                    "stats": stats,
                    "packets": frame,
                    "received": ring.accepted,
                    "dropped": ring.dropped,
                    "truncated": ring.truncated,
                    "unread": ring.unread,
                    "files": files,
                },
            )
        )
    except Exception as exc:  # sent up whole: the parent names it and stops the capture
        log.exception("capture worker %d failed", index + 1)
        send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _never() -> bool:
    return False
