"""The client fields of proxied traffic: a real mitmdump with our addon (also exporting a HAR with
mitmproxy's own ``hardump`` and a flow file with ``-w``) in front of an HTTPS upstream, curl and
httpx as clients, tcpdump on the client side of the proxy. Each flow carries TLS, its HTTP
version, its client's JA4 (the same the capture of that connection gives) and its JA4H; the
HAR and the flow file give the fields they know; a key moving to another client's TLS stack is
a ``credential_client_change`` finding although its user agent stays the same."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from discovery.case.store import Store
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from discovery.views.exchange import exchange_detail
from ir_console.cli import cli as cli_group
from tests.conftest import require_tool
from tests.discovery.proxyfixtures import mitmdump, self_signed_cert, upstream
from tests.discovery.wire import tls_lab as lab

pytestmark = pytest.mark.integration  # starts mitmdump, an upstream, curl, tcpdump

KEY = "key-fp-" + "7c1d9e2f4a6b8c0d3e5f"  # made up
OTHER = "key-fp-" + "0a9b8c7d6e5f4a3b2c1d"  # made up: used by one client only (near miss)
AGENT = "inventory-sync/1.4"  # every client says the same: only the TLS stack tells them apart


@dataclass
class Proxied:
    case: Path
    har: Path
    flows: Path
    capture: Path  # the clients' side of the proxy


def _curl(proxy_url: str, ca: Path, url: str, key: str, check: bool = True) -> None:
    curl = require_tool("curl")
    argv = [curl, "-sS", "-o", "/dev/null", "--http2", "-x", proxy_url, "--cacert", str(ca)]
    argv += ["-H", f"X-API-Key: {key}", "-A", AGENT, url]
    subprocess.run(argv, check=check, timeout=60, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    folder = tmp_path_factory.mktemp("fingerprints")
    run = Proxied(
        folder / "case.db", folder / "flows.har", folder / "flows.mitm", folder / "c.pcap"
    )
    tls_files = self_signed_cert(folder)
    with (
        upstream(tls_files) as secure,
        mitmdump(
            folder / "conf",
            "--set",
            f"irc_db={run.case}",
            "--set",
            f"hardump={run.har}",
            "-w",
            str(run.flows),
            # lazy: the client gets HTTP/2 from the proxy although the upstream is HTTP/1
            "--set",
            "connection_strategy=lazy",
        ) as proxy,
        lab.capture(run.capture, (proxy.port,)),
    ):
        _curl(proxy.proxy_url, proxy.ca_cert, secure.url("/v1/items", "localhost"), KEY)
        for _ in range(2):  # the near miss: one client, one key, twice
            _curl(proxy.proxy_url, proxy.ca_cert, secure.url("/v1/stock", "localhost"), OTHER)
        verify = ssl.create_default_context(cafile=proxy.ca_cert)
        with httpx.Client(proxy=proxy.proxy_url, verify=verify, trust_env=False) as client:
            answer = client.get(
                secure.url("/v1/items/8", "localhost"),
                headers={"X-API-Key": KEY, "User-Agent": AGENT},
            )
        assert answer.status_code == 200
        # a curl that does not trust the proxy's CA: its handshake fails, its JA4 is kept
        _curl(proxy.proxy_url, tls_files[0], secure.url("/never", "localhost"), KEY, False)
    assert "Traceback" not in proxy.output
    yield run


def _exchanges(case: Path) -> list[dict[str, Any]]:
    with Store.open(case) as store:
        store.conn.row_factory = None
        cur = store.conn.execute(
            "SELECT path, tls, http_version, ja4, ja4h, client_port, user_agent FROM exchanges "
            "WHERE method IS NOT NULL ORDER BY ts"
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _rows(case: Path) -> dict[str, dict[str, Any]]:
    """The case's exchanges by path (each path called by one client)."""
    return {row["path"]: row for row in _exchanges(case)}


