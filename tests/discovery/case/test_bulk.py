"""A bulk load into a case with no exchanges builds the exchanges' indexes after the load
(``discovery.case.bulk``): the same rows and the same indexes as a load with them in place, and
a load killed midway leaves the way back in the case."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from discovery.analyse import recompute as recompute_module
from discovery.analyse.recompute import recompute
from discovery.case import bulk
from discovery.case.store import (
    BULK_CACHE_KIB,
    DEFERRED_CACHE_KIB,
    Store,
)
from discovery.case.writer import ExchangeWriter
from discovery.ingest.files import ingest_files
from discovery.models import ObservedExchange
from tests.conftest import make_exchange, make_sighting
from tests.paths import FIXTURES


def indexes(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('exchanges', 'exchange_credentials')"
        ).fetchall()
    )


def observed(n: int) -> ObservedExchange:
    return ObservedExchange(
        ts=1_790_000_000.0 + n,
        source="zeek",
        evidence=f"uid C{n} (line {n})",
        client_ip=f"10.0.0.{n % 200 + 1}",
        client_port=40000 + n,
        server_ip="10.9.0.1",
        server_port=80,
        method="GET",
        target=f"/api/v1/users/{n}?limit=5",
        host=f"svc{n % 3}.example",
        status=200,
        request_headers=(("X-API-Key", f"k-{n % 4}-0123456789abcdef0123"),),
    )


def load(case: Path, bulk_load: bool, count: int = 120) -> list[tuple[object, ...]]:
    with Store.open(case) as store:
        own_cache = store.conn.execute("PRAGMA cache_size").fetchone()[0]
        writer = ExchangeWriter(store, None, batch=50, bulk=bulk_load)
        deferred_seen = []
        for n in range(count):
            writer.add(observed(n))
            if n == 60:  # midway: the indexes are away only when deferred
                deferred_seen.append(set(indexes(store.conn)))
                cache_kib = -store.conn.execute("PRAGMA cache_size").fetchone()[0]
        writer.flush()
        assert writer.deferred is bulk_load
        writer.close()
        assert store.get_meta(bulk.DEFERRED_KEY) is None
        # rows appended: a small page cache while the indexes are away, the large one when
        # they are there; once the load is over, the case's own again
        assert cache_kib == (DEFERRED_CACHE_KIB if bulk_load else BULK_CACHE_KIB)
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == own_cache
        # each case has its own key: credentials compared by their redacted form
        rows = store.conn.execute(
            "SELECT e.id, host, method, path, ts, client_ip, k.redacted, k.requests "
            "FROM exchanges e JOIN exchange_credentials c ON c.exchange_id = e.id "
            "JOIN credentials k ON k.id = c.credential_id ORDER BY e.id"
        ).fetchall()
        if bulk_load:
            assert "exchanges_host" not in deferred_seen[0]
            assert "exchange_credentials_cred" not in deferred_seen[0]
            assert "exchanges_protocol" in deferred_seen[0]  # partial indexes stay
        return rows


def test_a_bulk_load_gives_the_same_rows_and_indexes(tmp_path: Path) -> None:
    plain = load(tmp_path / "plain.db", False)
    deferred = load(tmp_path / "bulk.db", True)
    assert deferred == plain and len(plain) == 120
    with Store.open(tmp_path / "plain.db") as a, Store.open(tmp_path / "bulk.db") as b:
        assert indexes(a.conn) == indexes(b.conn)
        assert "exchanges_host" in indexes(b.conn)
        # the rebuilt index is used and right: the same answer through it as through the table
        query = "SELECT COUNT(*) FROM exchanges INDEXED BY exchanges_host WHERE host = ?"
        assert b.conn.execute(query, ("svc1.example",)).fetchone()[0] == 40


def test_a_case_with_exchanges_keeps_its_indexes(store: Store) -> None:
    store.add_exchanges([make_exchange()])
    before = indexes(store.conn)
    writer = ExchangeWriter(store, None, batch=10, bulk=True)
    for n in range(30):
        writer.add(observed(n))
    writer.flush()
    assert writer.deferred is False
    assert indexes(store.conn) == before
    writer.close()


def test_a_load_killed_midway_gets_its_indexes_back_from_the_next_analysis(store: Store) -> None:
    before = indexes(store.conn)
    with store.transaction():  # what a bulk load's first write does, then the process dies
        assert bulk.defer_indexes(store)
    assert "exchanges_ts" not in indexes(store.conn)
    assert store.get_meta(bulk.DEFERRED_KEY) is not None
    with store.transaction():
        store.insert_exchanges(
            [make_exchange(credentials=(make_sighting(store, "s3cr3t-value-123456"),))], None
        )
    recompute(store)
    assert indexes(store.conn) == before
    assert store.get_meta(bulk.DEFERRED_KEY) is None
    assert bulk.restore_indexes(store) is False  # nothing left to do


def test_the_analysis_reports_each_stage_in_order(store: Store) -> None:
    store.add_exchanges([make_exchange()])
    steps: list[str] = []
    recompute(store, steps.append)
    stages = list(dict.fromkeys(steps))  # a long stage is reported again while it runs
    assert stages == [
        "analysis: lineage (1 of 5)",
        "analysis: register (2 of 5)",
        "analysis: inventory (3 of 5)",
        "analysis: sightings (4 of 5)",
        "analysis: findings (5 of 5)",
    ]


def test_a_stage_is_reported_again_while_it_runs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_exchanges([make_exchange()])
    monkeypatch.setattr(recompute_module, "PROGRESS_STEPS", 1)  # SQLite steps between calls
    steps: list[str] = []
    recompute(store, steps.append)
    assert len(steps) > len(set(steps)) and steps[-1] == "analysis: findings (5 of 5)"
    after = len(steps)
    store.conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
        "SELECT COUNT(*) FROM n"
    ).fetchone()
    assert len(steps) == after  # the handler went with the analysis


def test_building_the_deferred_indexes_reports_its_step_while_it_runs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index build at the end of a bulk load (seconds for millions of rows) tells its
    step when it starts and again while SQLite works; the progress handler is gone after."""
    monkeypatch.setattr(bulk, "PROGRESS_STEPS", 1000)  # a small build ticks too
    writer = ExchangeWriter(store, None, batch=500, bulk=True)
    writer.add_all(observed(n) for n in range(3000))
    writer.flush()
    assert writer.deferred
    steps: list[str] = []
    writer.close(steps.append)
    assert steps[0] == bulk.INDEX_STEP and set(steps) == {bulk.INDEX_STEP}
    assert len(steps) > 1  # ticks while the indexes are built, not only at the start
    assert store.get_meta(bulk.DEFERRED_KEY) is None
    calls = len(steps)
    store.conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
        "SELECT COUNT(*) FROM n"
    ).fetchone()
    assert len(steps) == calls  # the handler went with the build
    writer.close(steps.append)  # nothing deferred any more: nothing to report
    assert len(steps) == calls


