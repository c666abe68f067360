"""The proxy's background writer: a bounded queue drained by one thread in batched commits.

The proxy's event loop only ever calls ``put`` (non-blocking); conversion to the stored form,
credential detection and SQLite writes happen on the writer thread. When the writer falls behind
and the queue is full, exchanges are dropped and counted, with a warning, instead of the queue
growing without limit. The analysis is recomputed periodically, only when new data arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from discovery.ingest import ExchangeWriter
from discovery.models import ObservedExchange
from discovery.store import Store

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH = 500
MAX_DELAY = 0.25  # seconds an exchange may wait for its batch to fill
RECOMPUTE_SECONDS = 10.0
RECOMPUTE_SHARE = 20  # wait at least 20x the last recompute's duration (<= ~5% of the time)
DROP_WARNING_EVERY = 10.0  # seconds between repeated "queue full" warnings


def _default_recompute(store: Store) -> None:
    from discovery.analysis import recompute

    recompute(store)


class BackgroundWriter:
    """Writes observed exchanges into a case from a thread; ``close`` flushes everything.

    The hand-off is a deque the proxy appends to and the writer drains every ``max_delay``: no
    lock, no per-flow wake-up of the writer thread, so the event loop pays almost nothing.
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
        self.store = Store.open(case_path)  # opened here so a bad path fails at configure time
        self.queue_size = queue_size
        self.batch = batch
        self.max_delay = max_delay
        self.recompute_seconds = recompute_seconds
        self._recompute = recompute
        self._items: deque[ObservedExchange] = deque()
        self._stop = threading.Event()
        self.accepted = 0  # incremented by the producer (the proxy's event loop) only
        self.finished = 0  # incremented by the writer thread only (written or failed)
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.recomputes = 0
        self.pauses = 0  # times the writer waited for a batch to fill
        self._last_drop_warning = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="irc-writer", daemon=True)
        self._thread.start()

    def put(self, observed: ObservedExchange) -> bool:
        """Queue an exchange without blocking; False (counted, warned) when the queue is full."""
        if len(self._items) >= self.queue_size:
            self.dropped += 1
            now = time.monotonic()
            if self.dropped == 1 or now - self._last_drop_warning >= DROP_WARNING_EVERY:
                self._last_drop_warning = now
                log.warning(
                    "case writer is falling behind: queue full (%d), %d exchanges dropped so far",
                    self.queue_size,
                    self.dropped,
                )
            return False
        self._items.append(observed)  # deque.append is atomic: no lock needed
        self.accepted += 1
        return True

    def drain(self) -> None:
        """Block until everything queued so far has been committed (or failed)."""
        target = self.accepted
        while self.finished < target and self._thread.is_alive():
            time.sleep(min(self.max_delay, 0.01))

    def close(self) -> None:
        """Write what is queued, recompute the analysis if anything new arrived, stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join()
        self.store.close()
        if self.dropped:
            log.warning(
                "%d exchanges were dropped because the case writer fell behind", self.dropped
            )

    def _take_batch(self) -> tuple[list[ObservedExchange], bool]:
        """Sleep ``max_delay`` (or until closed) unless a full batch waits, then take up to a
        batch; True when the writer is closing and nothing is left."""
        if len(self._items) >= self.batch:  # a backlog: keep writing, no pause
            stopping = self._stop.is_set()
        else:
            self.pauses += 1
            stopping = self._stop.wait(self.max_delay)
        items: list[ObservedExchange] = []
        while self._items and len(items) < self.batch:
            items.append(self._items.popleft())
        return items, stopping and not self._items

    def _run(self) -> None:
        dirty = False
        last_recompute = time.monotonic()
        gap = self.recompute_seconds
        stop = False
        while not stop:
            items, stop = self._take_batch()
            if items:
                writer = ExchangeWriter(self.store, None, batch=len(items) + 1)
                try:
                    writer.add_all(items)
                    writer.flush()
                    self.written += writer.written
                    dirty = True
                except Exception:  # logged and counted; the proxy keeps running
                    self.failed += len(items)
                    log.exception("could not write %d exchanges to the case", len(items))
                finally:
                    self.finished += len(items)
            now = time.monotonic()
            due = stop or now - last_recompute >= gap
            if dirty and due and self._recompute is not None:
                try:
                    self._recompute(self.store)
                    self.recomputes += 1
                except Exception:  # logged; the next interval tries again
                    log.exception("analysis recompute failed")
                dirty = False
                last_recompute = time.monotonic()
                # the analysis covers the whole case, so it grows with it: keep it to a small
                # share of the writer's time by waiting longer after a long recompute
                gap = max(self.recompute_seconds, RECOMPUTE_SHARE * (last_recompute - now))
