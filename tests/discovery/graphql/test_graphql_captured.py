"""GraphQL end to end: a real strawberry server on loopback called by a real client (httpx) with
queries, a mutation whose variables carry a credential, aliases, a batch, an introspection
query and a GET; captured with tcpdump and ingested from the pcap. Each operation is an endpoint
of its own, with its credentials, and no variable value reaches the case."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from discovery.case.store import Store
from discovery.views import queries
from tests.discovery.graphql.server import graphql_server

pytestmark = pytest.mark.integration

GET_USER = "query GetUser($id: ID!) { user(id: $id) { id name } }"
ALIASED = "{ users { id first: name second: email } }"
CREATE = (
    "mutation CreateUser($name: String!, $apiKey: String!) "
    "{ createUser(name: $name, apiKey: $apiKey) { id } }"
)


def send_traffic(url: str, api_key: str, client: httpx.Client | None = None) -> None:
    """The client's calls (one connection), each answered by the server."""
    own = client is None
    http = client or httpx.Client()
    try:
        for body in (
            {"query": GET_USER, "operationName": "GetUser", "variables": {"id": "1"}},
            {"query": ALIASED},
            {"query": CREATE, "variables": {"name": "eve", "apiKey": api_key}},
            [{"query": "{ health }"}, {"query": "query Legacy { allUsers { legacyName } }"}],
            {"query": get_introspection_query()},
            {"query": "query Probe { adminUsers { id } }"},  # answered with errors
        ):
            response = http.post(url, json=body)
            assert response.status_code == 200, response.text
        assert http.get(url, params={"query": "{ health }"}).status_code == 200
        hostile = "{ " + "user(id: 1) { " * 200 + "id" + " }" * 200 + " }"
        http.post(url, json={"query": hostile})  # the server may answer anything
    finally:
        if own:
            http.close()


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str, Path]]:
    from discovery.ingest.files import ingest_files
    from tests.discovery.redact.credentials.loopback_capture import tcpdump

    base = tmp_path_factory.mktemp("gql")
    pcap = base / "graphql.pcap"
    api_key = "gqk_" + secrets.token_hex(20)
    with graphql_server() as server, tcpdump(pcap, server.port):
        send_traffic(server.url, api_key)
    with Store.open(base / "case.db") as store:
        ingest_files(store, [pcap])
        yield store, api_key, base


def _endpoints(store: Store) -> dict[str, dict[str, Any]]:
    return {f"{e['method']} {e['template']}": e for e in queries.endpoints(store)}


def test_each_operation_is_an_endpoint(captured: tuple[Store, str, Path]) -> None:
    store, _key, _base = captured
    endpoints = _endpoints(store)
    for name in (
        "POST /graphql query GetUser",
        "POST /graphql query users",  # anonymous: named by its root fields
        "POST /graphql mutation CreateUser",
        "POST /graphql query health",  # from the batch
        "POST /graphql query Legacy",  # from the batch
        "POST /graphql query IntrospectionQuery",
        "GET /graphql query health",
        "POST /graphql query Probe",
    ):
        assert name in endpoints, sorted(endpoints)
        assert endpoints[name]["requests"] == 1
    # without a GraphQL schema in the case, every operation is undocumented
    assert endpoints["POST /graphql mutation CreateUser"]["status"] == "shadow"


def test_operation_facts(captured: tuple[Store, str, Path]) -> None:
    store, _key, _base = captured
    rows = {
        op: (outcome, facts)
        for op, outcome, facts in store.conn.execute(
            "SELECT operation, outcome, facts FROM exchanges WHERE protocol = 'graphql'"
        )
    }
    import json

    aliased = json.loads(rows["query users"][1])
    assert aliased["aliases"] == 2 and aliased["depth"] == 2
    batch = json.loads(rows["query Legacy"][1])
    assert batch["batch"] == [2, 2] and "allUsers.legacyName" in batch["fields"]
    intro = json.loads(rows["query IntrospectionQuery"][1])
    assert intro["introspection"] is True and rows["query IntrospectionQuery"][0] == "data"
    # the hostile document is kept as a request to /graphql, rejected with its reason
    (reason,) = store.conn.execute(
        "SELECT json_extract(facts, '$.rejected') FROM exchanges "
        "WHERE protocol = 'graphql' AND operation IS NULL"
    ).fetchone()
    assert reason == "nesting"


def test_variables_credential_found_and_never_stored(captured: tuple[Store, str, Path]) -> None:
    store, api_key, base = captured
    creds = [c for c in queries.credentials(store) if c["redacted"].endswith(api_key[-4:])]
    assert creds, queries.credentials(store)
    assert [e["template"] for e in creds[0]["endpoints"]] == ["/graphql mutation CreateUser"]
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in base.iterdir():
        if path.name.startswith("case.db"):
            assert api_key.encode() not in path.read_bytes(), path.name


def _imported(store: Store, base: Path, port: int) -> dict[str, dict[str, Any]]:
    """The server's schema, as published without ``health``, imported for the host."""
    from discovery.analyse.specs import import_spec_file
    from tests.discovery.graphql.server import SDL

    published = base / "schema.graphql"
    published.write_text(SDL.replace("  health: String!\n", ""))
    import_spec_file(store, published, host=f"127.0.0.1:{port}")
    return _endpoints(store)


