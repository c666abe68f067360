"""A real mitmdump with our addon on loopback, in front of real HTTP and HTTPS upstreams, with
httpx and curl as clients: the case holds the exchanges, hosts, paths and credentials."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from discovery.case.store import Store
from discovery.views import queries
from tests.conftest import require_tool
from tests.discovery.proxyfixtures import mitmdump, self_signed_cert, upstream

pytestmark = pytest.mark.integration  # starts processes or servers

TOKEN = "tok-proxy-capture-4f1c2a9b8e7d6c5b"
API_KEY = "key-proxy-capture-0a1b2c3d4e5f"
BASIC_USER, BASIC_PASSWORD = "svc-reports", "pw-proxy-capture-99x"


def _exchanges(case: Path) -> list[dict[str, object]]:
    with Store.open(case) as store:
        store.conn.row_factory = None
        cur = store.conn.execute(
            "SELECT source, method, host, path, raw_path, query_names, status, tls, sni, "
            "http_version, client_ip, blocked, error, evidence, request_content_type, "
            "response_content_type, user_agent, id FROM exchanges ORDER BY id"
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _credentials_by_exchange(case: Path) -> dict[int, list[tuple[str, str]]]:
    with Store.open(case) as store:
        out: dict[int, list[tuple[str, str]]] = {}
        for ex_id, kind, name in store.conn.execute(
            "SELECT ec.exchange_id, c.kind, ec.name FROM exchange_credentials ec "
            "JOIN credentials c ON c.id = ec.credential_id"
        ):
            out.setdefault(ex_id, []).append((kind, name.lower()))
        return out


def test_http_and_https_flows_land_in_the_case(tmp_path: Path) -> None:
    curl = require_tool("curl")
    case = tmp_path / "case.db"
    tls_files = self_signed_cert(tmp_path)
    with (
        upstream() as plain,
        upstream(tls_files) as secure,
        mitmdump(
            tmp_path / "conf",
            "--set",
            f"irc_db={case}",
            # lazy: the client gets HTTP/2 from the proxy although the upstream is HTTP/1
            "--set",
            "connection_strategy=lazy",
        ) as proxy,
    ):
        with httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client:
            r1 = client.get(
                plain.url("/v1/users/42?expand=team&page=2"),
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            r2 = client.post(
                plain.url("/v1/orders"), json={"sku": "A-1"}, headers={"X-API-Key": API_KEY}
            )
        assert r1.status_code == r2.status_code == 200
        with httpx.Client(
            proxy=proxy.proxy_url,
            trust_env=False,
            timeout=30,
            verify=ssl.create_default_context(cafile=proxy.ca_cert),
        ) as client:
            r3 = client.get(
                secure.url("/v2/me", host="localhost"), headers={"Authorization": f"Bearer {TOKEN}"}
            )
        assert r3.status_code == 200
        out = subprocess.run(
            [
                curl,
                "-sS",
                "--http2",
                "-x",
                proxy.proxy_url,
                "--cacert",
                str(proxy.ca_cert),
                "-u",
                f"{BASIC_USER}:{BASIC_PASSWORD}",
                "-A",
                "reports-bot/2.1",
                secure.url("/v2/reports/2026-11-01/export", host="localhost"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(out.stdout)["ok"] is True
        # a client that does not trust our CA: an opaque TLS connection known by its SNI
        failed = subprocess.run(
            [
                curl,
                "-sS",
                "-x",
                proxy.proxy_url,
                "--cacert",
                str(tls_files[0]),
                secure.url("/never-seen", host="localhost"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert failed.returncode != 0
        # the upstream is gone: a failed flow
        with httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client:
            dead = client.get("http://127.0.0.1:9/v1/dead")
        assert dead.status_code == 502
    assert len(plain.seen) == 2 and len(secure.seen) == 2

    rows = _exchanges(case)
    by_path = {r["path"]: r for r in rows if r["path"]}
    assert set(by_path) == {
        "/v1/users/42",
        "/v1/orders",
        "/v2/me",
        "/v2/reports/2026-11-01/export",
        "/v1/dead",
    }
    users = by_path["/v1/users/42"]
    assert users["host"] == f"127.0.0.1:{plain.port}" and users["method"] == "GET"
    assert json.loads(str(users["query_names"])) == ["expand", "page"]
    assert users["status"] == 200 and users["tls"] == 0 and users["http_version"] == "1.1"
    assert users["client_ip"] == "127.0.0.1" and str(users["evidence"]).startswith("flow ")
    assert users["response_content_type"] == "application/json"
    assert by_path["/v1/orders"]["method"] == "POST"
    assert by_path["/v1/orders"]["request_content_type"] == "application/json"
    me = by_path["/v2/me"]
    assert me["host"] == f"localhost:{secure.port}" and me["tls"] == 1 and me["sni"] == "localhost"
    export = by_path["/v2/reports/2026-11-01/export"]
    assert export["http_version"] == "2" and export["tls"] == 1
    assert export["user_agent"] == "reports-bot/2.1"
    dead_row = by_path["/v1/dead"]
    assert dead_row["error"] and dead_row["status"] in (None, 502)
    opaque = [r for r in rows if r["method"] is None]
    assert len(opaque) == 1 and opaque[0]["sni"] == "localhost" and opaque[0]["tls"] == 1
    assert opaque[0]["host"] == "localhost" and opaque[0]["error"]

    creds = _credentials_by_exchange(case)
    assert creds[int(users["id"])] == [("bearer", "authorization")]
    assert creds[int(me["id"])] == [("bearer", "authorization")]
    assert creds[int(by_path["/v1/orders"]["id"])] == [("api_key", "x-api-key")]
    assert creds[int(export["id"])] == [("basic", "authorization")]
    with Store.open(case) as store:
        bearer = [c for c in queries.credentials(store) if c["kind"] == "bearer"]
        assert len(bearer) == 1 and bearer[0]["requests"] == 2
        identities = {i["id"] for i in queries.identities(store)}
        assert f"basic:{BASIC_USER}@localhost:{secure.port}" in identities
        hosts = {h["host"]: h["tls"] for h in queries.hosts(store)}
        assert hosts[f"localhost:{secure.port}"] is True
        assert hosts[f"127.0.0.1:{plain.port}"] is False

    assert "Traceback" not in proxy.output and "recompute failed" not in proxy.output
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("case.db*") if p.suffix != ".key")
    for secret in (TOKEN, API_KEY, BASIC_PASSWORD):
        assert secret.encode() not in raw


def test_bad_case_file_stops_mitmdump_with_a_clear_message(tmp_path: Path) -> None:
    not_a_case = tmp_path / "notes.txt"
    not_a_case.write_text("these are not the droids\n" * 100)
    with mitmdump(tmp_path / "conf", "--set", f"irc_db={not_a_case}") as proxy:
        assert proxy.proc.wait(timeout=60) == 1
    assert f"ir-console: {not_a_case}: not an ir-console case file" in proxy.output
    assert not_a_case.read_text() == "these are not the droids\n" * 100


def test_websocket_handshake_is_recorded(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    with upstream() as server, mitmdump(tmp_path / "conf", "--set", f"irc_db={case}") as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as conn:
            conn.sendall(
                f"GET {server.url('/v1/stream')} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "X-Auth-Token: ws-token-0123456789abcdef\r\n\r\n".encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                assert chunk, "proxy closed before the handshake answer"
                head += chunk
        assert head.startswith(b"HTTP/1.1 101")
    with Store.open(case) as store:
        rows = store.conn.execute(
            "SELECT path, status, websocket FROM exchanges WHERE path = '/v1/stream'"
        ).fetchall()
        kinds = [r[0] for r in store.conn.execute("SELECT kind FROM credentials")]
    assert rows == [("/v1/stream", 101, 1)]
    assert kinds == ["api_key"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("irc_queue=0", "irc_queue must be at least 1"),
        ("irc_enforce=true", "irc_enforce needs irc_db"),
    ],
)
def test_bad_options_stop_mitmdump(tmp_path: Path, option: str, message: str) -> None:
    with mitmdump(tmp_path / "conf", "--set", option) as proxy:
        assert proxy.proc.wait(timeout=60) == 1
    assert message in proxy.output
