"""Logins a real client sends that name a user or carry a password by its field's name: NTLM
(curl --ntlm against a server that answers the challenge), form and JSON logins (read by
``bodies``), a numeric password in the query, an undocumented Authorization scheme. Run through the pipeline into a
real case: the user and domain recorded, the password fingerprinted, no secret or hash kept."""

from __future__ import annotations

import base64
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from discovery.case.store import Store
from discovery.models import ObservedExchange
from discovery.redact.convert import to_exchange
from discovery.redact.credentials import ntlm
from discovery.views import queries
from tests.conftest import require_tool

pytestmark = pytest.mark.integration  # curl, httpx against a loopback server

PASSWORD = "Winter-2031-horse"
PIN = "12345678"  # numeric: the query detector's shape filter alone would call it an id
# an NTLM CHALLENGE: flags unicode + NTLM, a fixed server challenge, no target information
CHALLENGE = (
    b"NTLMSSP\x00"
    + struct.pack("<I", 2)
    + struct.pack("<HHI", 0, 0, 48)
    + struct.pack("<I", 0x00008201)
    + b"\x01\x23\x45\x67\x89\xab\xcd\xef"
    + bytes(8)
    + struct.pack("<HHI", 0, 0, 48)
)


class Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, tuple[tuple[str, str], ...], bytes]] = []
        self.port = 0


@contextmanager
def server() -> Iterator[Server]:
    record = Server()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            record.requests.append((self.command, self.path, tuple(self.headers.items()), body))
            auth = self.headers.get("Authorization") or ""
            if self.path.startswith("/ntlm") and not auth:
                self.send_response(401)
                self.send_header("WWW-Authenticate", "NTLM")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if auth.startswith("NTLM ") and b"\x01\x00\x00\x00" in base64.b64decode(auth[5:])[8:12]:
                self.send_response(401)
                self.send_header("WWW-Authenticate", "NTLM " + base64.b64encode(CHALLENGE).decode())
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def curl(*args: str) -> None:
    exe = require_tool("curl")
    subprocess.run(
        [exe, "-s", "-o", "/dev/null", "--noproxy", "*", "--max-time", "10", *args],
        check=True,
        timeout=20,
        env={"PATH": "/usr/bin:/bin"},
    )


def _case(case_path: Path, record: Server) -> tuple[Store, list[dict[str, Any]]]:
    store = Store.open(case_path)
    observed = [
        ObservedExchange(
            ts=1_790_000_000.0 + i,
            source="live",
            evidence=f"request {i}",
            client_ip="127.0.0.1",
            client_port=40000 + i,
            server_ip="127.0.0.1",
            server_port=record.port,
            http_version="1.1",
            method=method,
            target=target,
            host=next((v for k, v in headers if k.lower() == "host"), None),
            status=200,
            request_headers=headers,
            request_body=body,
        )
        for i, (method, target, headers, body) in enumerate(record.requests)
    ]
    store.add_exchanges([to_exchange(o, store.fingerprint) for o in observed])
    from discovery.analyse.recompute import recompute

    recompute(store)
    return store, queries.credentials(store)


def _stored_text(store: Store) -> str:
    return "\n".join(
        repr(row)
        for table in ("credentials", "exchange_credentials", "exchanges", "identities")
        for row in store.conn.execute(f"SELECT * FROM {table}")
    )


