"""Ingest an input file into the case: detect its format, read it, convert, write in batches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from discovery.analysis import mark_pending
from discovery.errors import InputError
from discovery.models import Exchange, ObservedExchange
from discovery.pipeline import to_exchange
from discovery.sources import IngestStats, Progress, detect_format, reader_for
from discovery.store import PreparedExchange, Store, file_sha256

log = logging.getLogger(__name__)

BATCH = 5000


@dataclass(frozen=True)
class IngestResult:
    """What one input gave: its format, whether it was already in the case, and the counters."""

    path: Path
    format: str
    already_ingested: bool
    stats: IngestStats


class ExchangeWriter:
    """Converts observed exchanges and writes them in batched transactions."""

    def __init__(self, store: Store, input_id: int | None, batch: int = BATCH) -> None:
        self.store = store
        self.input_id = input_id
        self.batch_size = batch
        self._pending: list[Exchange] = []
        self.written = 0

    def add(self, observed: ObservedExchange) -> None:
        self._pending.append(to_exchange(observed, self.store.fingerprint))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def add_all(self, observed: Iterable[ObservedExchange]) -> None:
        for item in observed:
            self.add(item)

    def add_prepared(self, prepared: Iterable[PreparedExchange]) -> None:
        """Write exchanges already converted into rows (``parallel.convert_in_children``), in
        the same batches and transactions as ``add``."""
        self.flush()
        batch: list[PreparedExchange] = []
        for item in prepared:
            batch.append(item)
            if len(batch) >= self.batch_size:
                self._write(batch)
                batch = []
        self._write(batch)

    def flush(self) -> None:
        """Write the pending batch in one transaction that also marks the analysis pending."""
        if self._pending:
            with self.store.transaction():
                self.written += self.store._insert_exchanges(self._pending, self.input_id)
                mark_pending(self.store)
            self._pending = []

    def _write(self, batch: list[PreparedExchange]) -> None:
        if batch:
            with self.store.transaction():
                self.written += self.store._insert_prepared(batch, self.input_id)
                mark_pending(self.store)


def ingest_file(
    store: Store,
    path: Path,
    fmt: str = "auto",
    progress: Progress | None = None,
) -> IngestResult:
    """Read one input into the case (no analysis: call ``analysis.recompute`` after the batch)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    reader = reader_for(fmt)
    stats = IngestStats()
    registration = store.register_input(path, fmt, file_sha256(path))
    if registration.already_ingested:
        return IngestResult(path, fmt, True, stats)
    writer = ExchangeWriter(store, registration.id)
    converted: Iterable[PreparedExchange] | None = None
    if fmt in ("pcap", "pcapng"):
        from discovery.sources import parallel

        if parallel.worth_it(path):  # read and convert in children while this process writes
            converted = parallel.convert_in_children(fmt, path, stats, store.fingerprint, progress)
    try:
        if converted is None:
            writer.add_all(reader(path, stats, progress))
        else:
            writer.add_prepared(converted)
        writer.flush()
    except InputError:
        _unregister(store, registration.id)  # unusable input: leave no half-registered trace
        raise
    stats.exchanges = writer.written
    store.finish_input(registration.id, stats.as_dict())
    log.info("ingested %s: %d exchanges", path, writer.written)
    return IngestResult(path, fmt, False, stats)


def _unregister(store: Store, input_id: int) -> None:
    with store.transaction() as conn:
        store._forget_input_rows(input_id)
        conn.execute("DELETE FROM inputs WHERE id = ?", (input_id,))
        mark_pending(store)  # rows an earlier, analysed run of this input wrote are gone


def ingest_files(
    store: Store,
    paths: Iterable[Path],
    fmt: str = "auto",
    progress: Callable[[Path, int], None] | None = None,
) -> list[IngestResult]:
    """Ingest several inputs, then recompute the analysis once.

    The analysis also runs when every input was already in the case but the analysis is pending
    (an earlier ingest or import was killed before it finished, or a spec was just imported).
    """
    from discovery.analysis import pending, recompute

    results = []
    for path in paths:
        per_file = (lambda done, p=path: progress(p, done)) if progress else None
        results.append(ingest_file(store, path, fmt, per_file))
    if any(not r.already_ingested for r in results) or pending(store):
        recompute(store)
    return results
