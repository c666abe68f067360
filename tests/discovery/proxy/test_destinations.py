"""The real destination beside the claimed host, through real parts: a recording mitmdump and a
tcpdump capture on loopback, curl with fake Host headers, an upstream that counts what reaches
it; the case records where each request went, the host_mismatch finding names the contradiction,
and an endpoint's verification counts a fake-Host request to its real address as a use."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from discovery.analyse.recompute import recompute
from discovery.case.store import Store
from runbooks.actions import get
from runbooks.actions.base import ActionContext
from runbooks.errors import ActionError
from tests.discovery.proxyfixtures import mitmdump, upstream

pytestmark = pytest.mark.integration  # starts processes or servers

CURL = shutil.which("curl") or "curl"


def curl(*args: str) -> None:
    subprocess.run([CURL, "-s", "-o", "/dev/null", "--max-time", "20", *args], check=True)


def verify_endpoint(store: Store, endpoint: str, since: float) -> dict[str, Any]:
    action = get("evidence.verify_no_use_since")
    ctx = ActionContext(
        store=store,
        run_id="r-1",
        step_id="verify",
        target={},
        actor="test",
        timeout=30,
        started_at=since,
    )
    return action.run(action.parse({"endpoint": endpoint, "since": since, "wait": 0}), ctx)


def rows(store: Store) -> list[tuple[Any, ...]]:
    return store.conn.execute(
        "SELECT path, host, destination, host_mismatch FROM exchanges ORDER BY path"
    ).fetchall()


def finding(store: Store, rule: str) -> list[tuple[Any, ...]]:
    return store.conn.execute(
        "SELECT severity, subject_id, evidence FROM findings WHERE rule = ?", (rule,)
    ).fetchall()


def test_a_recording_proxy_stores_where_fake_host_requests_really_went(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    Store.open(case).close()
    with (
        upstream() as server,
        mitmdump(tmp_path / "conf", "--set", f"irc_db={case}", "--set", "irc_recompute=1") as proxy,
    ):
        real = f"127.0.0.1:{server.port}"
        curl("-x", proxy.proxy_url, server.url("/v1/items/1"))
        since = time.time()
        time.sleep(0.05)
        # a fake Host header in the absolute form, and through CONNECT (-p)
        curl("-x", proxy.proxy_url, "-H", "Host: harmless.example", server.url("/v1/items/2"))
        curl("-x", proxy.proxy_url, "-p", "-H", "Host: harmless.example", server.url("/v1/items/3"))
    assert len(server.seen) == 3  # a recording proxy: everything reached the upstream
    with Store.open(case) as store:
        recompute(store)
        assert rows(store) == [
            ("/v1/items/1", real, real, None),
            ("/v1/items/2", "harmless.example", real, f"Host harmless.example sent to {real}"),
            ("/v1/items/3", "harmless.example", real, f"Host harmless.example sent to {real}"),
        ]
        ((severity, client, evidence),) = finding(store, "host_mismatch")
        assert (severity, client) == ("high", "127.0.0.1")
        facts = json.loads(evidence)
        assert (facts["requests"], facts["not_blocked"], facts["succeeded"]) == (2, 2, 2)
        assert facts["mismatches"] == [
            {"what": f"Host harmless.example sent to {real}", "requests": 2, "destination": real}
        ]
        # the endpoint's verification counts the fake-Host requests to its real address
        with pytest.raises(ActionError, match=r"used successfully 2 time\(s\)"):
            verify_endpoint(store, f"{real} GET /v1/items/{{id}}", since)


def test_a_capture_stores_the_server_address_and_flags_a_contradicting_ip_host(
    tmp_path: Path,
) -> None:
    from discovery.ingest.files import ingest_files
    from tests.discovery.redact.credentials.loopback_capture import tcpdump

    pcap = tmp_path / "direct.pcap"
    with upstream() as server, tcpdump(pcap, server.port):
        url = f"http://127.0.0.1:{server.port}"
        curl("-H", "Host: api.test", f"{url}/v1/items/1")
        time.sleep(0.2)
        marker = time.time()
        time.sleep(0.2)
        curl("-H", "Host: 127.0.0.2", f"{url}/v1/items/2")  # an address that is not this one
        curl("-H", "Host: fake.test", f"{url}/v1/items/3")  # a name: not knowable without DNS
    real = f"127.0.0.1:{server.port}"
    with Store.open(tmp_path / "case.db") as store:
        (result,) = ingest_files(store, [pcap])
        assert result.stats.exchanges == 3
        recompute(store)
        assert rows(store) == [
            ("/v1/items/1", "api.test", real, None),
            ("/v1/items/2", "127.0.0.2", real, f"Host 127.0.0.2 sent to {real}"),
            ("/v1/items/3", "fake.test", real, None),
        ]
        ((severity, client, _evidence),) = finding(store, "host_mismatch")
        assert (severity, client) == ("high", "127.0.0.1")
        # api.test was reached at 127.0.0.1:PORT: a request there on its route under another
        # Host is a use of api.test's endpoint (the capture's clock: the packets' times)
        since = store.conn.execute(
            "SELECT ts FROM exchanges WHERE path = '/v1/items/2'"
        ).fetchone()[0]
        assert since > marker - 5
        with pytest.raises(ActionError, match=r"used successfully 2 time\(s\)"):
            verify_endpoint(store, "api.test GET /v1/items/{id}", since)


def test_a_capture_of_a_proxys_client_leg_stores_the_target_the_client_named(
    tmp_path: Path,
) -> None:
    """Captured between a client and a forward proxy: the server address is the proxy's; where
    the requests went is the target the client named (absolute URI, CONNECT target), and a Host
    header naming another host contradicts it."""
    from discovery.ingest.files import ingest_files
    from tests.discovery.redact.credentials.loopback_capture import tcpdump

    pcap = tmp_path / "client-leg.pcap"
    with (
        upstream() as server,
        mitmdump(tmp_path / "conf", with_addon=False) as proxy,
        tcpdump(pcap, proxy.port),
    ):
        real = f"127.0.0.1:{server.port}"
        curl("-x", proxy.proxy_url, server.url("/v1/items/1"))
        curl("-x", proxy.proxy_url, "-H", "Host: harmless.example", server.url("/v1/items/2"))
        curl("-x", proxy.proxy_url, "-p", "-H", "Host: harmless.example", server.url("/v1/items/3"))
    assert len(server.seen) == 3
    with Store.open(tmp_path / "case.db") as store:
        ingest_files(store, [pcap])
        found = store.conn.execute(
            "SELECT method, path, destination, host_mismatch FROM exchanges "
            "WHERE method IS NOT NULL ORDER BY ts"
        ).fetchall()
    assert found == [
        ("GET", "/v1/items/1", real, None),
        ("GET", "/v1/items/2", real, f"Host harmless.example sent to {real}"),
        ("CONNECT", f"/{real}", real, None),  # its path as the case stores a target
        ("GET", "/v1/items/3", real, f"Host harmless.example sent to {real}"),
    ]
