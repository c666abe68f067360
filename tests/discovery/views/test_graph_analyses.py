"""The graph built from a hand-built case, and its analyses, against answers worked out by hand
(see tests/discovery/casebuilder.py for the case)."""

from __future__ import annotations

import pytest

from discovery.case.blocklist import block_credential, block_endpoint
from discovery.case.store import Store
from discovery.errors import SubjectNotFound, UnsupportedSubject
from discovery.views.graph import analyses
from discovery.views.graph.build import build_graph, node_for, privileged_reasons
from discovery.views.subjects import resolve_subject
from tests.discovery.casebuilder import (
    ADMIN,
    API,
    AWS_IDENTITY,
    BILLING,
    EXPORT,
    INVOICES,
    JWT_IDENTITY,
    ORPHAN,
    USERS,
    SmallCase,
    build_small_case,
)

A_CLIENT, B_CLIENT, C_CLIENT = "10.0.0.5", "10.0.0.6", "10.0.0.7"


@pytest.fixture
def small(store: Store) -> SmallCase:
    return build_small_case(store)


def node(store: Store, text: str) -> str:
    return node_for(resolve_subject(store, text))


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


def test_graph_has_the_case_nodes_edges_and_attributes(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    kinds: dict[str, int] = {}
    for _, _, key in g.edges(keys=True):
        kinds[key] = kinds.get(key, 0) + 1
    assert kinds == {"HOLDS": 4, "CALLS": 6, "PART_OF": 5, "PRESENTS": 4}
    types: dict[str, int] = {}
    for _, a in g.nodes(data=True):
        types[a["type"]] = types.get(a["type"], 0) + 1
    # the unauthenticated client 10.0.0.9 presented nothing: it is not a graph node
    assert types == {"identity": 4, "credential": 4, "client": 3, "endpoint": 5, "service": 2}
    assert g.has_edge(f"identity:{JWT_IDENTITY}", f"credential:{small.a}", "HOLDS")
    assert g.has_edge(f"client:{A_CLIENT}", f"credential:{small.d}", "PRESENTS")
    assert g.has_edge(f"credential:{small.c}", f"endpoint:{ADMIN}", "CALLS")
    assert g.has_edge(f"endpoint:{INVOICES}", f"service:{BILLING}", "PART_OF")
    export = g.nodes[f"endpoint:{EXPORT}"]
    assert (export["status"], export["sensitive_kinds"], export["privileged"]) == (
        "shadow",
        ["email"],
        True,
    )
    assert (export["credentials"], export["clients"], export["requests"]) == (2, 1, 2)
    assert g.nodes[f"endpoint:{USERS}"]["privileged"] is False
    api = g.nodes[f"service:{API}"]
    assert (api["endpoints"], api["documented"], api["shadow"], api["zombie"], api["orphan"]) == (
        4,
        1,
        1,
        1,
        1,
    )
    cred = g.nodes[f"credential:{small.a}"]
    assert (cred["requests"], cred["endpoints"], cred["clients"], cred["blocked"]) == (
        3,
        2,
        1,
        False,
    )
    assert cred["scopes"] == ["users:read"] and "fingerprint" not in cred
    calls = g.get_edge_data(f"credential:{small.a}", f"endpoint:{USERS}", "CALLS")
    assert (calls["requests"], calls["successes"], calls["clients"]) == (2, 2, 1)
    assert g.nodes[f"identity:{JWT_IDENTITY}"]["label"] == "billing-service"
    assert g.nodes["identity:register:ops-robot"]["registered"] is True


def test_blocklist_marks_nodes(store: Store, small: SmallCase) -> None:
    block_credential(store, small.c)
    block_endpoint(store, EXPORT)
    g = build_graph(store)
    assert g.nodes[f"credential:{small.c}"]["blocked"] is True
    assert g.nodes[f"credential:{small.a}"]["blocked"] is False
    assert g.nodes[f"endpoint:{EXPORT}"]["blocked"] is True


def test_blast_radius_of_a_credential(store: Store, small: SmallCase) -> None:
    result = analyses.blast_radius(build_graph(store), node(store, small.a))
    assert ids(result["endpoints"]) == [EXPORT, USERS]
    assert [s["host"] for s in result["services"]] == [API]
    assert (result["shadow"], result["zombie"], result["privileged"]) == ([EXPORT], [], [EXPORT])
    assert result["sensitive_kinds"] == ["email"]
    assert [(c["address"], c["credentials"]) for c in result["clients"]] == [(A_CLIENT, [small.a])]
    # requests made with the credential: per endpoint it reached and per client that presented it
    calls = {r["id"]: r["calls"] for r in result["endpoints"]}
    assert sum(calls.values()) == result["clients"][0]["requests"] > 0
    for row in result["endpoints"]:
        assert 0 < row["calls"] <= row["requests"]
    assert [(c["id"], c["clients"]) for c in result["co_credentials"]] == [(small.d, [A_CLIENT])]
    assert ids(result["identities"]) == [JWT_IDENTITY]


def test_blast_radius_of_an_identity_covers_all_it_holds(store: Store, small: SmallCase) -> None:
    result = analyses.blast_radius(build_graph(store), node(store, "billing-service"))
    assert sorted(ids(result["credentials"])) == sorted([small.a, small.b])
    assert ids(result["endpoints"]) == [EXPORT, USERS, INVOICES]
    assert sorted(s["host"] for s in result["services"]) == [API, BILLING]
    assert [c["address"] for c in result["clients"]] == [A_CLIENT, B_CLIENT]
    assert ids(result["co_credentials"]) == [small.d]
    via = {r["id"]: r["via"] for r in result["endpoints"]}
    assert via[INVOICES] == [small.b]


def test_blast_radius_of_a_client_and_of_the_wrong_kind(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    result = analyses.blast_radius(g, node(store, A_CLIENT))
    assert sorted(ids(result["credentials"])) == sorted([small.a, small.d])
    assert result["co_credentials"] == []
    with pytest.raises(UnsupportedSubject):
        analyses.blast_radius(g, node(store, USERS))
    with pytest.raises(SubjectNotFound):
        analyses.blast_radius(g, "credential:c-000000000000")


def test_exposure_of_an_endpoint_and_a_service(store: Store, small: SmallCase) -> None:
    block_credential(store, small.c)
    g = build_graph(store)
    users = analyses.exposure(g, node(store, USERS))
    assert sorted(ids(users["credentials"])) == sorted([small.a, small.c])
    assert [i["id"] for i in users["identities"]] == [AWS_IDENTITY, JWT_IDENTITY]
    assert users["clients"] == [A_CLIENT, C_CLIENT]
    assert users["unblocked_credentials"] == [small.a]
    calls = {c["id"]: c["calls"] for c in users["credentials"]}
    assert calls == {small.a: 2, small.c: 1}
    api = analyses.exposure(g, node(store, API))
    assert ids(api["endpoints"]) == [ORPHAN, EXPORT, USERS, ADMIN]
    assert sorted(ids(api["credentials"])) == sorted([small.a, small.c, small.d])
    assert api["summary"]["identities"] == 3
    orphan = analyses.exposure(g, node(store, ORPHAN))
    assert orphan["summary"] == {
        "endpoints": 0,
        "credentials": 0,
        "identities": 0,
        "clients": 0,
        "unblocked_credentials": 0,
    }


def test_paths_from_an_identity_to_risky_endpoints(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    found = analyses.paths(g, node(store, "billing-service"))
    assert [p["target"]["id"] for p in found] == [EXPORT]  # users and invoices are not risky
    (only,) = found
    assert [[n["id"] for n in p["nodes"]] for p in only["paths"]] == [
        [JWT_IDENTITY, small.a, EXPORT]
    ]
    assert only["paths"][0]["edges"] == ["HOLDS", "CALLS"]
    assert "sensitive data: email" in only["why"] and "shadow endpoint" in only["why"]
    assert any("internal" in why for why in only["why"])
    aws = analyses.paths(g, node(store, AWS_IDENTITY))
    assert [p["target"]["id"] for p in aws] == [ADMIN]
    to_api = analyses.paths(g, node(store, "billing-service"), node(store, API))
    assert sorted(p["nodes"][2]["id"] for p in to_api[0]["paths"]) == [EXPORT, USERS]
    assert analyses.paths(g, node(store, "billing-service"), node(store, ADMIN)) == []


def test_choke_points_rank_by_cut_reach(store: Store, small: SmallCase) -> None:
    top = analyses.choke_points(build_graph(store), top=3)
    assert [(r["type"], r["id"]) for r in top] == [
        ("credential", small.c),
        ("credential", small.a),
        ("client", A_CLIENT),
    ]
    by_id = {r["id"]: r for r in top}
    assert (by_id[small.c]["cut_pairs"], by_id[small.c]["cut_sensitive"]) == (4, 2)
    assert by_id[small.c]["exclusive"] == [ADMIN]
    assert (by_id[small.a]["cut_pairs"], by_id[small.a]["exclusive"]) == (3, [])
    assert by_id[A_CLIENT]["exclusive"] == [EXPORT]


def test_what_if_removing_a_credential(store: Store, small: SmallCase) -> None:
    result = analyses.what_if(build_graph(store), [node(store, small.a)])
    (ident,) = result["identities"]
    assert (ident["id"], ident["before"], ident["after"]) == (JWT_IDENTITY, 3, 1)
    assert ident["lost"] == [EXPORT, USERS]
    assert ids(ident["still_reaches"]) == [INVOICES]
    (client,) = result["clients"]
    assert (client["id"], client["lost"], ids(client["still_reaches"])) == (
        A_CLIENT,
        [USERS],
        [EXPORT],
    )
    rows = {e["id"]: e for e in result["endpoints"]}
    assert rows[USERS]["exposure_before"] == {"credential": 2, "identity": 2, "client": 2}
    assert rows[USERS]["exposure_after"] == {"credential": 1, "identity": 1, "client": 1}
    assert result["summary"]["endpoints_unreached"] == 0


def test_what_if_removing_an_identity_or_the_only_caller(store: Store, small: SmallCase) -> None:
    g = build_graph(store)
    result = analyses.what_if(g, [node(store, "billing-service")])
    assert result["credentials_removed"] == sorted([small.a, small.b])
    assert result["identities"][0]["after"] == 0
    unreached = [e["id"] for e in result["endpoints"] if e["unreached"]]
    assert unreached == [INVOICES]
    only_c = analyses.what_if(g, [node(store, small.c)])
    assert [e["id"] for e in only_c["endpoints"] if e["unreached"]] == [ADMIN]
    with pytest.raises(UnsupportedSubject):
        analyses.what_if(g, [node(store, USERS)])


@pytest.mark.parametrize(
    ("method", "template", "scopes", "expected"),
    [
        ("GET", "/v1/users/{id}", [], []),
        ("POST", "/v1/admin/keys", [], ["path segment 'admin'", "path segment 'keys'"]),
        ("GET", "/internal/export", [], ["path segment 'internal'"]),
        ("GET", "/v1/administrators", [], []),  # words, not substrings
        ("GET", "/v1/orders", ["orders:write"], ["spec scope 'orders:write'"]),
        ("GET", "/v1/orders", ["orders:read", "rewrite"], []),
        ("DELETE", "/v1/users/{id}", ["admin"], ["spec scope 'admin'"]),
    ],
)
def test_privileged_reasons(
    method: str, template: str, scopes: list[str], expected: list[str]
) -> None:
    assert privileged_reasons(method, template, scopes) == expected


def test_focused_graphs_give_the_same_answers(store: Store, small: SmallCase) -> None:
    from discovery.views.graph import focus

    full = build_graph(store)
    texts = [
        small.a,
        small.b,
        small.c,
        small.d,
        "billing-service",
        AWS_IDENTITY,
        f"cred:{small.d}",
        "ops-robot",
        A_CLIENT,
        B_CLIENT,
        C_CLIENT,
        USERS,
        EXPORT,
        ADMIN,
        INVOICES,
        ORPHAN,
        API,
        BILLING,
    ]
    sources = ("credential", "identity", "client")
    for text in texts:
        subject = resolve_subject(store, text)
        target = node_for(subject)
        exposure_graph = build_graph(store, focus.for_exposure(store, subject))
        assert analyses.exposure(exposure_graph, target) == analyses.exposure(full, target), text
        if subject.type not in sources:
            continue
        blast = build_graph(store, focus.for_blast_radius(store, subject))
        assert analyses.blast_radius(blast, target) == analyses.blast_radius(full, target), text
        paths_graph = build_graph(store, focus.for_paths(store, subject))
        assert analyses.paths(paths_graph, target) == analyses.paths(full, target), text
        what = build_graph(store, focus.for_what_if(store, [subject]))
        assert analyses.what_if(what, [target]) == analyses.what_if(full, [target]), text
    # a focus loads only what it names
    one = build_graph(store, focus.for_paths(store, resolve_subject(store, small.b)))
    assert [n for n, a in one.nodes(data=True) if a["type"] == "credential"] == [
        f"credential:{small.b}"
    ]
    assert not [
        n
        for n, a in build_graph(store, []).nodes(data=True)
        if a["type"] in ("credential", "client")
    ]
