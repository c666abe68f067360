"""The traffic-only findings rules run in a forked child while this process rebuilds the
inventory, so a big case's analysis uses a second core.

The child opens the case on a connection of its own (WAL: it reads the case as it was when it
started, and the inventory writes nothing these rules read) and sends its findings back through
a pipe. If the child fails, the rules simply run here afterwards, as they would without it.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
from multiprocessing.connection import Connection

from discovery.analyse.findings import TRAFFIC_ONLY, Finding, _run_rules, load_rules, thresholds_for
from discovery.case.store import Store
from discovery.forking import helpers_can_run

log = logging.getLogger(__name__)

MIN_EXCHANGES = 5000  # on fewer, the rules take less time than a fork and a new connection


class EarlyRules:
    """A child running the traffic-only rules over the case; ``result()`` collects them."""

    def __init__(self, store: Store) -> None:
        load_rules()
        self.rule_ids = sorted(TRAFFIC_ONLY)
        ctx = multiprocessing.get_context("fork")
        self._inbox, sender = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child,
            args=(sender, str(store.path), self.rule_ids, thresholds_for(store), self._inbox),
            daemon=True,
        )
        self._proc.start()
        sender.close()

    @classmethod
    def start(cls, store: Store) -> EarlyRules | None:
        """A running child, or None when one would not pay off (small case, one core, a
        threaded process such as the console, where forking is unsafe)."""
        (last,) = store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM exchanges").fetchone()
        return cls(store) if last >= MIN_EXCHANGES and helpers_can_run() else None

    def result(self) -> dict[str, list[Finding]]:
        """The child's findings per rule; empty (the caller runs the rules) if it failed."""
        try:
            # our own forked child, on a pipe only it holds: not untrusted data
            found: dict[str, list[Finding]] = pickle.loads(self._inbox.recv_bytes())  # noqa: S301
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            log.warning("traffic-only findings rules failed in their child (%s): run here", exc)
            found = {}
        self.close(wait=1.0)
        return found

    def close(self, wait: float = 0.0) -> None:
        """Release the pipe and end the child (given ``wait`` seconds to finish by itself)."""
        if not self._inbox.closed:
            self._inbox.close()
        self._proc.join(wait)
        if self._proc.is_alive():
            self._proc.terminate()  # read-only: nothing of the case is left half done
            self._proc.join()


def _child(
    conn: Connection,
    path: str,
    rule_ids: list[str],
    limits: dict[str, float],
    parent_end: Connection,
) -> None:
    parent_end.close()  # the parent's end, inherited by the fork
    try:
        with Store.open(path, create=False) as store:
            found = _run_rules(store, rule_ids, limits)
        conn.send_bytes(pickle.dumps(found, pickle.HIGHEST_PROTOCOL))
    finally:
        conn.close()
