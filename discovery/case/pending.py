"""The case's "analysis pending" mark: set inside every write that changes what the analysis
reads, cleared only by a finished ``discovery.analyse.recompute``.

Crash safety: an ingest killed during the analysis leaves the mark set, and the next ingest
re-runs the analysis even when all its inputs are already in the case.
"""

from __future__ import annotations

import os

from discovery.case.store import Store

# meta key; its value is a fresh token per change, so a recompute that started before a
# concurrent write (the proxy's writer) cannot clear the mark that write left
PENDING_KEY = "analysis_pending"


def mark_pending(store: Store) -> None:
    """Mark the analysis out of date; call inside the write transaction that changes its input."""
    store.set_meta(PENDING_KEY, os.urandom(8).hex())


def pending(store: Store) -> bool:
    """True when data changed since the last finished recompute (e.g. it was killed)."""
    return store.get_meta(PENDING_KEY) is not None
