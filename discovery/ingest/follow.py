"""Following inputs being written (``ingest --follow``): Zeek's ``current/http.log``, a capture
file tcpdump is writing, a flow file mitmdump appends to.

Each round looks at the named files again (directories and patterns are expanded again, so a
newly rotated file is found) and reads what grew: a file whose size and modification time did
not change is not looked into, one that grew is read on from the end of its last whole record
(``discovery.case.inputs``), so each record is added once, across rounds and across restarts of
the command. A file Zeek rotated away and replaced is a new input; the rotated file, ingested
later, is read on from where following it stopped. The analysis runs after the first round,
then at most every ``analyse_every`` seconds while records arrive, and once more at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from discovery.case.store import Store
from discovery.ingest.files import IngestResult, ingest_file
from discovery.ingest.paths import expand
from discovery.wire.keylog import KeyLog

POLL = 0.1  # seconds between looks at the stop flag while waiting


def follow(
    store: Store,
    names: Sequence[str | Path],
    fmt: str = "auto",
    progress: Callable[[Path, int], None] | None = None,
    *,
    should_stop: Callable[[], bool],
    interval: float = 2.0,
    analyse_every: float = 30.0,
    on_round: Callable[[list[IngestResult]], None] | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    secrets: KeyLog | None = None,
    analysis: Callable[[str], None] | None = None,
) -> list[IngestResult]:
    """Ingest ``names`` and keep reading what is appended to them until ``should_stop()``;
    returns every read that added something (and the first round's reads). ``secrets``: TLS
    key logs for the captures among them. ``analysis``: told the step under way while a
    round's analysis runs (``recompute``) and while a bulk load builds its indexes."""
    from discovery.analyse.recompute import recompute

    seen: dict[Path, tuple[int, int, int]] = {}
    results: list[IngestResult] = []
    first = True
    dirty = False
    analysed = time.monotonic()
    while True:
        added = _round(
            store,
            expand(names),
            fmt,
            progress,
            seen,
            should_stop,
            wait,
            on_wait,
            secrets,
            analysis,
        )
        fresh = [r for r in added if first or not r.already_ingested]
        results.extend(fresh)
        if any(not r.already_ingested for r in added):
            dirty = True
        if on_round is not None and fresh:
            on_round(fresh)
        now = time.monotonic()
        if dirty and (first or now - analysed >= analyse_every):
            recompute(store, analysis)
            dirty, analysed = False, time.monotonic()
        first = False
        if _sleep(interval, should_stop):
            break
    if dirty:
        recompute(store, analysis)
    return results


def _round(
    store: Store,
    paths: Iterable[Path],
    fmt: str,
    progress: Callable[[Path, int], None] | None,
    seen: dict[Path, tuple[int, int, int]],
    should_stop: Callable[[], bool],
    wait: bool,
    on_wait: Callable[[str], None] | None,
    secrets: KeyLog | None = None,
    steps: Callable[[str], None] | None = None,
) -> list[IngestResult]:
    """Read each file that changed since the last round."""
    out = []
    for path in paths:
        if should_stop():
            break
        try:
            info = os.stat(path)
        except FileNotFoundError:  # rotated away between the listing and now
            continue
        mark = (info.st_ino, info.st_size, info.st_mtime_ns)
        if seen.get(path) == mark:
            continue
        per_file = (lambda done, p=path: progress(p, done)) if progress else None
        out.append(
            ingest_file(
                store,
                path,
                fmt,
                per_file,
                wait=wait,
                on_wait=on_wait,
                secrets=secrets,
                steps=steps,
            )
        )
        seen[path] = mark
    return out


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> bool:
    """Wait, looking at the stop flag; True when asked to stop."""
    end = time.monotonic() + seconds
    while not should_stop():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(POLL, left))
    return True