def test_ingest_reports_the_index_build_before_the_analysis(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ingest_files`` hands its step reporter to the load: a bulk load's index build is the
    step shown between the bytes and the analysis."""
    monkeypatch.setattr(bulk, "BULK_FROM", 1)  # the fixture log loads as a bulk load would
    steps: list[str] = []
    ingest_files(store, [FIXTURES / "zeek" / "http.log"], analysis=steps.append)
    assert steps[0] == bulk.INDEX_STEP
    assert steps[-1] == "analysis: findings (5 of 5)"
    assert store.get_meta(bulk.DEFERRED_KEY) is None


def page_cache(store: Store) -> int:
    return int(store.conn.execute("PRAGMA cache_size").fetchone()[0])


def test_a_load_gives_back_the_page_cache_it_raised(store: Store) -> None:
    """The analysis after a load, and anything else on the connection, runs with the page cache
    the case had before (SQLite sizes its sorters by it too): a large load's memory is its own,
    held while it lasts."""
    before = page_cache(store)
    for first_load in (True, False):  # an empty case defers its indexes; then a plain load
        writer = ExchangeWriter(store, None, batch=10, bulk=True)
        for n in range(30):
            writer.add(observed(n))
        writer.flush()
        assert writer.deferred is first_load
        assert page_cache(store) == (-DEFERRED_CACHE_KIB if first_load else -BULK_CACHE_KIB)
        writer.close()
        assert page_cache(store) == before
        recompute(store)
        assert page_cache(store) == before


def test_an_analysis_after_a_killed_load_does_not_keep_the_load_cache(store: Store) -> None:
    before = page_cache(store)
    with store.transaction():  # a killed bulk load's first write, then its indexes rebuilt
        assert bulk.defer_indexes(store)
    recompute(store)
    assert page_cache(store) == before
    writer = ExchangeWriter(store, None, batch=10)  # later batches insert into the indexes
    writer.add(observed(1))
    writer.flush()
    assert page_cache(store) == -BULK_CACHE_KIB
    writer.close()
    assert page_cache(store) == before
