"""Inventory: spec import + exchanges -> classified endpoints, orphans, 404-only paths left out."""

from __future__ import annotations

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
