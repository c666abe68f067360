"""The traffic-only findings rules run in a forked child while this process rebuilds the
inventory, so a big case's analysis uses a second core; once the inventory is written, the
same child runs the rules that read it (``AFTER_INVENTORY``) while this process rebuilds the
sightings.

The child opens the case on a connection of its own (WAL: each statement reads the case as last
committed; the inventory writes nothing the traffic-only rules read, and the sightings nothing
the later ones read) and sends its findings back through a pipe. If the child fails, or the
inventory is never said to be ready, the rules it did not report simply run here afterwards,
as they would without it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
from multiprocessing.connection import Connection

from discovery.analyse.findings import (
    AFTER_INVENTORY,
    TRAFFIC_ONLY,
    Finding,
    _prepare_rules,
    _run_rules,
    load_rules,
    thresholds_for,
)
from discovery.analyse.recompute import MMAP_BYTES, read_fast
from discovery.case.store import Store
from discovery.forking import helpers_can_run

log = logging.getLogger(__name__)

MIN_EXCHANGES = 5000  # on fewer, the rules take less time than a fork and a new connection


class EarlyRules:
    """A child running the traffic-only rules over the case, then, once ``inventory_ready()``
    is called, the rules that read the inventory; ``result()`` collects them."""

    def __init__(self, store: Store) -> None:
        load_rules()
        self.rule_ids = sorted(TRAFFIC_ONLY)
        self.after_inventory_ids = sorted(AFTER_INVENTORY)
        ctx = multiprocessing.get_context("fork")
        self._inbox, sender = ctx.Pipe(duplex=False)
        go, self._go = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child,
            args=(
                sender,
                go,
                str(store.path),
                (self.rule_ids, self.after_inventory_ids),
                thresholds_for(store),
                (self._inbox, self._go),
            ),
            daemon=True,
        )
        self._proc.start()
        sender.close()
        go.close()

    @classmethod
    def start(cls, store: Store) -> EarlyRules | None:
        """A running child, or None when one would not pay off (small case, one core, a
        threaded process such as the console, where forking is unsafe)."""
        (last,) = store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM exchanges").fetchone()
        return cls(store) if last >= MIN_EXCHANGES and helpers_can_run() else None

    def inventory_ready(self) -> None:
        """The inventory is written (committed): the child may run the rules that read it."""
        with contextlib.suppress(OSError):  # the child is gone: result() says so
            self._go.send_bytes(b"go")
        self._go.close()

    def result(self) -> dict[str, list[Finding]]:
        """The child's findings per rule; empty (the caller runs the rules) if it failed.

        Without ``inventory_ready()`` first, the child reports its traffic-only rules only."""
        if not self._go.closed:
            self._go.close()  # the child sees the end of the pipe: no rule reads the inventory
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
        for end in (self._inbox, self._go):
            if not end.closed:
                end.close()
        self._proc.join(wait)
        if self._proc.is_alive():
            self._proc.terminate()  # read-only: nothing of the case is left half done
            self._proc.join()


def _child(
    conn: Connection,
    go: Connection,
    path: str,
    rule_ids: tuple[list[str], list[str]],
    limits: dict[str, float],
    parent_ends: tuple[Connection, Connection],
) -> None:
    for end in parent_ends:  # the parent's ends, inherited by the fork
        end.close()
    traffic_only, after_inventory = rule_ids
    try:
        with Store.open(path, create=False) as store:
            store.conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # as the analysis reads
            found = read_fast(store, lambda: _run_rules(store, traffic_only, limits))
            # what the later rules can read before the inventory, read while it is written
            read_fast(store, lambda: _prepare_rules(store, after_inventory, limits))
            if after_inventory and _inventory_written(go):
                found |= read_fast(store, lambda: _run_rules(store, after_inventory, limits))
        conn.send_bytes(pickle.dumps(found, pickle.HIGHEST_PROTOCOL))
    finally:
        conn.close()
        go.close()


def _inventory_written(go: Connection) -> bool:
    """Wait for the parent to say the inventory is written; False if it closed the pipe."""
    try:
        return go.recv_bytes() == b"go"
    except (EOFError, OSError):
        return False
