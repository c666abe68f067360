"""One case opened for readers on several threads (the console's workers).

Every call runs one read-side function on the case's connection, one thread at a time, with
SQLite's errors translated into ``CaseFileError`` (shown, never a crash). ``data_version`` is a
cheap poll on a separate read-only connection that changes whenever any process commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from discovery.case.store import Store
from discovery.errors import CaseFileError

P = ParamSpec("P")
# The console reads one subject's exchanges scattered over a large case (a credential's 10,000
# among a million): mapped, those pages are read in place instead of copied in one read() each
# (a third off a credential's page at a million exchanges). Address space only, not memory.
MMAP_BYTES = 1 << 30
R = TypeVar("R")


class SharedCase:
    """A case file shared by threads: ``call(fn, ...)`` runs ``fn(store, ...)`` under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.store = Store.open(self.path, create=False)
        self.store.conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        try:
            self._poll = sqlite3.connect(  # as_uri: a '?' or '#' in the path stays the path's
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
        except sqlite3.Error as exc:
            self.store.close()
            raise CaseFileError(f"{self.path}: cannot open: {exc}") from exc

    def call(self, fn: Callable[Concatenate[Store, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(store, *args, **kwargs)`` with the connection to itself; ``CaseFileError`` when
        SQLite fails (locked too long, damaged file)."""
        with self._lock:
            try:
                return fn(self.store, *args, **kwargs)
            except sqlite3.Error as exc:
                raise CaseFileError(f"{self.path}: cannot read the case: {exc}") from exc

    def data_version(self) -> int:
        """Changes whenever a commit lands (this process's own writes included).

        A separate read-only connection, so polling never waits behind a worker's query."""
        with self._poll_lock:
            try:
                return int(self._poll.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise CaseFileError(f"{self.path}: cannot read the case: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self.store.close()
            self._poll.close()
