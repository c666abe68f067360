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

import pytest

from tests.discovery.analyse.oauth_lineage import (
    BATCH_SECRET,
    REPORTS_SECRET,
    USER_PASSWORD,
    capture_and_ingest,
    cli,
)

pytestmark = pytest.mark.integration  # a loopback server, tcpdump, the CLI
FIND = ("credentials", "find", "--stdin", "--json")


@pytest.fixture(scope="module")
def lineage_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], int]:
    return capture_and_ingest(tmp_path_factory.mktemp("lineage"))


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


def test_credentials_find_names_a_token_that_was_issued_but_never_presented(
    lineage_case: tuple[Path, dict[str, str], int],
) -> None:
    case, got, port = lineage_case
    host = f"127.0.0.1:{port}"

    def find(secret: str) -> Any:
        proc = subprocess.run(
            [sys.executable, "-m", "ir_console", "--db", str(case), *FIND],
            input=secret.encode(),
            capture_output=True,
            timeout=120,
            check=True,
        )
        assert secret.encode() not in proc.stdout + proc.stderr
        return json.loads(proc.stdout)

    rotated = find(got["rotated_refresh"])
    assert rotated["found"] is False and rotated["credential"] is None
    assert rotated["issued"]["name"] == "refresh_token"
    assert rotated["issued"]["issued_by"] == f"client:{host}|batch-client"
    assert rotated["issued"]["grant_type"] == "refresh_token"
    assert rotated["issued"]["issued_to"] == "127.0.0.2"
    used = find("Bearer " + got["reports_access"])
    assert used["found"] is True
    assert used["credential"]["issued_by"] == f"client:{host}|svc-reports"
    assert used["issued"]["grant_type"] == "client_credentials"
