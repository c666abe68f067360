"""Request bodies mitmproxy streams (stream_large_bodies): a blocked credential in the first
irc_body_limit bytes never reaches the upstream, whether the body declares its length or is
chunked, plain or gzip-compressed; clean streamed bodies pass whole; the case records the
credential found in the streamed prefix. Real mitmdump, httpx, and an upstream that keeps every
byte it receives."""

from __future__ import annotations

import gzip
import json
import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from discovery.case import blocklist
from discovery.case.store import Store
from discovery.redact.secrets import credential_id
from tests.conftest import make_exchange, make_sighting
from tests.discovery.proxyfixtures import mitmdump

pytestmark = pytest.mark.integration  # starts processes or servers

TOKEN = "ghp_" + "S7reamedBodyT0ken" * 2 + "xy"  # 36 characters after the prefix
FILLER = b"x" * (200 * 1024)  # over stream_large_bodies (4 KiB) by far


class RawUpstream:
    """Keeps the raw bytes of every connection; answers 200 once a request's body is complete
    (Content-Length read, or the last chunk of a chunked body)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        lock = threading.Lock()
        received = self.received

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(20)
                data = b""
                try:
                    while not _complete(data):
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if _complete(data):
                        sock.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        )
                except OSError:
                    pass
                finally:
                    with lock:
                        received.append(data)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def carrying(self, needle: bytes) -> int:
        return sum(needle in raw for raw in list(self.received))


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        return body.endswith(b"0\r\n\r\n")
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


@contextmanager
def raw_upstream() -> Iterator[RawUpstream]:
    server = RawUpstream()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_blocked_credential_in_a_streamed_body_never_reaches_the_upstream(
    tmp_path: Path,
) -> None:
    case = tmp_path / "case.db"
    with Store.open(case) as store:  # the leaked token, seen before and now blocked
        sighting = make_sighting(store, TOKEN, kind="github_token", location="body", name="token")
        store.add_exchanges([make_exchange(credentials=(sighting,))])
        cid = credential_id(store.fingerprint(TOKEN))
        blocklist.block_credential(store, cid, "leaked")
    leaked = json.dumps({"token": TOKEN, "data": FILLER.decode()}).encode()
    # compressed, still over the streaming size: data that does not compress away
    noisy = json.dumps({"token": TOKEN, "data": os.urandom(50 * 1024).hex()}).encode()
    clean = json.dumps({"token": "none", "data": FILLER.decode()}).encode()
    with (
        raw_upstream() as server,
        mitmdump(
            tmp_path / "conf",
            "--set",
            f"irc_db={case}",
            "--set",
            "irc_enforce=true",
            "--set",
            "stream_large_bodies=4k",
        ) as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
    ):
        json_type = {"Content-Type": "application/json"}
        # buffered (under the streaming size): answered 403 as before
        small = client.post(server.url("/upload/small"), json={"token": TOKEN}, headers=json_type)
        assert small.status_code == 403
        sent = [
            ("length", {"content": leaked}),
            ("chunked", {"content": chunks(leaked)}),
            ("gzip", {"content": gzip.compress(noisy), "encoding": "gzip"}),
        ]
        for name, how in sent:
            headers = dict(json_type)
            if "encoding" in how:
                headers["Content-Encoding"] = str(how["encoding"])
            with pytest.raises(httpx.HTTPError):  # no 403 possible: the connection is closed
                client.post(server.url(f"/upload/{name}"), content=how["content"], headers=headers)
        # clean streamed bodies pass whole, declared or chunked
        for name, content in (("clean-length", clean), ("clean-chunked", chunks(clean))):
            answer = client.post(server.url(f"/upload/{name}"), content=content, headers=json_type)
            assert answer.status_code == 200, name
    assert server.carrying(TOKEN.encode()) == 0  # not in any byte the upstream received
    assert server.carrying(b"/upload/clean-length") == 1
    assert server.carrying(b"/upload/clean-chunked") == 1
    assert sum(raw.count(b"x") >= len(FILLER) for raw in server.received) == 2  # whole bodies
    time.sleep(0.2)
    with Store.open(case) as store:
        blocked = store.conn.execute(
            "SELECT e.path, ec.credential_id FROM exchanges e "
            "JOIN exchange_credentials ec ON ec.exchange_id = e.id "
            "WHERE e.blocked = 1 ORDER BY e.path"
        ).fetchall()
    # each blocked request recorded with the credential found in its streamed prefix
    assert blocked == [
        ("/upload/chunked", cid),
        ("/upload/gzip", cid),
        ("/upload/length", cid),
        ("/upload/small", cid),
    ]


def test_a_recording_proxy_records_the_credential_in_a_streamed_body(tmp_path: Path) -> None:
    case = tmp_path / "case.db"
    Store.open(case).close()
    leaked = json.dumps({"token": TOKEN, "data": FILLER.decode()}).encode()
    with (
        raw_upstream() as server,
        mitmdump(
            tmp_path / "conf", "--set", f"irc_db={case}", "--set", "stream_large_bodies=4k"
        ) as proxy,
        httpx.Client(proxy=proxy.proxy_url, trust_env=False, timeout=30) as client,
    ):
        for name, content in (("length", leaked), ("chunked", chunks(leaked))):
            answer = client.post(
                server.url(f"/upload/{name}"),
                content=content,
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 200
    assert server.carrying(TOKEN.encode()) == 2  # recording only: forwarded, whole
    with Store.open(case) as store:
        rows = store.conn.execute(
            "SELECT e.path, e.request_bytes, ec.credential_id FROM exchanges e "
            "LEFT JOIN exchange_credentials ec ON ec.exchange_id = e.id ORDER BY e.path"
        ).fetchall()
        cid = credential_id(store.fingerprint(TOKEN))
    assert rows == [("/upload/chunked", len(leaked), cid), ("/upload/length", len(leaked), cid)]
