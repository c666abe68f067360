"""GraphQL through the proxy: the strawberry server behind a real mitmdump running our addon,
called by httpx with two service identities (JWTs): one that reads and, once, writes; one that
only writes; an alias brute force, a hostile document and an introspection query. The proxy's
case holds each operation as an endpoint, and the GraphQL findings fire on what they should."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from discovery.views import queries
from tests.discovery.graphql.server import graphql_server
from tests.discovery.proxyfixtures import mitmdump
from tests.discovery.redact.credentials import tokens as t

pytestmark = pytest.mark.integration

T0 = 1_790_000_000


def _jwt(sub: str) -> str:
    return t.hs256_jwt({"iss": "https://auth.example.test", "sub": sub, "iat": T0, "exp": T0 + 600})


READER = _jwt("reporting-svc")
WRITER = _jwt("provisioning-svc")
CREATE = "mutation CreateUser($n: String!, $k: String!) { createUser(name: $n, apiKey: $k) { id } }"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str, Path]]:
    base = tmp_path_factory.mktemp("gqlproxy")
    case = base / "case.db"
    api_key = "gqk_" + secrets.token_hex(20)
    with (
        graphql_server() as server,
        mitmdump(base / "conf", "--set", f"irc_db={case}") as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
    ):

        def call(token: str, body: object) -> httpx.Response:
            return client.post(server.url, json=body, headers={"Authorization": f"Bearer {token}"})

        for i in range(25):  # the reporting service reads ...
            query = "query Report($id: ID!) { user(id: $id) { id name } }"
            assert call(READER, {"query": query, "variables": {"id": str(i % 3)}}).is_success
        # ... and once writes, with a key in its variables
        assert call(READER, {"query": CREATE, "variables": {"n": "x", "k": api_key}}).is_success
        for i in range(3):  # the provisioning service writes: that is its job
            assert call(WRITER, {"query": CREATE, "variables": {"n": f"u{i}", "k": "-"}})
        brute = " ".join(f'a{i}: user(id: "{i}") {{ id }}' for i in range(120))
        call(READER, {"query": f"query Enumerate {{ {brute} }}"})
        call(READER, {"query": "{ " + "user(id: 1) { " * 100 + "id" + " }" * 100 + " }"})
        call(WRITER, {"query": get_introspection_query()})
    with Store.open(case) as store:
        recompute(store)
        yield store, api_key, base


def _rules(store: Store) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in queries.findings(store):
        out.setdefault(f["rule"], []).append(f)
    return out


def test_operations_through_the_proxy(proxied: tuple[Store, str, Path]) -> None:
    store, api_key, base = proxied
    templates = {e["template"]: e for e in queries.endpoints(store)}
    assert templates["/graphql query Report"]["requests"] == 25
    assert templates["/graphql mutation CreateUser"]["requests"] == 4
    assert templates["/graphql query Enumerate"]["requests"] == 1
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in base.iterdir():
        if path.name.startswith("case.db"):
            assert api_key.encode() not in path.read_bytes(), path.name


def test_introspection_finding(proxied: tuple[Store, str, Path]) -> None:
    store, _key, _base = proxied
    (finding,) = _rules(store)["graphql_introspection_enabled"]
    assert finding["subject"]["type"] == "host"
    assert finding["evidence"]["answered"] == 1


def test_alias_and_nesting_abuse_finding(proxied: tuple[Store, str, Path]) -> None:
    store, _key, _base = proxied
    (finding,) = _rules(store)["graphql_query_abuse"]
    evidence = finding["evidence"]
    assert evidence["reasons"] == {"aliases": 1, "rejected:nesting": 1}
    assert evidence["max_aliases"] == 120 and evidence["baseline"]["aliases"] == 0
    assert evidence["operations"] == ["query Enumerate"]


def test_mutation_by_a_reader(proxied: tuple[Store, str, Path]) -> None:
    store, _key, _base = proxied
    (finding,) = _rules(store)["graphql_mutation_by_reader"]
    assert "reporting-svc" in finding["subject"]["id"]  # not provisioning-svc, a writer
    assert finding["evidence"]["mutations"] == 1
    assert finding["evidence"]["mutation_endpoints"][0].endswith("/graphql mutation CreateUser")


def test_graph_edges_reach_the_operation(proxied: tuple[Store, str, Path]) -> None:
    from discovery.views.graph.answers import exposure
    from discovery.views.subjects import resolve_subject

    store, _key, _base = proxied
    (host,) = {e["host"] for e in queries.endpoints(store)}
    subject = resolve_subject(store, f"{host} POST /graphql mutation CreateUser")
    answer = exposure(store, subject)
    text = repr(answer)
    assert "reporting-svc" in text and "provisioning-svc" in text  # both identities reach it
    report = exposure(store, resolve_subject(store, f"{host} POST /graphql query Report"))
    assert "reporting-svc" in repr(report) and "provisioning-svc" not in repr(report)


def test_schema_classes_through_the_proxy(proxied: tuple[Store, str, Path]) -> None:
    from discovery.analyse.specs import import_spec_file
    from tests.discovery.graphql.server import SCHEMA

    store, _key, base = proxied
    (host,) = {e["host"] for e in queries.endpoints(store)}
    introspected = base / "introspection.json"  # the schema as its introspection answers it
    result = SCHEMA.execute_sync(get_introspection_query())
    introspected.write_text(json.dumps({"data": result.data}))
    import_spec_file(store, introspected, host=host)
    status = {e["template"]: e["status"] for e in queries.endpoints(store)}
    assert status["/graphql query Report"] == "documented"
    assert status["/graphql query Enumerate"] == "documented"  # aliases of a documented field
    assert status["/graphql mutation CreateUser"] == "documented"
    assert status["/graphql query IntrospectionQuery"] == "documented"
    for orphan in ("query users", "query allUsers", "query health", "mutation deleteUser"):
        assert status[f"/graphql {orphan}"] == "orphan"
