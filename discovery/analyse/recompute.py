"""Everything recomputed over the whole case after an ingest or a spec/register import.

Stages run in order; each is ``module:function(store)`` and owns its tables. Old traffic is
re-analysed too, so importing a spec after a capture classifies what was already there.

Crash safety: every write that changes what the analysis reads (exchanges, specs, the register)
marks the case "analysis pending" in its own transaction (``mark_pending``), and only a finished
``recompute`` clears the mark. An ingest killed during the analysis thus leaves the mark set, and
the next ingest re-runs the analysis even when all its inputs are already in the case.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from discovery.case.pending import PENDING_KEY
from discovery.case.store import Store

log = logging.getLogger(__name__)

# SQLite VM steps between progress calls inside a long statement (a few hundred a second)
PROGRESS_STEPS = 200_000
# The analysis scans the exchanges several times over: the first bytes of the case read through
# a memory map, in place, instead of copied page by page into SQLite's small cache (about a
# fifth of the findings child's CPU on bench_tls's 29 MB case). The mapped pages count in the
# resident size (the OS's file cache, shared): bounded, so it stays flat as the case grows.
MMAP_BYTES = 32 << 20
# The stages that read much text (paths, hosts, user agents) read it through ``read_fast``.
_FAST_STAGES = ("rebuild_endpoints", "recompute_findings")
_UNDECODABLE = "Could not decode to UTF-8"  # sqlite3's error for invalid UTF-8 under str
T = TypeVar("T")
REGISTER_STAGE = "discovery.analyse.register:apply_register"
INVENTORY_STAGE = "discovery.analyse.inventory:rebuild_endpoints"
FINDINGS_STAGE = "discovery.analyse.findings:recompute_findings"
STAGES: list[str] = [
    "discovery.analyse.lineage:link_issued_tokens",
    REGISTER_STAGE,
    INVENTORY_STAGE,
    "discovery.analyse.sightings:rebuild_sightings",
    FINDINGS_STAGE,
]


def recompute(store: Store, progress: Callable[[str], None] | None = None) -> None:
    """Run every analysis stage over the case, then clear the pending mark seen at the start.

    ``progress`` is called with ``"analysis: STAGE (N of M)"`` when a stage starts, and again
    with the same text every few hundred thousand SQLite steps while it works (a stage over a
    large case runs for seconds), so a caller can show that it goes on without a thread.

    Right after the register stage, the traffic-only findings rules start in a child process
    (``findings.early``, big cases only) and run while the inventory is rebuilt; once it is
    written, the same child runs the rules that read it while the sightings are rebuilt. The
    findings stage then runs the other rules and writes them all.
    """
    from discovery.analyse.findings.early import EarlyRules
    from discovery.case.bulk import restore_indexes

    token = store.get_meta(PENDING_KEY)
    (mapped,) = store.conn.execute("PRAGMA mmap_size").fetchone()
    store.conn.execute(f"PRAGMA mmap_size = {max(mapped, MMAP_BYTES)}")
    step = "analysis: indexes"
    if progress is not None:
        report = progress

        def tick() -> int:
            report(step)
            return 0  # go on

        store.conn.set_progress_handler(tick, PROGRESS_STEPS)
    early: EarlyRules | None = None
    try:
        if restore_indexes(store):  # a bulk load killed before it built its indexes again
            log.info("indexes a killed bulk load had deferred built again")
        for number, target in enumerate(STAGES, 1):
            module_name, func = target.split(":")
            step = f"analysis: {module_name.rsplit('.', 1)[-1]} ({number} of {len(STAGES)})"
            if progress:
                progress(step)
            wall, cpu = time.perf_counter(), time.process_time()
            stage = getattr(importlib.import_module(module_name), func)
            if target == FINDINGS_STAGE:
                ready = early.result() if early is not None else None
                read_fast(store, partial(stage, store, ready=ready))
            elif func in _FAST_STAGES:
                read_fast(store, partial(stage, store))
            else:
                stage(store)
            if target == REGISTER_STAGE:
                early = EarlyRules.start(store)
            elif target == INVENTORY_STAGE and early is not None:
                early.inventory_ready()  # its rules that read the inventory, while sightings
            log.info(
                "analysis: %s took %.3f s (CPU %.3f s in this process)",
                func,
                time.perf_counter() - wall,
                time.process_time() - cpu,
            )
    finally:
        store.conn.execute(f"PRAGMA mmap_size = {mapped}")
        if progress is not None:
            store.conn.set_progress_handler(None, 0)
        if early is not None:
            early.close()
    if token is not None:
        with store.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ? AND value = ?", (PENDING_KEY, token))


def read_fast(store: Store, run: Callable[[], T]) -> T:
    """``run()`` with the case's TEXT read by ``str``, SQLite's C fast path, instead of the
    store's lenient decoder (a fifth of a second per million values less).

    A case holding invalid UTF-8 (hostile traffic, a foreign writer) makes ``str`` fail; ``run``
    then runs again whole with the lenient decoder (U+FFFD), as every reader reads: the stages
    given to it write in transactions that roll back on the failure and recompute what they
    own, so the second run gives what a lenient first one would have.
    """
    conn = store.conn
    lenient = conn.text_factory
    conn.text_factory = str
    try:
        return run()
    except sqlite3.OperationalError as exc:
        if _UNDECODABLE not in str(exc):
            raise
        log.info("invalid UTF-8 in the case: read again with U+FFFD for it")
    finally:
        conn.text_factory = lenient
    return run()
