"""Ingest an input file into the case: detect its format, claim it, read it, convert, write in
batches.

An input is claimed before it is read (``discovery.case.inputs``): a second ingest of the same
content waits for the first one (or, with ``wait=False``, refuses naming its owner); an input
that grew since it was read is read on from where it stopped. A reader failing in a way no
reader should (nesting deeper than Python recurses, a value no field can hold, memory) makes the
input unusable: it is unregistered and reported as one ``InputError``.
"""

from __future__ import annotations

import logging
import operator
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from discovery.case import bulk, inputs
from discovery.case.store import CopiedBlock, PreparedExchange, Store
from discovery.case.writer import ExchangeWriter, unregister_input
from discovery.errors import InputBusy, InputError
from discovery.sources import detect_format, reader_for
from discovery.stats import CAPTURE_DROPS, IngestStats, Progress
from discovery.timeutil import iso
from discovery.wire.keylog import KeyLog

log = logging.getLogger(__name__)

WAIT_POLL = 0.25  # seconds between looks at a claim held by another process
HEARTBEAT_EVERY = 10.0  # seconds between heartbeats sent from progress reports
# what a reader must never raise for a bad input, turned into one InputError for the input
_UNUSABLE = (RecursionError, MemoryError, OverflowError, ValueError)


@dataclass(frozen=True)
class IngestResult:
    """What one input gave: its format, whether it was already in the case, where the read
    started (a grown input is read on from there), and the counters."""

    path: Path
    format: str
    already_ingested: bool
    stats: IngestStats
    continued_from: int = 0


