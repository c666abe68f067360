"""Each templating rule on a small case made from real APIs' path shapes (Stripe, Slack, Twilio,
Spotify, GitHub, Kubernetes, Xero, Petstore): the failures of a global cardinality count, typed
values, word-valued parameters, and the spec-side cases (slash-spanning parameters, masked routes,
same-shape operations). No corpus needed: every path is written here."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from discovery.analyse.findings import recompute_findings
from discovery.analyse.inventory import explain_request
from discovery.analyse.recompute import recompute
from discovery.analyse.specs import import_spec_file
from discovery.analyse.templating import HostTemplater, TemplateRules, classify_segment
from discovery.case.store import Store
from tests.conftest import make_exchange

RNG = random.Random(5)
B62 = string.ascii_letters + string.digits


def b62(n: int) -> str:
    return "".join(RNG.choice(B62) for _ in range(n))


def hexs(n: int) -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(n))


def learned(paths: list[str] | list[tuple[str, str]], **rules: int) -> HostTemplater:
    t = HostTemplater("h", TemplateRules(**rules))
    for item in paths:
        method, path = item if isinstance(item, tuple) else ("GET", item)
        t.add(path, 1, method)
    t.finish()
    return t


# ------------------------------------------------------------------ typed values


@pytest.mark.parametrize(
    ("value", "rule", "template"),
    [
        ("cus_NffrFeUfNV2Hib", "prefixed-id", "{id}"),
        ("cus_NffrFeUfNVwHib", "prefixed-id", "{id}"),  # no digit in the body
        ("pi_3MtwBwLkdIwHu7ix28a3tqPa", "prefixed-id", "{id}"),
        ("sub_sched_1Mr3YcLkdIwHu7ixYYGMpqBb", "prefixed-id", "{id}"),
        ("payment_method_configurations", "word", None),  # snake_case words stay literal
        ("AC" + "0123456789abcdef" * 2, "prefixed-hex", "{sid}"),
        ("SM" + "fedcba9876543210" * 2 + ".json", "prefixed-hex", "{sid}.json"),  # suffix kept
        ("Messages.json", "word", None),
        ("4aawyAB9vmqN3uQ7FjRGTy", "random-id", "{id}"),  # 22-character base62
        ("0TnOYISbd1XYRBk9myaseg", "random-id", "{id}"),
        ("nginx-deployment-66b6c48dd5-4jw2p", "generated-name", "{name}"),
        ("kube-proxy-x7k2m", "generated-name", "{name}"),
        ("web-6dmq9vghcq", "generated-name", "{name}"),  # a ReplicaSet's pod-template hash
        ("kube-system", "word", None),
        ("2010-04-01", "date", "{date}"),  # a date on its own; context decides (below)
        ("chat.postMessage", "word", None),
        ("42.json", "integer", "{id}.json"),
        ("customers.csv", "word", None),  # a word's file stays literal
        ("api.xro", "word", None),
        ("2.0", "version", None),
    ],
)
def test_typed_recognisers(value: str, rule: str, template: str | None) -> None:
    kind = classify_segment(value)
    assert kind.rule == rule
    assert (kind.template if kind.param else None) == template


def test_a_dated_version_segment_stays_literal_and_a_date_value_does_not() -> None:
    sid = "AC" + hexs(32)
    t = learned(
        [f"/2010-04-01/Accounts/{sid}/Messages/SM{hexs(32)}.json" for _ in range(4)]
        + [f"/2010-04-01/Accounts/{sid}/Calls.json", f"/2010-04-01/Accounts/{sid}.json"]
        + [f"/v1/reports/daily/2026-01-{d:02d}" for d in (3, 4, 5)]
    )
    path = f"/2010-04-01/Accounts/{sid}/Messages/SM{hexs(32)}.json"
    assert t.template(path) == "/2010-04-01/Accounts/{sid}/Messages/{sid2}.json"
    assert t.template(f"/2010-04-01/Accounts/{sid}.json") == "/2010-04-01/Accounts/{sid}.json"
    first = t.explain(path).decisions[0]
    assert first.kind == "literal" and first.rule == "dated-version"
    assert t.template("/v1/reports/daily/2026-02-01") == "/v1/reports/daily/{date}"


# ------------------------------------------------------------------ names stay names


def test_resource_names_under_a_version_never_merge_nor_pool_their_subtrees() -> None:
    """Stripe: many resource names under /v1, each with its own ids and sub-collections."""
    names = {
        "customers": "cus",
        "charges": "ch",
        "invoices": "in",
        "payment_intents": "pi",
        "subscriptions": "sub",
        "prices": "price",
        "products": "prod",
        "refunds": "re",
        "disputes": "dp",
        "payouts": "po",
        "transfers": "tr",
        "coupons": "co",
        "events": "evt",
        "files": "file",
        "quotes": "qt",
        "topups": "tu",
        "tax_rates": "txr",
        "plans": "plan",
        "sources": "src",
        "tokens": "tok",
        "accounts": "acct",
        "reviews": "prv",
    }
    paths = [f"/v1/{n}/{p}_{b62(14)}" for n, p in names.items() for _ in range(3)]
    paths += [f"/v1/customers/cus_{b62(14)}/payment_methods" for _ in range(3)]
    paths += [f"/v1/customers/cus_{b62(14)}/tax_ids/txi_{b62(14)}" for _ in range(2)]
    paths += ["/v1/customers/search", "/v1/balance", "/v1/account"]
    t = learned(paths)
    assert t.template(f"/v1/charges/ch_{b62(14)}") == "/v1/charges/{id}"
    assert (
        t.template(f"/v1/customers/cus_{b62(14)}/payment_methods")
        == "/v1/customers/{id}/payment_methods"
    )
    assert (
        t.template(f"/v1/customers/cus_{b62(14)}/tax_ids/txi_{b62(14)}")
        == "/v1/customers/{id}/tax_ids/{id2}"
    )
    assert t.template("/v1/customers/search") == "/v1/customers/search"
    assert t.explain("/v1/balance").decisions[1].kind == "literal"


def test_method_names_under_an_api_prefix_stay_literal() -> None:
    """Slack: dozens of dotted method names, each its own endpoint, many called once."""
    methods = [
        f"{noun}.{verb}"
        for noun in ("chat", "conversations", "users", "files", "reactions", "pins")
        for verb in ("list", "info", "postMessage", "delete", "update", "history")
    ]
    t = learned([("POST", f"/api/{m}") for m in methods])
    assert {t.template(f"/api/{m}") for m in methods} == {f"/api/{m}" for m in methods}


def test_actions_beside_items_stay_literal() -> None:
    """Petstore: usernames are items (several methods each); login and logout are actions."""
    users = ["theUser", "user1", "user2", "jdoe", "alice", "bob", "carol", "dave99"]
    paths: list[tuple[str, str]] = [(m, f"/api/v3/user/{u}") for u in users for m in ("GET", "PUT")]
    paths += [("DELETE", f"/api/v3/user/{u}") for u in users[:4]]
    paths += [("GET", "/api/v3/user/login")] * 30 + [("GET", "/api/v3/user/logout")] * 20
    paths += [("POST", "/api/v3/user/createWithList")] * 5
    t = learned(paths)
    assert t.template("/api/v3/user/erin") == "/api/v3/user/{param}"
    assert t.template("/api/v3/user/theUser") == "/api/v3/user/{param}"
    for action in ("login", "logout", "createWithList"):
        assert t.template(f"/api/v3/user/{action}") == f"/api/v3/user/{action}"


# ------------------------------------------------------------------ word-valued parameters


def test_namespaces_share_a_subtree_and_become_one_parameter() -> None:
    """Kubernetes: 12 namespaces, each with the same resources below; pods named both ways."""
    namespaces = [
        "default",
        "kube-system",
        "kube-public",
        "monitoring",
        "prod",
        "staging",
        "dev",
        "team-a",
        "payments",
    ]
    paths = []
    for ns in namespaces:
        for _ in range(3):
            pod = f"nginx-{''.join(RNG.choice('bcdfghjklmnpqrstvwxz2456789') for _ in range(10))}-4x2z9"
            paths.append(f"/api/v1/namespaces/{ns}/pods/{pod}")
        paths.append(f"/api/v1/namespaces/{ns}/services/redis-master")
        paths.append(f"/api/v1/namespaces/{ns}/pods/coredns/log")
    t = learned(paths)
    assert (
        t.template("/api/v1/namespaces/payments/pods/nginx-66b6c48dd5-4jw2p")
        == "/api/v1/namespaces/{param}/pods/{name}"
    )
    explained = t.explain("/api/v1/namespaces/prod/services/redis-master")
    assert explained.decisions[3].rule == "shared-subtree"
    assert "pods" in explained.decisions[3].reason


def test_items_of_a_collection_after_a_parameter_are_values_even_once() -> None:
    """Twilio: country codes under AvailablePhoneNumbers, after the account parameter."""
    sid = "AC" + hexs(32)
    t = learned(
        [
            f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/US/Local.json",
            f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/GB/Mobile.json",
            f"/2010-04-01/Accounts/{sid}/Messages.json",
            f"/2010-04-01/Accounts/{sid}/Messages.json",
            f"/2010-04-01/Accounts/{sid}/Calls.json",
        ]
    )
    assert (
        t.template(f"/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/DE/Local.json")
        == "/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{param}/Local.json"
    )


def test_usernames_seen_under_several_routes_merge_and_sub_collection_names_do_not() -> None:
    """GitHub: owners and repositories (words) with the same sub-routes below them."""
    owners = ["octocat", "torvalds", "rails", "gaearon", "sindresorhus", "nodejs"]
    repos = ["hello-world", "linux", "react", "dotfiles", "express"]
    subs = ["issues", "pulls", "commits", "branches", "releases"]
    paths = [f"/repos/{o}/{RNG.choice(repos)}/{RNG.choice(subs)}" for o in owners for _ in range(4)]
    t = learned(paths)
    assert t.template("/repos/torvalds/linux/issues") == "/repos/{param}/{param2}/issues"
    assert t.template("/repos/rails/dotfiles/pulls") == "/repos/{param}/{param2}/pulls"


# ------------------------------------------------------------------ with a spec

SPEC = """
openapi: 3.0.3
info: {title: Real shapes, version: "1"}
servers: [{url: "https://api.example.com"}]
paths:
  /repos/{owner}/{repo}/git/ref/{ref}:
    get:
      parameters:
        - {name: owner, in: path, required: true, schema: {type: string}}
        - {name: repo, in: path, required: true, schema: {type: string}}
        - {name: ref, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
  /api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}:
    get:
      parameters:
        - {name: namespace, in: path, required: true, schema: {type: string}}
        - {name: name, in: path, required: true, schema: {type: string}}
        - {name: path, in: path, required: true, schema: {type: string}}
      responses: {"200": {description: ok}}
  /v1/payment_intents/{intent}:
    get:
      parameters: [{name: intent, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
  /v1/customers/search:
    get: {responses: {"200": {description: ok}}}
  /Journals/{JournalID}:
    get:
      parameters:
        - {name: JournalID, in: path, required: true, schema: {type: string, format: uuid}}
      responses: {"200": {description: ok}}
  /Journals/{JournalNumber}:
    get:
      deprecated: true
      parameters:
        - {name: JournalNumber, in: path, required: true, schema: {type: integer}}
      responses: {"200": {description: ok}}
  /api/chat.postMessage:
    post: {responses: {"200": {description: ok}}}
"""
HOST = "api.example.com"


@pytest.fixture
def with_spec(store: Store, tmp_path: Path) -> Store:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    import_spec_file(store, spec)
    return store


def _rows(store: Store) -> dict[tuple[str, str], str]:
    return {
        (m, t): s
        for m, t, s in store.conn.execute(
            "SELECT method, template, status FROM endpoints WHERE host = ? AND requests > 0",
            (HOST,),
        )
    }


def _add(store: Store, *items: tuple[str, str]) -> None:
    store.add_exchanges([make_exchange(host=HOST, method=m, path=p) for m, p in items])
    recompute(store)


def test_a_final_parameter_spans_slashes_where_the_spec_allows(with_spec: Store) -> None:
    _add(
        with_spec,
        ("GET", "/repos/octocat/hello-world/git/ref/heads/main"),
        ("GET", "/repos/octocat/hello-world/git/ref/tags/v1.2.3"),
        ("GET", "/api/v1/namespaces/default/pods/web-0/proxy/api/v1/status"),
    )
    rows = _rows(with_spec)
    assert rows[("GET", "/repos/{owner}/{repo}/git/ref/{ref}")] == "documented"
    assert rows[("GET", "/api/v1/namespaces/{namespace}/pods/{name}/proxy/{path}")] == "documented"
    why = explain_request(with_spec, HOST, "GET", "/repos/octocat/hello-world/git/ref/heads/main")
    assert why["segments"][-1]["segment"] == "heads/main"
    assert "spanning slashes" in why["segments"][-1]["reason"]


def test_a_word_where_ids_go_is_a_masked_route_with_a_finding(with_spec: Store) -> None:
    ids = [("GET", f"/v1/payment_intents/pi_{b62(24)}") for _ in range(5)]
    _add(with_spec, *ids, ("GET", "/v1/payment_intents/search"), ("GET", "/v1/customers/search"))
    rows = _rows(with_spec)
    assert rows[("GET", "/v1/payment_intents/{intent}")] == "documented"
    assert rows[("GET", "/v1/payment_intents/search")] == "shadow"
    why = explain_request(with_spec, HOST, "GET", "/v1/payment_intents/search")
    assert why["masked_by"] == "/v1/payment_intents/{intent}"
    assert why["segments"][-1]["rule"] == "masked-route"
    recompute_findings(with_spec)
    (evidence,) = [
        json.loads(e)
        for (e,) in with_spec.conn.execute(
            "SELECT evidence FROM findings WHERE rule = 'masked_route'"
        )
    ]
    assert evidence["masked_by"] == "/v1/payment_intents/{intent}"
    assert evidence["template"] == "/v1/payment_intents/search"


def test_same_shape_operations_are_kept_apart_by_their_schemas(with_spec: Store) -> None:
    _add(
        with_spec,
        ("GET", "/Journals/550e8400-e29b-41d4-a716-446655440000"),
        ("GET", "/Journals/42"),
    )
    rows = _rows(with_spec)
    assert rows[("GET", "/Journals/{JournalID}")] == "documented"
    assert rows[("GET", "/Journals/{JournalNumber}")] == "zombie"  # its own deprecation
    why = explain_request(with_spec, HOST, "GET", "/Journals/42")
    assert why["template"] == "/Journals/{JournalNumber}" and why["deprecated"] is True


def test_undocumented_methods_on_a_documented_host_stay_literal(with_spec: Store) -> None:
    """Slack: one method documented, the others not: never one POST /api/{param}."""
    others = [f"{n}.{v}" for n in ("conversations", "users", "files") for v in ("list", "info")]
    _add(with_spec, ("POST", "/api/chat.postMessage"), *[("POST", f"/api/{m}") for m in others])
    rows = _rows(with_spec)
    assert rows[("POST", "/api/chat.postMessage")] == "documented"
    assert {t for (_m, t), s in rows.items() if s == "shadow" and t.startswith("/api/")} == {
        f"/api/{m}" for m in others
    }


def test_every_decision_is_explained_and_pins_still_win(store: Store, case_path: Path) -> None:
    namespaces = ["default", "kube-system", "monitoring", "prod", "staging"]
    store.add_exchanges(
        [
            make_exchange(path=f"/api/v1/namespaces/{ns}/{kind}/web")
            for ns in namespaces
            for kind in ("pods", "services")
        ]
    )
    recompute(store)
    why = explain_request(store, "api.example.com", "GET", "/api/v1/namespaces/prod/pods/web")
    assert why["template"] == "/api/v1/namespaces/{param}/pods/{param2}"
    assert why["segments"][5]["rule"] == "collection-item"  # {namespace}/pods/{name}
    assert all(s["rule"] and s["reason"] for s in why["segments"])
    (case_path.parent / (case_path.name + ".templates.yaml")).write_text(
        "pins:\n  - {template: '/api/v1/namespaces/{ns}/pods/{pod}'}\n"
    )
    recompute(store)
    why = explain_request(store, "api.example.com", "GET", "/api/v1/namespaces/prod/pods/web")
    assert why["template"] == "/api/v1/namespaces/{ns}/pods/{pod}" and why["source"] == "pinned"
