"""OAuth token lineage end to end: a real Authlib authorization server on loopback, real clients
(httpx) running the client credentials, password and refresh token grants and then calling the
API with the opaque tokens they got, captured with tcpdump and ingested by the real CLI. The
later calls are attributed to the client id that obtained each token; the flows' findings fire;
no raw secret is stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.discovery.analyse.oauth_flow import Client, OAuthFlowServer, oauth_flow_server
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.loopback_capture import tcpdump

REPORTS_SECRET = "rep-" + t.rand(32, seed=201)
BATCH_SECRET = "bat-" + t.rand(32, seed=202)
USER_PASSWORD = "Pw-" + t.rand(16, seed=203)
pytestmark = pytest.mark.integration  # a loopback server, tcpdump, the CLI

CLIENTS = [
    Client("svc-reports", REPORTS_SECRET, ("client_credentials",)),
    Client("batch-client", BATCH_SECRET, ("password", "refresh_token")),
]


def cli(case: Path, *args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(case), *args],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-800:]
    return json.loads(proc.stdout) if "--json" in args else proc.stdout


def run_flows(server: OAuthFlowServer) -> dict[str, str]:
    """The flows, as the clients would run them; returns the tokens each got."""
    got: dict[str, str] = {}
    with httpx.Client(timeout=10, trust_env=False) as client:
        answer = client.post(  # client credentials, client_secret_basic
            server.token_url,
            data={"grant_type": "client_credentials", "scope": "orders:read"},
            auth=("svc-reports", REPORTS_SECRET),
        ).json()
        got["reports_access"] = answer["access_token"]
        for _ in range(3):
            headers = {"Authorization": f"Bearer {got['reports_access']}"}
            assert client.get(server.url + "/api/orders", headers=headers).status_code == 200
        answer = client.post(  # password grant, client_secret_post, by a script
            server.token_url,
            data={
                "grant_type": "password",
                "username": "svc-batch",
                "password": USER_PASSWORD,
                "client_id": "batch-client",
                "client_secret": BATCH_SECRET,
            },
        ).json()
        got["batch_access"], got["batch_refresh"] = answer["access_token"], answer["refresh_token"]
        headers = {"Authorization": f"Bearer {got['batch_access']}"}
        assert client.get(server.url + "/api/orders", headers=headers).status_code == 200
    elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")  # another host on the network
    with httpx.Client(timeout=10, trust_env=False, transport=elsewhere) as client:
        answer = client.post(  # the refresh token, used from a new source
            server.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": got["batch_refresh"],
                "client_id": "batch-client",
                "client_secret": BATCH_SECRET,
            },
        ).json()
        got["refreshed_access"] = answer["access_token"]
        headers = {"Authorization": f"Bearer {got['refreshed_access']}"}
        assert client.get(server.url + "/api/orders", headers=headers).status_code == 200
    return got


@pytest.fixture(scope="module")
def lineage_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], int]:
    work = tmp_path_factory.mktemp("lineage")
    pcap = work / "oauth.pcap"
    with oauth_flow_server(CLIENTS, {"svc-batch": USER_PASSWORD}) as server:
        with tcpdump(pcap, server.port):
            got = run_flows(server)
        port = server.port
    case = work / "case.db"
    cli(case, "ingest", str(pcap))
    return case, got, port


def test_calls_with_an_issued_opaque_token_are_the_client_that_obtained_it(
    lineage_case: tuple[Path, dict[str, str], int],
) -> None:
    case, _got, port = lineage_case
    host = f"127.0.0.1:{port}"
    creds = cli(case, "credentials", "--json")
    bearers = [c for c in creds if c["kind"] == "bearer"]
    assert len(bearers) == 3
    by_client = {c["issued_by"]: c for c in bearers}
    reports = by_client[f"client:{host}|svc-reports"]
    assert reports["identity"] == f"client:{host}|svc-reports"
    assert reports["requests"] == 3
    assert reports["endpoints"] == [{"host": host, "method": "GET", "template": "/api/orders"}]
    assert reports["issued_at"] is not None and reports["expires_at"] is not None
    # the refreshed token is tied, through the refresh grant, to the same client
    batch = [c for c in bearers if c["issued_by"] == f"client:{host}|batch-client"]
    assert len(batch) == 2
    assert {tuple(c["sources"]) for c in batch} == {("127.0.0.1",), ("127.0.0.2",)}
    secrets = {c["kind"]: c for c in creds if c["kind"] in ("client_secret", "password")}
    assert secrets["client_secret"]["identity"].startswith(f"client:{host}|")
    assert secrets["password"]["identity"] == f"user:svc-batch@{host}"
    identities = {i["id"]: i for i in cli(case, "identities", "--json")}
    reports_identity = identities[f"client:{host}|svc-reports"]
    assert reports["id"] in reports_identity["credentials"]
    assert reports_identity["issued_tokens"] == 1


def test_blast_radius_of_a_client_secret_reaches_what_its_tokens_reached(
    lineage_case: tuple[Path, dict[str, str], int],
) -> None:
    case, _got, port = lineage_case
    creds = cli(case, "credentials", "--json")
    secret = next(
        c for c in creds if c["kind"] == "client_secret" and c["identity"].endswith("svc-reports")
    )
    radius = cli(case, "graph", "blast-radius", secret["id"], "--json")
    reached = json.dumps(radius)
    assert f"127.0.0.1:{port} GET /api/orders" in reached
    token = next(c for c in creds if c["issued_by"] == secret["identity"] and c["kind"] == "bearer")
    assert token["id"] in {c["id"] for c in radius["credentials"]}
    out = case.parent / "graph.json"
    cli(case, "graph", "export", "--format", "json", "-o", str(out))
    graph = json.loads(out.read_text())
    links = graph.get("links") or graph.get("edges") or []
    assert any(
        link["source"] == f"credential:{secret['id']}"
        and link["target"] == f"credential:{token['id']}"
        and link.get("kind") == "ISSUED"
        for link in links
    )


def test_findings_for_the_flows(lineage_case: tuple[Path, dict[str, str], int]) -> None:
    case, _got, _port = lineage_case
    findings = cli(case, "findings", "--json")
    rules = {f["rule"]: f for f in findings}
    assert {
        "client_secret_cleartext",
        "password_grant_non_human",
        "refresh_token_new_source",
    } <= set(rules)
    new_source = rules["refresh_token_new_source"]["evidence"]
    assert new_source["issued_to"] == "127.0.0.1"
    assert [s["client"] for s in new_source["new_sources"]] == ["127.0.0.2"]
    assert "HTTP library" in rules["password_grant_non_human"]["evidence"]["why"]


def test_no_issued_token_or_secret_is_stored(
    lineage_case: tuple[Path, dict[str, str], int],
) -> None:
    case, got, _port = lineage_case
    import sqlite3

    conn = sqlite3.connect(case)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = b"".join(p.read_bytes() for p in case.parent.glob(case.name + "*"))
    for secret in (*got.values(), REPORTS_SECRET, BATCH_SECRET, USER_PASSWORD):
        assert secret.encode() not in data