def claim_input(
    store: Store,
    path: Path,
    fmt: str,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> tuple[inputs.Claim, inputs.Fingerprint]:
    """Claim an input for reading, waiting while another live process reads it (or, with
    ``wait=False``, raising ``InputBusy``); ``on_wait`` is told once why it waits."""
    try:
        size = path.stat().st_size
        print_ = inputs.fingerprint(path, inputs.offsets_to_hash(store, fmt, size))
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    told = False
    while True:
        claim = inputs.claim(store, path, fmt, print_)
        if claim.missing:  # continuation points appeared meanwhile: hash there too
            print_ = inputs.fingerprint(path, set(print_.prefixes) | claim.missing)
            continue
        if claim.busy is None:
            return claim, print_
        since = f" since {iso(claim.busy_since)}" if claim.busy_since else ""
        reason = f"{path}: being ingested by {claim.busy.describe()}{since}"
        if not wait:
            raise InputBusy(f"{reason}; run again when it finishes")
        if not told and on_wait is not None:
            on_wait(f"{reason}: waiting for it to finish")
        told = True
        time.sleep(WAIT_POLL)


def _require_regular_file(path: Path) -> None:
    """A FIFO, socket or device would block the reader (or never end); a directory is no input.
    Refused before anything is opened or claimed."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if stat.S_ISREG(mode):
        return
    kind = (
        "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a directory"
        if stat.S_ISDIR(mode)
        else "a device"
    )
    raise InputError(
        str(path),
        f"{kind}, not a regular file: ingest reads files (save the stream to a file first, "
        "or capture it with 'capture live')",
    )


def ingest_file(
    store: Store,
    path: Path,
    fmt: str = "auto",
    progress: Progress | None = None,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    secrets: KeyLog | None = None,
    steps: Callable[[str], None] | None = None,
) -> IngestResult:
    """Read one input into the case (no analysis: call ``analysis.recompute`` after the batch).

    ``secrets``: TLS key logs; a capture's TLS connections found in them are decrypted.
    ``steps``: told the step under way after the reading (the indexes a bulk load built at its
    end), repeatedly while it runs."""
    _require_regular_file(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    reader_for(fmt)  # an unknown format fails before anything is claimed
    stats = IngestStats()
    claim, print_ = claim_input(store, path, fmt, wait=wait, on_wait=on_wait)
    if claim.already_ingested:
        return IngestResult(path, fmt, True, stats)
    try:
        _read(
            store,
            path,
            fmt,
            claim,
            print_,
            stats,
            _heartbeats(store, claim.id, progress),
            secrets,
            steps,
        )
    finally:
        inputs.release(store, claim.id)
    log.info("ingested %s: %d exchanges", path, stats.exchanges)
    return IngestResult(path, fmt, False, stats, claim.start)


def _read(
    store: Store,
    path: Path,
    fmt: str,
    claim: inputs.Claim,
    print_: inputs.Fingerprint,
    stats: IngestStats,
    progress: Progress | None,
    secrets: KeyLog | None = None,
    steps: Callable[[str], None] | None = None,
) -> None:
    """Read the claimed input (from its start, up to the size it was hashed at) and finish it."""
    # a large input into a case with no exchanges yet: its indexes are built after the load
    writer = ExchangeWriter(store, claim.id, bulk=print_.size - claim.start >= bulk.BULK_FROM)
    converted: Iterable[PreparedExchange] | None = None
    # blocks children wrote into databases of their own, the names they are attached under,
    # and what ends the children and removes the databases
    copied: tuple[Iterator[CopiedBlock], list[str], Callable[[], None]] | None = None
    if fmt in ("pcap", "pcapng") and claim.start == 0:
        from discovery.ingest import parallel

        if parallel.worth_it(path):  # read and convert in children while this process writes
            converted = parallel.convert_in_children(
                fmt, path, stats, store.fingerprint, progress, end=print_.size, secrets=secrets
            )
    elif fmt == "zeek":
        from discovery.ingest import zeek_parallel, zeek_rows

        if zeek_parallel.worth_it(path, print_.size - claim.start):
            # children write the rows into databases of their own, copied in by SQLite
            shared = zeek_parallel.SharedRead(
                store, path, stats, progress, start=claim.start, end=print_.size
            )
            copied = (shared.blocks(), shared.sources, shared.close)
        else:  # http.log records straight to their rows (the others converted on the way)
            numbered = zeek_rows.rows(
                path, stats, store.fingerprint, progress, start=claim.start, end=print_.size
            )
            converted = map(operator.itemgetter(1), numbered)  # lazy: read as rows are asked
    try:
        if copied is not None:
            blocks, sources, done = copied
            try:
                writer.add_copied(blocks, sources)
            finally:
                done()  # ends the children and removes their databases, whatever happened
        elif converted is None:
            reader = reader_for(fmt, secrets)
            writer.add_all(reader(path, stats, progress, start=claim.start, end=print_.size))
        else:
            writer.add_prepared(converted)
        writer.flush()
        if fmt in ("pcap", "pcapng"):
            from discovery.sources.pcap import check_usable

            check_usable(path, stats)
    except InputError:
        unregister_input(store, claim.id)  # unusable input: leave no half-registered trace
        raise
    except _UNUSABLE as exc:
        unregister_input(store, claim.id)
        raise InputError(str(path), _unusable(exc)) from exc
    finally:
        writer.close(steps)
    stats.exchanges = writer.written
    consumed = stats.consumed
    if consumed is None:
        prefix = None
    elif consumed == print_.size:
        prefix = print_.sha256
    else:  # a record cut at the end (still being written): hash what was read whole
        prefix = inputs.prefix_sha256(path, consumed)
    # a capture file that records its capture's drops (pcapng statistics) says if it is lossy
    dropped = stats.counts.get(CAPTURE_DROPS) if CAPTURE_DROPS in stats.counts else None
    inputs.finish(store, claim.id, stats.as_dict(), consumed, prefix, dropped)


def _unusable(exc: BaseException) -> str:
    """One line for a failure no reader should have let through."""
    if isinstance(exc, RecursionError):
        return "cannot be read: nested deeper than this reader goes"
    if isinstance(exc, MemoryError):
        return "cannot be read: a part of it does not fit in memory"
    detail = " ".join(str(exc).split())[:200]
    return f"cannot be read: {type(exc).__name__}: {detail}"


def _heartbeats(store: Store, input_id: int, progress: Progress | None) -> Progress:
    """The progress callback, also refreshing the claim's heartbeat every few seconds (a read
    may go long without a batch to write: a capture of non-HTTP traffic)."""
    last = time.monotonic()

    def report(done: int) -> None:
        nonlocal last
        if progress is not None:
            progress(done)
        now = time.monotonic()
        if now - last >= HEARTBEAT_EVERY:
            last = now
            with store.transaction():
                inputs.heartbeat(store, input_id)

    return report


def ingest_files(
    store: Store,
    paths: Iterable[Path],
    fmt: str = "auto",
    progress: Callable[[Path, int], None] | None = None,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    secrets: KeyLog | None = None,
    analysis: Callable[[str], None] | None = None,
) -> list[IngestResult]:
    """Ingest several inputs, then recompute the analysis once (``analysis``: its progress,
    as ``recompute`` reports it, and the steps after each input's reading).

    The analysis also runs when every input was already in the case but the analysis is pending
    (an earlier ingest or import was killed before it finished, or a spec was just imported).
    """
    from discovery.analyse.recompute import recompute
    from discovery.case.pending import pending

    results = []
    for path in paths:
        per_file = (lambda done, p=path: progress(p, done)) if progress else None
        results.append(
            ingest_file(
                store,
                path,
                fmt,
                per_file,
                wait=wait,
                on_wait=on_wait,
                secrets=secrets,
                steps=analysis,
            )
        )
    if any(not r.already_ingested for r in results) or pending(store):
        recompute(store, analysis)
    return results
