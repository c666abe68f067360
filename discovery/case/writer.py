"""Writing exchanges into the case in batched transactions, each marking the analysis pending.

Observed exchanges are converted at the secret boundary (``discovery.redact.convert``) on their
way in; rows already converted in child processes (``discovery.ingest.parallel``) go in as they
are, in the same batches and transactions; blocks of rows children wrote into databases of
their own are copied from there (``add_copied``). A large load into a case with no exchanges yet
(``bulk``) builds the exchanges' indexes once at its end (``discovery.case.bulk``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from discovery.case import bulk as bulk_load
from discovery.case import inputs
from discovery.case.pending import mark_pending
from discovery.case.store import CopiedBlock, PreparedExchange, Store
from discovery.models import Exchange, ObservedExchange
from discovery.redact.convert import to_exchanges

BATCH = 5000


class ExchangeWriter:
    """Converts observed exchanges and writes them in batched transactions."""

    def __init__(
        self, store: Store, input_id: int | None, batch: int = BATCH, *, bulk: bool = False
    ) -> None:
        self.store = store
        self.input_id = input_id
        self.batch_size = batch
        self._pending: list[Exchange] = []
        self.written = 0
        self._bulk = bulk  # first write: defer the indexes when the case has no exchanges
        self.deferred = False  # indexes dropped by this load, built again by ``close``

    def add(self, observed: ObservedExchange) -> None:
        self._pending.extend(to_exchanges(observed, self.store.fingerprint))
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

    def add_copied(self, blocks: Iterable[CopiedBlock], sources: list[str]) -> None:
        """Write blocks of rows child processes wrote into databases attached under
        ``sources`` (``Store.insert_blocks``), whole blocks per transaction, a transaction
        once the blocks reach the batch size."""
        self.flush()
        group: list[CopiedBlock] = []
        rows = 0
        for block in blocks:
            group.append(block)
            rows += block.count
            if rows >= self.batch_size:
                self._write_blocks(group, sources)
                group, rows = [], 0
        if group:
            self._write_blocks(group, sources)

    def flush(self) -> None:
        """Write the pending batch in one transaction that also marks the analysis pending
        (and refreshes the input's heartbeat: its owner is alive)."""
        if self._pending:
            with self.store.transaction():
                self._first()
                self.written += self.store.insert_exchanges(self._pending, self.input_id)
                self._mark()
            self._pending = []

    def _write(self, batch: list[PreparedExchange]) -> None:
        if batch:
            with self.store.transaction():
                self._first()
                self.written += self.store.insert_prepared(batch, self.input_id)
                self._mark()

    def _write_blocks(self, blocks: list[CopiedBlock], sources: list[str]) -> None:
        with self.store.transaction():
            self._first()
            self.written += self.store.insert_blocks(blocks, sources, self.input_id)
            self._mark()

    def close(self, progress: Callable[[str], None] | None = None) -> None:
        """Build the indexes this load deferred (whatever happened to the load); ``progress``
        is told the step while they are built (``bulk.restore_indexes``). Then give back the
        page cache the load's batches raised (``Store.end_bulk``)."""
        if self.deferred:
            self.deferred = False
            bulk_load.restore_indexes(self.store, progress)
        self.store.end_bulk()

    def _first(self) -> None:
        """In the first write transaction, before its rows: defer the indexes of a bulk load."""
        if self._bulk:
            self._bulk = False
            self.deferred = bulk_load.defer_indexes(self.store)

    def _mark(self) -> None:
        mark_pending(self.store)
        if self.input_id is not None:
            inputs.heartbeat(self.store, self.input_id)


def unregister_input(store: Store, input_id: int) -> None:
    """Remove an input and what it wrote (an unusable input leaves no half-registered trace)."""
    with store.transaction():
        inputs.forget_input(store, input_id)
