"""Ingest an input file into the case: detect its format, read it, convert, write in batches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from discovery.case.store import PreparedExchange, Store, file_sha256
from discovery.case.writer import ExchangeWriter, unregister_input
from discovery.errors import InputError
from discovery.sources import detect_format, reader_for
from discovery.stats import IngestStats, Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What one input gave: its format, whether it was already in the case, and the counters."""

    path: Path
    format: str
    already_ingested: bool
    stats: IngestStats


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
        from discovery.ingest import parallel

        if parallel.worth_it(path):  # read and convert in children while this process writes
            converted = parallel.convert_in_children(fmt, path, stats, store.fingerprint, progress)
    try:
        if converted is None:
            writer.add_all(reader(path, stats, progress))
        else:
            writer.add_prepared(converted)
        writer.flush()
    except InputError:
        unregister_input(store, registration.id)  # unusable input: leave no half-registered trace
        raise
    stats.exchanges = writer.written
    store.finish_input(registration.id, stats.as_dict())
    log.info("ingested %s: %d exchanges", path, writer.written)
    return IngestResult(path, fmt, False, stats)


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
    from discovery.analyse.recompute import recompute
    from discovery.case.pending import pending

    results = []
    for path in paths:
        per_file = (lambda done, p=path: progress(p, done)) if progress else None
        results.append(ingest_file(store, path, fmt, per_file))
    if any(not r.already_ingested for r in results) or pending(store):
        recompute(store)
    return results