Send = Callable[[str], None]
CASES: dict[str, tuple[Send, dict[str, Any], list[str]]] = {
    "ntlm (curl --ntlm)": (
        lambda u: curl("--ntlm", "-u", f"CORP\\alice:{PASSWORD}", f"{u}/ntlm/mail"),
        {"kind": "ntlm", "redacted": "NTLM CORP\\alice", "identity": "ntlm:CORP\\alice"},
        [PASSWORD],
    ),
    "form login (curl -d)": (
        lambda u: curl("-d", f"username=bob&password={PASSWORD}&remember=1", f"{u}/login"),
        {"kind": "password"},
        [PASSWORD],
    ),
    "json login (httpx)": (
        lambda u: httpx.post(f"{u}/api/login", json={"email": "c@x.test", "pwd": PASSWORD}),
        {"kind": "password"},
        [PASSWORD],
    ),
    "numeric password in the query (curl)": (
        lambda u: curl(f"{u}/login.cgi?USER=admin&PASSWORD={PIN}"),
        {"kind": "password", "redacted": "admin:…"},
        [PIN],
    ),
    "undocumented authorization scheme (curl)": (
        lambda u: curl("-H", "Authorization: X-Corp-Auth v=1;k=Q2hhbmdlTWU", f"{u}/x"),
        {"kind": "authorization"},
        ["Q2hhbmdlTWU"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_login_recorded_without_its_secret(name: str, case_path: Path) -> None:
    send, expected, secrets = CASES[name]
    with server() as record:
        send(f"http://127.0.0.1:{record.port}")
    store, creds = _case(case_path, record)
    with store:
        matching = [c for c in creds if c["kind"] == expected["kind"]]
        assert len(matching) == 1, [(c["kind"], c["redacted"]) for c in creds]
        cred = matching[0]
        for key in ("redacted", "identity"):
            if key in expected:
                assert cred[key] == expected[key].replace("{port}", str(record.port))
        text = _stored_text(store) + repr(creds)
        for secret in secrets:
            assert secret not in text
        if expected["kind"] == "password":
            (fingerprint,) = store.conn.execute(
                "SELECT fingerprint FROM credentials WHERE id = ?", (cred["id"],)
            ).fetchone()
            assert fingerprint == store.fingerprint(secrets[0])


def test_ntlm_hashes_are_never_read(case_path: Path) -> None:
    """The same user logging in twice is one credential; the challenge responses (crackable)
    are stored nowhere."""
    with server() as record:
        for _ in range(2):
            curl("--ntlm", "-u", f"CORP\\alice:{PASSWORD}", f"http://127.0.0.1:{record.port}/ntlm")
    store, creds = _case(case_path, record)
    with store:
        assert [c["kind"] for c in creds] == ["ntlm"]
        responses = [
            base64.b64decode(v[5:])
            for _m, _t, headers, _b in record.requests
            for k, v in headers
            if k == "Authorization" and v.startswith("NTLM ")
        ]
        type3 = [r for r in responses if r[8:12] == b"\x03\x00\x00\x00"]
        assert len(type3) == 2
        nt_len, _alloc, nt_off = struct.unpack_from("<HHI", type3[0], 20)
        nt_response = type3[0][nt_off : nt_off + nt_len]
        stored = _stored_text(store)
        assert nt_response.hex() not in stored
        assert base64.b64encode(nt_response).decode() not in stored


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    head = bytes([size]) if size < 128 else b"\x82" + size.to_bytes(2, "big")
    return bytes([tag]) + head + body


def test_kerberos_ticket_names_its_service_and_realm() -> None:
    """No KDC runs here, so the Negotiate token is built by hand, as RFC 4120 lays an AP-REQ
    out (the ticket's encrypted part stands in as random bytes)."""
    gs = lambda s: _der(0x1B, s.encode())  # noqa: E731 - GeneralString
    sname = _der(
        0x30, _der(0xA0, b"\x02\x01\x02") + _der(0xA1, _der(0x30, gs("HTTP") + gs("web.corp.test")))
    )
    enc = _der(0x30, _der(0xA0, b"\x02\x01\x12") + _der(0xA2, _der(0x04, bytes(range(64)))))
    ticket = _der(
        0x61,
        _der(
            0x30,
            _der(0xA0, b"\x02\x01\x05")
            + _der(0xA1, gs("CORP.TEST"))
            + _der(0xA2, sname)
            + _der(0xA3, enc),
        ),
    )
    ap_req = _der(
        0x6E,
        _der(0x30, _der(0xA0, b"\x02\x01\x05") + _der(0xA1, b"\x02\x01\x0e") + _der(0xA3, ticket)),
    )
    token = _der(0x60, b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02" + b"\x01\x00" + ap_req)
    seen: list[str] = []

    def fp(value: str) -> str:
        seen.append(value)
        return "fp:" + str(len(seen))

    (sighting,) = ntlm.detect("Authorization", "negotiate", base64.b64encode(token).decode(), fp)
    assert sighting.kind == "kerberos_ticket"
    assert sighting.public_id == "HTTP/web.corp.test@CORP.TEST"
    assert dict(sighting.claims)["realm"] == "CORP.TEST"
    assert bytes(range(64)).hex() in seen[0]  # the whole ticket is what is fingerprinted
