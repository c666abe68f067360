"""The proxy's background writer: a bounded hand-off to a separate writer process.

The proxy's event loop only ever calls ``put`` (non-blocking, a deque append). A sender thread
ships the queued exchanges in batches through a pipe to a writer process (``spawn``: never a fork
of the proxy, which runs asyncio and threads), where conversion to the stored form, credential
detection, SQLite writes and the periodic analysis recompute run, so they never compete with
mitmproxy's event loop for the GIL. When the writer falls behind and ``queue_size`` exchanges are
waiting (queued, in the pipe or being written), exchanges are dropped and counted, with a warning,
instead of the queue growing without limit. ``close`` flushes everything.

Durability: ``put(..., urgent=True)`` wakes the sender at once and returns a sequence number;
``committed(seq)`` (awaitable on the proxy's loop) resolves when the writer process has committed
that exchange, so the addon can hold a response until its flow is in the case (flows that carried
a credential or hit an enforced decision). Other flows wait up to ``max_delay`` in the queue:
that is the window a SIGKILL of the proxy can lose. The writer process outlives its parent: when
the pipe closes (the proxy ended, or was killed) it writes what it received, recomputes the
analysis and exits; a vanished parent only stops its progress reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.util import Finalize
from pathlib import Path

from discovery.case.store import Store
from discovery.models import ObservedExchange

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH = 500
MAX_DELAY = 0.25  # seconds an exchange may wait for its batch to fill
RECOMPUTE_SECONDS = 10.0
RECOMPUTE_SHARE = 20  # wait at least 20x the last recompute's duration (<= ~5% of the time)
DROP_WARNING_EVERY = 10.0  # seconds between repeated "queue full" warnings

# progress the writer process reports after each batch: finished, written, failed, recomputes
Progress = tuple[int, int, int, int]


def _default_recompute(store: Store) -> None:
    from discovery.analyse.recompute import recompute

    recompute(store)


def write_batches(
    store: Store,
    receive: Callable[[float | None], list[ObservedExchange] | None],
    report: Callable[[Progress], None],
    *,
    recompute_seconds: float = RECOMPUTE_SECONDS,
    recompute: Callable[[Store], None] | None = _default_recompute,
) -> Progress:
    """The writer process's loop: write each batch ``receive`` gives (waiting at most the given
    seconds, None for ever; [] on timeout, None at the end) in one transaction, report progress,
    and recompute the analysis when new data arrived and the interval passed."""
    from discovery.case.writer import ExchangeWriter

    finished = written = failed = recomputes = 0
    dirty = False
    last_recompute = time.monotonic()
    gap = recompute_seconds
    stop = False
    while not stop:
        wait = max(0.0, last_recompute + gap - time.monotonic()) if dirty else None
        items = receive(wait)
        stop = items is None
        if items:
            writer = ExchangeWriter(store, None, batch=len(items) + 1)
            try:
                writer.add_all(items)
                writer.flush()
                written += writer.written
                dirty = True
            except Exception:  # logged and counted; the proxy keeps running
                failed += len(items)
                log.exception("could not write %d exchanges to the case", len(items))
            finished += len(items)
            report((finished, written, failed, recomputes))
        now = time.monotonic()
        due = stop or now - last_recompute >= gap
        if dirty and due and recompute is not None:
            try:
                recompute(store)
                recomputes += 1
            except Exception:  # logged; the next interval tries again
                log.exception("analysis recompute failed")
            dirty = False
            last_recompute = time.monotonic()
            # the analysis covers the whole case, so it grows with it: keep it to a small
            # share of the writer's time by waiting longer after a long recompute
            gap = max(recompute_seconds, RECOMPUTE_SHARE * (last_recompute - now))
            report((finished, written, failed, recomputes))
    return finished, written, failed, recomputes


def _writer_process(
    case_path: Path,
    inbox: Connection,
    outbox: Connection,
    recompute_seconds: float,
    recompute: Callable[[Store], None] | None,
) -> None:
    """Entry point of the writer process: batches in from ``inbox`` until it closes."""
    # the proxy decides when to stop (it closes the pipe, also when it dies): a Ctrl-C, a
    # SIGTERM or a hang-up sent to the whole process group must not cut the final flush short
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="ir-console writer: %(message)s")
    parent_gone = False

    def report(progress: Progress) -> None:
        nonlocal parent_gone
        if parent_gone:
            return
        try:
            outbox.send(progress)
        except OSError:  # the proxy is gone (killed): go on writing what arrived, then finish
            parent_gone = True
            log.warning("the proxy is gone: writing what it sent, then the analysis")

    def receive(timeout: float | None) -> list[ObservedExchange] | None:
        try:
            if timeout is not None and not inbox.poll(timeout):
                return []
            items: list[ObservedExchange] = inbox.recv()  # our own process's batches
            return items
        except (EOFError, OSError):
            return None

    try:
        store = Store.open(case_path)
    except Exception:
        log.exception("cannot open the case %s", case_path)
        return
    try:
        write_batches(
            store, receive, report, recompute_seconds=recompute_seconds, recompute=recompute
        )
    finally:
        store.close()
        with contextlib.suppress(OSError):  # nobody left to tell
            outbox.close()


class BackgroundWriter:
    """Writes observed exchanges into a case from a writer process; ``close`` flushes everything.

    The hand-off is a deque the proxy appends to and a sender thread drains every ``max_delay``
    (at once when a full batch waits): no lock, no per-flow wake-up, so the event loop pays
    almost nothing. Counters (``written``, ``failed``, ``recomputes``) come back from the writer
    process; ``dropped`` is counted here.
    """

    def __init__(
        self,
        case_path: Path,
        *,
        queue_size: int = QUEUE_SIZE,
        batch: int = BATCH,
        max_delay: float = MAX_DELAY,
        recompute_seconds: float = RECOMPUTE_SECONDS,
        recompute: Callable[[Store], None] | None = _default_recompute,
    ) -> None:
        Store.open(case_path).close()  # here so a bad path fails at configure time, clearly
        self.queue_size = queue_size
        self.batch = batch
        self.max_delay = max_delay
        self._items: deque[ObservedExchange] = deque()
        self._stop = threading.Event()
        self._wake = threading.Event()  # an urgent exchange waits, or the writer is closing
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[bool]]] = []
        self._waiters_lock = threading.Lock()
        self.accepted = 0  # incremented by the producer (the proxy's event loop) only
        self.finished = 0  # written or failed, as reported by the writer process
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.recomputes = 0
        self.pauses = 0  # times the sender waited for a batch to fill
        self._last_drop_warning = 0.0
        self._closed = False
        ctx = multiprocessing.get_context("spawn")
        inbox, self._send = ctx.Pipe(duplex=False)
        self._progress, outbox = ctx.Pipe(duplex=False)
        # not a daemon: close() joins it after its final flush, which must not be cut short
        self.process = ctx.Process(
            target=_writer_process,
            args=(case_path, inbox, outbox, recompute_seconds, recompute),
            name="irc-writer",
        )
        self.process.start()
        inbox.close()
        outbox.close()
        self._sender = threading.Thread(target=self._run_sender, name="irc-sender", daemon=True)
        self._receiver = threading.Thread(
            target=self._run_receiver, name="irc-progress", daemon=True
        )
        self._sender.start()
        self._receiver.start()
        # flush at interpreter exit too, before multiprocessing joins its children
        self._finalize = Finalize(self, self.close, exitpriority=10)

    def put(self, observed: ObservedExchange, *, urgent: bool = False) -> int | None:
        """Queue an exchange without blocking; its sequence number for ``committed``, or None
        (counted, warned) when the queue is full. ``urgent``: send it now, not with the next
        batch."""
        if self.accepted - self.finished >= self.queue_size:
            self.dropped += 1
            now = time.monotonic()
            if self.dropped == 1 or now - self._last_drop_warning >= DROP_WARNING_EVERY:
                self._last_drop_warning = now
                log.warning(
                    "case writer is falling behind: queue full (%d), %d exchanges dropped so far",
                    self.queue_size,
                    self.dropped,
                )
            return None
        self._items.append(observed)  # deque.append is atomic: no lock needed
        self.accepted += 1
        if urgent:
            self._wake.set()
        return self.accepted

    async def committed(self, seq: int, timeout: float) -> bool:
        """Wait (on the caller's event loop) until exchange ``seq`` is committed to the case;
        False when the writer stopped or ``timeout`` seconds passed first."""
        if self.finished >= seq:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._waiters_lock:
            self._waiters.append((seq, loop, future))
        self._release_waiters()  # it may have been committed meanwhile
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False

    def _release_waiters(self, stopped: bool = False) -> None:
        """Resolve the waiters whose exchange is committed (all of them when ``stopped``)."""
        keep: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[bool]]] = []
        done: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[bool]]] = []
        with self._waiters_lock:
            for waiter in self._waiters:
                (done if stopped or waiter[0] <= self.finished else keep).append(waiter)
            self._waiters = keep
        for seq, loop, future in done:
            ok = seq <= self.finished
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, future, ok)

    def drain(self) -> None:
        """Block until everything queued so far has been committed (or failed)."""
        target = self.accepted
        while self.finished < target and self._receiver.is_alive():
            time.sleep(min(self.max_delay, 0.01))

    def close(self) -> None:
        """Write what is queued, recompute the analysis if anything new arrived, stop."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        self._sender.join()  # sends what is left, then closes the pipe: the writer finishes
        self._receiver.join()  # the writer's last report, then end of file
        self.process.join()
        self._progress.close()
        lost = self.accepted - self.finished
        if lost:
            log.warning("the case writer stopped early: %d exchanges not written", lost)
        if self.dropped:
            log.warning(
                "%d exchanges were dropped because the case writer fell behind", self.dropped
            )

    def _take_batch(self) -> tuple[list[ObservedExchange], bool]:
        """Sleep ``max_delay`` (or until closed) unless a full batch waits, then take up to a
        batch; True when the writer is closing and nothing is left."""
        if len(self._items) >= self.batch:  # a backlog: keep sending, no pause
            stopping = self._stop.is_set()
        else:
            self.pauses += 1
            self._wake.wait(self.max_delay)  # an urgent exchange (or close) ends the pause
            self._wake.clear()
            stopping = self._stop.is_set()
        items: list[ObservedExchange] = []
        while self._items and len(items) < self.batch:
            items.append(self._items.popleft())
        return items, stopping and not self._items

    def _run_sender(self) -> None:
        stop = False
        try:
            while not stop:
                items, stop = self._take_batch()
                if items:
                    self._send.send(items)
        except (OSError, ValueError):  # the writer process is gone: what is queued is lost
            log.exception("the case writer process stopped")
        finally:
            self._send.close()

    def _run_receiver(self) -> None:
        try:
            while True:
                try:
                    progress: Progress = self._progress.recv()  # our own writer's report
                except (EOFError, OSError):
                    return
                self.finished, self.written, self.failed, self.recomputes = progress
                self._release_waiters()
        finally:
            self._release_waiters(stopped=True)


def _resolve(future: asyncio.Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)
