"""The proxy the console starts enforces: real clients (httpx and curl) send a blocked credential
in every placement the case detects, and requests with a fake Host header over plain HTTP and
through CONNECT, through a proxy started with ``c`` on the Live screen; an upstream counts what
reaches it: nothing carrying the blocked credential, nothing with a fake Host, after the block
applies."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from discovery.case.store import Store
from discovery.redact.secrets import credential_id
from ir_console.tui.app import ConsoleApp
from tests.discovery.proxyfixtures import Upstream, self_signed_cert, upstream
from tests.ir_console.tui.conftest import press, settle, type_text

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

CURL = ("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20")
WAIT = 60.0  # an upper bound for polling loops, never a performance assertion


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ir_console(case: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ir_console", "--db", str(case), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def curl(proxy: str, *args: str) -> int:
    """Send one request with curl through ``proxy``; its HTTP status (000: no answer)."""
    proc = subprocess.run(
        [*CURL, "-x", proxy, "--noproxy", "", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return int(proc.stdout.strip() or 0)


async def wait_for(pilot: object, predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"{what} never happened"
        await pilot.pause(0.2)  # type: ignore[attr-defined]


def placements(token: str, plain: Upstream, proxy: str) -> list[tuple[str, Callable[[], int]]]:
    """Every way a client sends the credential, each a real request through the proxy."""

    def via_httpx(**kwargs: object) -> Callable[[], int]:
        def send() -> int:
            with httpx.Client(proxy=proxy, trust_env=False, timeout=30) as client:
                return client.request(**kwargs).status_code  # type: ignore[arg-type]

        return send

    url = plain.url("/v1/items")
    return [
        ("Bearer", via_httpx(method="GET", url=url, headers={"Authorization": f"Bearer {token}"})),
        (
            "Bearer<TAB>",
            lambda: curl(proxy, "-H", f"Authorization: Bearer\t{token}", url),
        ),
        (
            "bearer, two spaces",
            via_httpx(method="GET", url=url, headers={"Authorization": f"bearer  {token}"}),
        ),
        ("X-Api-Key", via_httpx(method="GET", url=url, headers={"X-Api-Key": token})),
        ("query", via_httpx(method="GET", url=url, params={"access_token": token})),
        (
            "form body",
            via_httpx(method="POST", url=url, data={"token": token, "note": "hello"}),
        ),
        ("JSON body", via_httpx(method="POST", url=url, json={"api_key": token, "n": 1})),
        (
            "multipart body",
            lambda: curl(proxy, "-F", f"token={token}", "-F", "note=hi", url),
        ),
        (
            "curl form body",
            lambda: curl(proxy, "--data-urlencode", f"client_secret={token}", url),
        ),
        (
            "through CONNECT",
            lambda: curl(proxy, "-p", "-H", f"Authorization: Bearer {token}", url),
        ),
    ]


async def test_the_console_proxy_enforces_every_placement_and_the_real_destination(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # mitmproxy's CA goes to ~/.mitmproxy
    port = free_port()
    proxy = f"http://127.0.0.1:{port}"
    token = "tok-" + secrets.token_hex(20)
    app = ConsoleApp(case)
    with upstream() as plain, upstream(self_signed_cert(tmp_path)) as tls_server:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await press(pilot, "7", "c")
            await press(pilot, *(["backspace"] * 20))
            await type_text(pilot, f"127.0.0.1:{port}")
            await pilot.press("enter")  # from here a worker watches the proxy until it ends
            await pilot.pause(0.3)
            screen = app.screen
            proc = screen.proxy
            assert proc is not None

            def listening() -> bool:
                assert proc.poll() is None, "the proxy exited at start"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                except OSError:
                    return False
                return True

            await wait_for(pilot, listening, "the proxy listening")
            # the credential reaches the case through the proxy, then is blocked by id
            with httpx.Client(proxy=proxy, trust_env=False, timeout=30) as client:
                first = client.get(
                    plain.url("/v1/first"), headers={"Authorization": f"Bearer {token}"}
                )
            assert first.status_code == 200
            with Store.open(case) as store:
                cid = credential_id(store.fingerprint(token))

            def in_case() -> bool:
                with Store.open(case) as store:
                    row = store.conn.execute(
                        "SELECT 1 FROM credentials WHERE id = ?", (cid,)
                    ).fetchone()
                return row is not None

            await wait_for(pilot, in_case, "the credential reaching the case")
            blocked = ir_console(case, "block", "credential", cid, "--reason", "leaked")
            assert blocked.returncode == 0, blocked.stderr

            def refused() -> bool:
                with httpx.Client(proxy=proxy, trust_env=False, timeout=30) as client:
                    resp = client.get(
                        plain.url("/v1/probe"), headers={"Authorization": f"Bearer {token}"}
                    )
                return resp.status_code == 403

            await wait_for(pilot, refused, "the block applying")
            reached_before = len(plain.carrying(token))

            statuses = {name: send() for name, send in placements(token, plain, proxy)}
            assert statuses == dict.fromkeys(statuses, 403), statuses
            assert len(plain.carrying(token)) == reached_before  # none after the block

            # a fake Host header: plain HTTP (absolute form) and through CONNECT, also TLS
            ca = tmp_path / ".mitmproxy" / "mitmproxy-ca-cert.pem"
            sneaky = {
                "HTTP, absolute form": curl(
                    proxy, "-H", "Host: harmless.example", plain.url("/admin/fake-host-1")
                ),
                "HTTP through CONNECT": curl(
                    proxy, "-p", "-H", "Host: harmless.example", plain.url("/admin/fake-host-2")
                ),
                "HTTPS through CONNECT": curl(
                    proxy,
                    "--cacert",
                    str(ca),
                    "-H",
                    "Host: harmless.example",
                    tls_server.url("/admin/fake-host-3"),
                ),
            }
            assert sneaky == dict.fromkeys(sneaky, 403), sneaky
            assert not plain.carrying("fake-host") and not tls_server.carrying("fake-host")
            # other traffic still passes (an honest Host, another credential); an honest TLS
            # request is sent upstream (502: the console's proxy verifies the upstream's
            # certificate, and this one is self-signed), not refused
            assert curl(proxy, plain.url("/v1/honest")) == 200
            assert curl(proxy, "--cacert", str(ca), tls_server.url("/v1/honest-tls")) == 502
            assert curl(proxy, "-H", "Authorization: Bearer tok-other-0000", plain.url("/")) == 200

            def recorded() -> bool:
                with Store.open(case) as store:
                    count = store.conn.execute(
                        "SELECT COUNT(*) FROM exchanges WHERE blocked = 1"
                    ).fetchone()[0]
                return bool(count >= len(statuses) + len(sneaky))

            await wait_for(pilot, recorded, "the blocked requests reaching the case")
            await pilot.press("s")
            proc.wait(20)
            await settle(pilot)
    with Store.open(case) as store:
        dump = json.dumps(store.conn.execute("SELECT * FROM exchanges").fetchall())
    assert token not in dump
