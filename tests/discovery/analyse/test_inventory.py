"""Inventory: spec import + exchanges -> classified endpoints, orphans, 404-only paths left out."""

from __future__ import annotations

import sqlite3

import pytest

from discovery.analyse.inventory import _one_transaction, rebuild_endpoints
from discovery.analyse.specs import import_spec_file
from discovery.case.store import Store
from tests.conftest import make_exchange
from tests.paths import FIXTURES

SPECS = FIXTURES / "specs"


def test_spec_plus_traffic_classifies_endpoints(store: Store) -> None:
    host = "api.shop.example"
    store.add_exchanges(
        [
            make_exchange(host=host, path="/v1/users/42"),
            make_exchange(host=host, path="/v1/users/me"),
            make_exchange(host=host, path="/v1/users/7", method="PATCH"),
            make_exchange(host=host, path="/v1/orders/A1"),
            make_exchange(host=host, path="/v1/admin", status=404),
            make_exchange(host="other.example", path="/a/1"),
        ]
    )
    import_spec_file(store, SPECS / "shop-3.0.yaml")
    rows = {
        (m, t): s
        for m, t, s in store.conn.execute(
            "SELECT method, template, status FROM endpoints WHERE host = ?", (host,)
        )
    }
    assert rows[("GET", "/v1/users/{id}")] == "documented"
    assert rows[("GET", "/v1/users/me")] == "documented"
    assert rows[("PATCH", "/v1/users/{id}")] == "shadow"
    assert rows[("GET", "/v1/orders/{orderId}")] == "zombie"
    assert rows[("POST", "/v1/reports/export")] == "orphan"
    assert not any("admin" in t for _m, t in rows)
    other = store.conn.execute(
        "SELECT template, status FROM endpoints WHERE host = 'other.example'"
    ).fetchall()
    assert other == [("/a/{id}", "shadow")]


def test_an_endpoints_sensitive_kinds_sum_its_exchanges(store: Store) -> None:
    from discovery.analyse.recompute import recompute

    host = "api.acme.example"
    store.add_exchanges(
        [
            make_exchange(host=host, path="/v1/users/1", sensitive=(("email", 2),)),
            make_exchange(host=host, path="/v1/users/2", sensitive=(("email", 1), ("iban", 1))),
            make_exchange(host=host, path="/v1/users/3"),
            make_exchange(host=host, path="/v1/health", sensitive=(("jwt", 4),)),
        ]
    )
    recompute(store)
    rows = dict(
        store.conn.execute(
            "SELECT template, sensitive FROM endpoints WHERE host = ?", (host,)
        ).fetchall()
    )
    assert rows == {"/v1/users/{id}": '{"email":3,"iban":1}', "/v1/health": '{"jwt":4}'}


def _links(store: Store) -> list[tuple[int, int | None]]:
    return store.conn.execute("SELECT id, endpoint_id FROM exchanges ORDER BY id").fetchall()


def test_a_fresh_case_and_a_reanalysis_link_the_same_exchanges(store: Store) -> None:
    host = "api.shop.example"
    store.add_exchanges(
        [
            *[make_exchange(host=host, path=f"/v1/users/{i}") for i in range(30)],
            make_exchange(host=host, path="/v1/admin", status=404),  # route probing: no link
            make_exchange(host=host, method=None, path=None, raw_path=None, tls=True),  # opaque
        ]
    )
    rebuild_endpoints(store)  # fresh: nothing linked before
    fresh = _links(store)
    (users,) = store.conn.execute(
        "SELECT id FROM endpoints WHERE template = '/v1/users/{id}'"
    ).fetchone()
    assert fresh == [(i, users) for i in range(1, 31)] + [(31, None), (32, None)]
    # links left stale (an endpoint gone, an opaque exchange linked) are put right again
    store.conn.execute("UPDATE exchanges SET endpoint_id = 999")
    rebuild_endpoints(store)
    assert _links(store) == fresh


def test_a_failed_inventory_write_leaves_no_transaction_open(store: Store) -> None:
    conn = store.conn
    conn.execute("CREATE TEMP TABLE scratch(x)")
    with pytest.raises(sqlite3.IntegrityError), _one_transaction(conn):
        conn.execute("INSERT INTO temp.scratch VALUES (1)")
        conn.execute("INSERT INTO exchanges(id, source, evidence, ts) VALUES (NULL, NULL, '', 0)")
    assert not conn.in_transaction
    assert conn.execute("SELECT COUNT(*) FROM temp.scratch").fetchone() == (0,)
    with store.transaction():  # the next writer starts as usual
        store.set_meta("after", "1")


def _inventory(store: Store) -> list[tuple[object, ...]]:
    return store.conn.execute(
        "SELECT id, host, method, template, status, requests, first_seen, last_seen, statuses, "
        "explanation FROM endpoints ORDER BY id"
    ).fetchall()


def test_the_path_groups_are_read_once_unless_too_many_to_keep(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The templaters' pass keeps the (host, method, path) groups it read for the linking
    pass, so SQL groups and sorts the case's rows once; with more groups than it keeps, that
    pass reads them from SQL again. Either way the same endpoints and links."""
    from discovery.analyse import inventory

    store.add_exchanges(
        [
            *[
                make_exchange(host=host, path=f"/v1/users/{i}", ts=1_790_000_000.0 + i)
                for host in ("a.example", "b.example")
                for i in range(12)
            ],
            make_exchange(host="a.example", path="/v1/users/3", status=500, ts=1_790_000_100.0),
            make_exchange(host="a.example", path="/v1/admin", status=404),  # 404 only: probing
            make_exchange(host="b.example", path="/v1/orders/9", method="POST", status=None),
        ]
    )
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    rebuild_endpoints(store)
    store.conn.set_trace_callback(None)
    grouped = [s for s in statements if "GROUP BY host, method, path, status" in s]
    assert len(grouped) == 1
    kept, links = _inventory(store), _links(store)
    assert any(row[3] == "/v1/users/{id}" for row in kept)

    monkeypatch.setattr(inventory, "_GROUPS_KEPT", 3)
    store.conn.execute("DELETE FROM endpoints")
    store.conn.execute("UPDATE exchanges SET endpoint_id = NULL")
    statements.clear()
    store.conn.set_trace_callback(statements.append)
    rebuild_endpoints(store)
    store.conn.set_trace_callback(None)
    grouped = [s for s in statements if "GROUP BY host, method, path, status" in s]
    assert len(grouped) == 2
    assert _inventory(store) == kept
    assert _links(store) == links
