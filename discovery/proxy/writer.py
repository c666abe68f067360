"""The proxy's background writer: a bounded queue drained by one thread in batched commits.

The proxy's event loop only ever calls ``put`` (non-blocking); conversion to the stored form,
credential detection and SQLite writes happen on the writer thread. When the writer falls behind
and the queue is full, exchanges are dropped and counted, with a warning, instead of the queue
growing without limit. The analysis is recomputed periodically, only when new data arrived.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
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

_STOP = object()


def _default_recompute(store: Store) -> None:
    from discovery.analysis import recompute

    recompute(store)


class BackgroundWriter:
    """Writes observed exchanges into a case from a thread; ``close`` flushes everything."""

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
        self.batch = batch
        self.max_delay = max_delay
        self.recompute_seconds = recompute_seconds
        self._recompute = recompute
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self.failed = 0
        self.recomputes = 0
        self._last_drop_warning = 0.0
        self.written = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="irc-writer", daemon=True)
        self._thread.start()

    def put(self, observed: ObservedExchange) -> bool:
        """Queue an exchange without blocking; False (counted, warned) when the queue is full."""
        try:
            self._queue.put_nowait(observed)
        except queue.Full:
            self.dropped += 1
            now = time.monotonic()
            if self.dropped == 1 or now - self._last_drop_warning >= DROP_WARNING_EVERY:
                self._last_drop_warning = now
                log.warning(
                    "case writer is falling behind: queue full (%d), %d exchanges dropped so far",
                    self._queue.maxsize,
                    self.dropped,
                )
            return False
        return True

    def drain(self) -> None:
        """Block until everything queued so far has been committed."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, recompute the analysis if anything new arrived, stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self.store.close()
        if self.dropped:
            log.warning(
                "%d exchanges were dropped because the case writer fell behind", self.dropped
            )

    def _take_batch(self) -> tuple[list[ObservedExchange], bool]:
        """Wait for one item, let a batch accumulate for ``max_delay``, then take it whole.

        Sleeping instead of waking for every item keeps the writer thread from taking the GIL
        from the proxy's event loop once per flow.
        """
        items: list[ObservedExchange] = []
        try:
            first = self._queue.get(timeout=self.max_delay)
        except queue.Empty:
            return items, False
        if first is _STOP:
            self._queue.task_done()
            return items, True
        assert isinstance(first, ObservedExchange)
        items.append(first)
        time.sleep(self.max_delay)
        while len(items) < self.batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._queue.task_done()
                return items, True
            assert isinstance(item, ObservedExchange)
            items.append(item)
        return items, False

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
                    for _ in items:
                        self._queue.task_done()
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
