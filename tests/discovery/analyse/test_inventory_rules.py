"""Inventory behaviours other tools get wrong, table by table: hosts never merge, a new method on
a documented path is shadow, documented literals beat parameters, parameter schemas narrow a
match, paths are normalised (the original kept), and the user's pins and forbidden merges win."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.analyse.inventory import explain_request
from discovery.analyse.matching import HostMatcher, Operation
from discovery.analyse.recompute import recompute
from discovery.analyse.specs import import_spec_file
from discovery.analyse.templating import load_rules, rules_path
from discovery.case.store import Store
from discovery.errors import InputError
from discovery.wire.paths import normalise_path
from tests.conftest import make_exchange
from tests.paths import FIXTURES

SPECS = FIXTURES / "specs"
SHOP = "api.shop.example"

# nine levels of ten aliases each: 10**9 nodes once expanded
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n"
    for i in range(8)
)


def endpoints(store: Store, host: str) -> dict[tuple[str, str], str]:
    return {
        (m, t): s
        for m, t, s in store.conn.execute(
            "SELECT method, template, status FROM endpoints WHERE host = ?", (host,)
        )
    }


def test_the_same_paths_on_two_hosts_never_merge(store: Store) -> None:
    tenants = [f"tenant{c}{d}" for c in "abcdefghij" for d in "xyz"]  # 30 words
    store.add_exchanges(
        [make_exchange(host="a.example", path=f"/orgs/{t}") for t in tenants]
        + [make_exchange(host="b.example", path=f"/orgs/{t}") for t in tenants[:2]]
    )
    recompute(store)
    assert set(endpoints(store, "a.example")) == {("GET", "/orgs/{param}")}  # cardinality
    assert set(endpoints(store, "b.example")) == {("GET", f"/orgs/{t}") for t in tenants[:2]}


def test_a_new_method_on_a_documented_path_is_shadow_and_says_so(store: Store) -> None:
    store.add_exchanges(
        [
            make_exchange(host=SHOP, path="/v1/users/7", method="PATCH"),
            make_exchange(host=SHOP, path="/v1/users/7"),
        ]
    )
    import_spec_file(store, SPECS / "shop-3.0.yaml")
    rows = endpoints(store, SHOP)
    assert rows[("PATCH", "/v1/users/{id}")] == "shadow"
    assert rows[("GET", "/v1/users/{id}")] == "documented"
    why = explain_request(store, SHOP, "PATCH", "/v1/users/7")
    assert why["status"] == "shadow" and "not for PATCH" in why["reason"]


def op(template: str, schema: dict[str, str] | None = None, name: str = "id") -> Operation:
    params = ({"name": name, "in": "path", "schema": schema},) if schema is not None else ()
    return Operation(
        id=1,
        host="h",
        method="GET",
        template=template,
        deprecated=False,
        security=None,
        scopes=(),
        spec_title="t",
        parameters=params,
    )


@pytest.mark.parametrize(
    ("operations", "path", "template"),
    [
        ([op("/users/{id}"), op("/users/me")], "/users/me", "/users/me"),  # literal wins
        ([op("/users/me"), op("/users/{id}")], "/users/42", "/users/{id}"),
        ([op("/users/{id}", {"type": "integer"})], "/users/me", None),  # integer is not "me"
        ([op("/users/{id}", {"type": "integer"})], "/users/42", "/users/{id}"),
        ([op("/files/{name}.json", {})], "/files/report.json", "/files/{name}.json"),
        ([op("/files/{name}.json", {})], "/files/report.xml", None),
        ([op("/a/{x}/b", {}, "x"), op("/a/c/{y}", {}, "y")], "/a/c/b", "/a/c/{y}"),  # literal first
        ([op("/a/{x}/b", {}, "x"), op("/a/c/d")], "/a/c/b", "/a/{x}/b"),  # backtracks
        (
            [op("/items/{id}", {"type": "string", "format": "uuid"})],
            "/items/550e8400-e29b-41d4-a716-446655440000",
            "/items/{id}",
        ),
        ([op("/items/{id}", {"type": "string", "format": "uuid"})], "/items/42", None),
    ],
)
def test_documented_matching(operations: list[Operation], path: str, template: str | None) -> None:
    assert HostMatcher("h", operations).match_path(path) == template


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/v1//users/42/", "/v1/users/42"),
        ("/v1/./users/../users/42", "/v1/users/42"),
        ("/v1/%75sers/42", "/v1/users/42"),  # unreserved escape decoded
        ("/v1/users/%2e%2e/admin", "/v1/admin"),  # escaped dot segment resolved
        ("/v1/a%2Fb", "/v1/a%2Fb"),  # an escaped slash stays one segment
    ],
)
def test_paths_are_normalised(raw: str, normal: str) -> None:
    assert normalise_path(raw) == normal


def test_normalised_paths_share_an_endpoint_and_keep_the_original(store: Store) -> None:
    store.add_exchanges(
        [
            make_exchange(host=SHOP, path="/v1/users/42", raw_path="/v1//users/42/"),
            make_exchange(host=SHOP, path="/v1/users/43", raw_path="/v1/users/43"),
        ]
    )
    import_spec_file(store, SPECS / "shop-3.0.yaml")
    raws = [
        r
        for (r,) in store.conn.execute(
            "SELECT e.raw_path FROM exchanges e JOIN endpoints ep ON ep.id = e.endpoint_id "
            "WHERE ep.template = '/v1/users/{id}' ORDER BY e.id"
        )
    ]
    assert raws == ["/v1//users/42/", "/v1/users/43"]


def test_pins_and_forbidden_merges(store: Store, case_path: Path) -> None:
    regions = [f"region{c}{d}" for c in "abcdefg" for d in "xyz"]  # 21 > threshold 20
    store.add_exchanges(
        [make_exchange(path=f"/v1/regions/{r}") for r in regions]
        + [
            make_exchange(path="/v1/orgs/acme/reports/summary"),
            make_exchange(path="/v1/orgs/globex/reports/daily"),
        ]
    )
    recompute(store)
    templates = {t for (_m, t) in endpoints(store, "api.example.com")}
    assert "/v1/regions/{param}" in templates
    rules_path(case_path).write_text(
        "threshold: 50\n"
        "pins:\n  - {host: api.example.com, template: '/v1/orgs/{org}/reports/{name}'}\n"
        "forbid_merge:\n  - {parent: /v1/regions}\n"
    )
    recompute(store)
    templates = {t for (_m, t) in endpoints(store, "api.example.com")}
    assert "/v1/orgs/{org}/reports/{name}" in templates
    assert "/v1/regions/regionax" in templates and "/v1/regions/{param}" not in templates
    why = explain_request(store, "api.example.com", "GET", "/v1/orgs/acme/reports/summary")
    assert why["source"] == "pinned" and why["rules_file"] == str(rules_path(case_path))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("threshold: 1\n", "/threshold"),
        ("pins:\n  - {template: no-slash}\n", "/pins/0"),
        ("colour: red\n", "/colour"),
        ("pins: [\n", "line 2"),
        (ALIAS_BOMB, "line 1"),  # a billion laughs: refused, never expanded
        ("pins: " + "[" * 200 + "]" * 200 + "\n", "line 1"),
    ],
)
def test_a_broken_rules_file_names_the_place(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "case.db.templates.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_rules(path)
    assert info.value.where == where and str(path) in str(info.value)