def _json(case: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli_group, ["--db", str(case), *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _ingest(case: Path, path: Path) -> None:
    result = CliRunner().invoke(cli_group, ["--db", str(case), "ingest", str(path)])
    assert result.exit_code == 0, result.stderr


def test_proxied_flows_carry_tls_version_and_the_client_fingerprints(proxied: Proxied) -> None:
    rows = _rows(proxied.case)
    assert set(rows) == {"/v1/items", "/v1/stock", "/v1/items/8"}
    assert all(row["tls"] == 1 and row["user_agent"] == AGENT for row in rows.values())
    assert rows["/v1/items"]["http_version"] == "2"  # curl --http2 (ALPN h2 with the proxy)
    assert rows["/v1/items/8"]["http_version"] == "1.1"  # httpx
    assert all(str(row["ja4"]).startswith("t13d") for row in rows.values())
    # curl's and Python's TLS stacks: two clients, the version and header order in JA4H too
    assert rows["/v1/items"]["ja4"] != rows["/v1/items/8"]["ja4"]
    assert rows["/v1/items"]["ja4h"].startswith("ge20nn")
    assert rows["/v1/items/8"]["ja4h"].startswith("ge11nn")


def test_the_exchange_page_shows_the_proxied_flows_client_fields(proxied: Proxied) -> None:
    """The console's exchange page reads ``exchange_detail``: TLS, ALPN, JA4 and HTTP version
    of a proxied flow are there as they are for a capture's."""
    with Store.open(proxied.case) as store:
        (exchange_id,) = store.conn.execute(
            "SELECT id FROM exchanges WHERE path = '/v1/items'"
        ).fetchone()
        detail = exchange_detail(store, exchange_id)
    assert detail is not None
    assert detail.tls and detail.alpn == "h2" and detail.http_version == "2"
    assert detail.ja4 == _rows(proxied.case)["/v1/items"]["ja4"]
    assert detail.request_lines()[0] == "GET /v1/items HTTP/2"


def test_the_proxy_ja4_is_the_one_the_capture_of_the_same_connection_gives(
    proxied: Proxied,
) -> None:
    """The capture of the clients' side reads each CONNECT tunnel's ClientHello: its JA4 for
    that client port equals what the proxy recorded for the flow from the same port."""
    stats = IngestStats()
    captured = {ex.client_port: ex.ja4 for ex in read(proxied.capture, stats) if ex.ja4}
    proxied_ja4 = {row["client_port"]: row["ja4"] for row in _exchanges(proxied.case)}
    assert len(proxied_ja4) == 4  # one connection per call
    assert {port: captured.get(port) for port in proxied_ja4} == proxied_ja4


def test_a_failed_client_handshake_keeps_the_clients_ja4(proxied: Proxied) -> None:
    with Store.open(proxied.case) as store:
        opaque = store.conn.execute(
            "SELECT ja4 FROM exchanges WHERE method IS NULL AND error IS NOT NULL"
        ).fetchall()
    assert [row[0] for row in opaque] == [_rows(proxied.case)["/v1/items"]["ja4"]]  # curl's


def test_credentials_show_fingerprints_and_the_key_moving_to_a_new_client_is_found(
    proxied: Proxied,
) -> None:
    rows = _rows(proxied.case)
    credentials = {c["redacted"]: c for c in _json(proxied.case, "credentials")}
    assert len(credentials) == 2
    moved = next(c for c in credentials.values() if c["requests"] == 2 and "/v1/items" in str(c))
    kept = next(c for c in credentials.values() if c is not moved)
    assert sorted(moved["fingerprints"]["ja4"]) == sorted(
        {rows["/v1/items"]["ja4"], rows["/v1/items/8"]["ja4"]}
    )
    assert sorted(moved["fingerprints"]["ja4h"]) == sorted(
        {rows["/v1/items"]["ja4h"], rows["/v1/items/8"]["ja4h"]}
    )
    assert moved["fingerprints"]["user_agents"] == [AGENT]
    assert kept["fingerprints"]["ja4"] == [rows["/v1/stock"]["ja4"]]
    changes = [
        f for f in _json(proxied.case, "findings") if f["rule"] == "credential_client_change"
    ]
    assert [f["subject"]["id"] for f in changes] == [moved["id"]]
    evidence = changes[0]["evidence"]
    assert evidence["first_client"]["ja4"] == rows["/v1/items"]["ja4"]
    assert [c["ja4"] for c in evidence["new_clients"]] == [rows["/v1/items/8"]["ja4"]]


def test_the_har_mitmproxy_exports_gives_the_fields_it_knows(
    proxied: Proxied, tmp_path: Path
) -> None:
    """HAR has the HTTP version and the request headers (so JA4H), not the ClientHello."""
    case = tmp_path / "har.db"
    _ingest(case, proxied.har)
    from_har, from_proxy = _rows(case), _rows(proxied.case)
    assert set(from_har) == set(from_proxy)
    for path, row in from_har.items():
        assert row["tls"] == 1
        assert row["http_version"] == from_proxy[path]["http_version"]
        assert row["ja4h"] == from_proxy[path]["ja4h"]
        assert row["ja4"] is None


def test_a_flow_file_written_beside_the_addon_keeps_the_ja4(
    proxied: Proxied, tmp_path: Path
) -> None:
    case = tmp_path / "flows.db"
    _ingest(case, proxied.flows)
    from_file, from_proxy = _rows(case), _rows(proxied.case)
    assert all(row["ja4"] for row in from_file.values())
    assert {p: r["ja4"] for p, r in from_file.items()} == {
        p: r["ja4"] for p, r in from_proxy.items()
    }
