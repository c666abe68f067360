"""Inventory: spec import + exchanges -> classified endpoints, orphans, 404-only paths left out."""

from __future__ import annotations

from pathlib import Path

from discovery.specs import import_spec_file
from discovery.store import Store
from tests.conftest import make_exchange

SPECS = Path(__file__).parent.parent / "fixtures" / "specs"


def test_spec_plus_traffic_classifies_endpoints(store: Store) -> None:
    host = "api.shop.example"
    store.add_exchanges([
        make_exchange(host=host, path="/v1/users/42"),
        make_exchange(host=host, path="/v1/users/me"),
        make_exchange(host=host, path="/v1/users/7", method="PATCH"),
        make_exchange(host=host, path="/v1/orders/A1"),
        make_exchange(host=host, path="/v1/admin", status=404),
        make_exchange(host="other.example", path="/a/1"),
    ])
    import_spec_file(store, SPECS / "shop-3.0.yaml")
    rows = {(m, t): s for m, t, s in store.conn.execute(
        "SELECT method, template, status FROM endpoints WHERE host = ?", (host,))}
    assert rows[("GET", "/v1/users/{id}")] == "documented"
    assert rows[("GET", "/v1/users/me")] == "documented"
    assert rows[("PATCH", "/v1/users/{id}")] == "shadow"
    assert rows[("GET", "/v1/orders/{orderId}")] == "zombie"
    assert rows[("POST", "/v1/reports/export")] == "orphan"
    assert not any("admin" in t for _m, t in rows)
    other = store.conn.execute(
        "SELECT template, status FROM endpoints WHERE host = 'other.example'").fetchall()
    assert other == [("/a/{id}", "shadow")]
