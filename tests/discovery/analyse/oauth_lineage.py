"""The OAuth flows of the lineage tests, run by real clients (httpx) against the Authlib server
of ``oauth_flow`` on loopback, captured with tcpdump and ingested by the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.discovery.analyse.oauth_flow import Client, OAuthFlowServer, oauth_flow_server
from tests.discovery.redact.credentials import tokens as t
from tests.discovery.redact.credentials.loopback_capture import tcpdump

REPORTS_SECRET = "rep-" + t.rand(32, seed=201)
BATCH_SECRET = "bat-" + t.rand(32, seed=202)
USER_PASSWORD = "Pw-" + t.rand(16, seed=203)

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
        got["rotated_refresh"] = answer["refresh_token"]  # issued, never presented
        headers = {"Authorization": f"Bearer {got['refreshed_access']}"}
        assert client.get(server.url + "/api/orders", headers=headers).status_code == 200
    return got


def capture_and_ingest(work: Path) -> tuple[Path, dict[str, str], int]:
    """Run the flows against a real Authlib server on loopback under tcpdump and ingest the
    capture with the CLI: (case, the tokens the clients got, the server's port)."""
    pcap = work / "oauth.pcap"
    with oauth_flow_server(CLIENTS, {"svc-batch": USER_PASSWORD}) as server:
        with tcpdump(pcap, server.port):
            got = run_flows(server)
        port = server.port
    case = work / "case.db"
    cli(case, "ingest", str(pcap))
    return case, got, port