@pytest.fixture(scope="module")
def classified(captured: tuple[Store, str, Path]) -> dict[str, dict[str, Any]]:
    store, _key, base = captured
    (port,) = {e["host"].rsplit(":", 1)[1] for e in queries.endpoints(store)}
    return _imported(store, base, int(port))


@pytest.mark.parametrize(
    ("endpoint", "status"),
    [
        ("POST /graphql query GetUser", "documented"),
        ("POST /graphql query users", "documented"),
        ("POST /graphql mutation CreateUser", "documented"),
        ("POST /graphql query IntrospectionQuery", "documented"),  # meta fields: GraphQL's own
        ("POST /graphql query Legacy", "zombie"),  # allUsers and legacyName are deprecated
        ("POST /graphql query health", "shadow"),  # served, but not in the published schema
        ("GET /graphql query health", "shadow"),
        ("POST /graphql query Probe", "shadow"),
        ("POST /graphql mutation deleteUser", "orphan"),  # documented, never called
    ],
)
def test_schema_classes(classified: dict[str, dict[str, Any]], endpoint: str, status: str) -> None:
    assert classified[endpoint]["status"] == status, sorted(classified)


def test_explain_says_why(
    classified: dict[str, dict[str, Any]], captured: tuple[Store, str, Path]
) -> None:
    from click.testing import CliRunner

    from ir_console.cli import cli

    _store, _key, base = captured
    (host,) = {e["host"] for e in classified.values()}
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(base / "case.db"),
            "endpoints",
            "explain",
            host,
            "POST",
            "/graphql",
            "query",
            "Legacy",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "zombie" in result.output
    assert (
        "Query.allUsers (use users)" in result.output
        and "User.legacyName (use name)" in result.output
    )
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(base / "case.db"),
            "endpoints",
            "explain",
            host,
            "POST",
            "/graphql query Probe",
            "--json",
        ],
        catch_exceptions=False,
    )
    import json

    answer = json.loads(result.output)
    assert answer["status"] == "shadow" and "Query.adminUsers not in" in answer["reason"]
    assert answer["root_fields"] == ["adminUsers"]


def _cli(base: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from ir_console.cli import cli

    return CliRunner().invoke(cli, ["--db", str(base / "case.db"), *args], catch_exceptions=False)


def test_openapi_export_leaves_operations_out_and_graphql_export_writes_sdl(
    captured: tuple[Store, str, Path],
) -> None:
    from graphql import build_schema

    store, api_key, base = captured
    (host,) = {e["host"] for e in queries.endpoints(store)}
    # every request on this host carried a GraphQL operation but the hostile one, which stays
    # a plain request to /graphql: the only REST path there is
    result = _cli(base, "openapi", "export", "--host", host, "--format", "json")
    assert result.exit_code == 0, result.output
    import json

    paths = json.loads(result.output)["paths"]
    assert list(paths) == ["/graphql"]
    assert not [p for p in paths if " " in p]
    result = _cli(base, "graphql", "export", "--host", host)
    assert result.exit_code == 0, result.output
    sdl = result.output
    schema = build_schema(sdl)  # a valid SDL document
    query, mutation = schema.query_type, schema.mutation_type
    assert query is not None and mutation is not None
    assert {"user", "users", "allUsers", "health", "adminUsers"} <= set(query.fields)
    assert set(mutation.fields) == {"createUser"}
    assert "first" not in sdl and "second" not in sdl  # aliases are not fields
    assert set(schema.type_map["Query_users"].fields) == {"id", "name", "email"}  # type: ignore[union-attr]
    assert "called by: mutation CreateUser" in sdl
    assert api_key not in sdl and "eve" not in sdl  # no variable value


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_children_convert_batches_as_the_in_process_path(
    captured: tuple[Store, str, Path], monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """A large capture is read and converted by children (``ingest.parallel``): a GraphQL
    batch, one observed exchange that becomes several rows, keeps its place and its rows."""
    from discovery.case.store import exchange_fields
    from discovery.ingest import parallel
    from discovery.redact.convert import to_exchanges
    from discovery.redact.secrets import Fingerprinter
    from discovery.sources.pcap import read
    from discovery.stats import IngestStats

    _store, _key, base = captured
    monkeypatch.setattr(parallel, "BATCH", batch)
    pcap = base / "graphql.pcap"
    fingerprint = Fingerprinter(b"k" * 32)
    in_process = [ex for obs in read(pcap, IngestStats()) for ex in to_exchanges(obs, fingerprint)]
    expected = [(exchange_fields(ex), ex.ts, ex.credentials) for ex in in_process]
    got = list(parallel.convert_in_children("pcap", pcap, IngestStats(), fingerprint))
    assert got == expected  # the children's rows, operations included, are the same
    operations = [ex.operation for ex in in_process]
    assert operations.count("query health") == 2 and "query Legacy" in operations
