"""gRPC-Web against a real server: sonora's WSGI gRPC-Web application behind werkzeug (HTTP/1.1),
called by sonora's client (``grpc-web+proto``) and by httpx in ``grpc-web-text``; captured with
tcpdump and through mitmdump. Each call is its method over HTTP/1.1, its outcome the
grpc-status of the trailer frame inside the body (base64 too), its metadata credentials and the
JWT inside its request message found and never stored raw."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from discovery.case.store import Store
from tests.discovery.grpc.conftest import Captured
from tests.discovery.grpc.grpc_web_lab import WebLab, call_web, serve_web

pytestmark = pytest.mark.integration

ROWS = (
    "SELECT method, path, http_version, request_content_type, status, protocol, outcome, "
    "sensitive, facts FROM exchanges ORDER BY ts, id"
)
GET = ("POST", "/lab.v1.Accounts/GetAccount", "1.1")  # HTTP/1.1
PROTO = "application/grpc-web+proto"
TEXT = "application/grpc-web-text"


@dataclass
class WebCapture:
    web: WebLab
    outcomes: dict[str, str]
    case: Path


@pytest.fixture(scope="module")
def web_capture(
    captured: Captured, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebCapture]:
    from discovery.ingest.files import ingest_files
    from tests.discovery.redact.credentials.loopback_capture import tcpdump

    base = tmp_path_factory.mktemp("grpc-web")
    pcap, case = base / "web.pcap", base / "case.db"
    with serve_web(captured.compiled) as web, tcpdump(pcap, web.port):
        outcomes = call_web(web)
    with Store.open(case) as store:
        (result,) = ingest_files(store, [pcap])
        assert result.stats.exchanges == len(outcomes)
    yield WebCapture(web, outcomes, case)


def test_the_clients_saw_each_status(web_capture: WebCapture) -> None:
    assert web_capture.outcomes == {
        "get": "OK",
        "get_unauthenticated": "UNAUTHENTICATED",
        "get_forbidden": "PERMISSION_DENIED",
        "get_broken": "INTERNAL",
        "get_lost": "DATA_LOSS",
        "get_with_context": "OK",
        "get_text": "OK",
    }


def test_each_call_is_its_method_with_the_trailer_frames_status(web_capture: WebCapture) -> None:
    with Store.open(web_capture.case) as store:
        rows = [r[:7] for r in store.conn.execute(ROWS)]
    assert rows == [
        (*GET, PROTO, 200, "grpc", "OK"),  # grpc-status 0 in the body's trailer frame
        (*GET, PROTO, 401, "grpc", "UNAUTHENTICATED"),  # HTTP 200, the code's HTTP status
        (*GET, PROTO, 403, "grpc", "PERMISSION_DENIED"),
        (*GET, PROTO, 500, "grpc", "INTERNAL"),
        (*GET, PROTO, 500, "grpc", "DATA_LOSS"),
        (*GET, PROTO, 200, "grpc", "OK"),
        (*GET, TEXT, 200, "grpc", "OK"),  # base64 body, trailers decoded from it
    ]


def test_metadata_and_request_message_credentials_found_never_stored_raw(
    web_capture: WebCapture,
) -> None:
    from discovery.views import queries

    lab = web_capture.web.lab
    with Store.open(web_capture.case) as store:
        kinds = {c["kind"] for c in queries.credentials(store)}
        places = store.conn.execute(
            "SELECT e.request_content_type, ec.location, ec.name, c.kind "
            "FROM exchange_credentials ec JOIN exchanges e ON e.id = ec.exchange_id "
            "JOIN credentials c ON c.id = ec.credential_id WHERE c.kind = 'jwt' ORDER BY e.ts"
        ).fetchall()
        facts = [json.loads(r[8]) for r in store.conn.execute(ROWS) if r[8]]
    assert {"bearer", "api_key", "jwt"} <= kinds
    # the same JWT, in a binary message and in a base64 (grpc-web-text) one
    assert places == [
        (PROTO, "body", "protobuf field 2.1", "jwt"),
        (TEXT, "body", "protobuf field 2.1", "jwt"),
    ]
    assert facts == [
        {"request_sensitive": {"email": 1, "jwt": 1}},
        {"request_sensitive": {"jwt": 1}},
    ]
    for path in web_capture.case.parent.glob("case.db*"):
        raw = path.read_bytes()
        for secret in (lab.token, lab.api_key, lab.message_token):
            assert secret.encode() not in raw


def test_grpc_web_through_the_proxy_is_recorded_as_from_the_capture(
    web_capture: WebCapture, captured: Captured, tmp_path: Path
) -> None:
    from tests.discovery.proxyfixtures import mitmdump

    case = tmp_path / "proxy.db"
    with (
        serve_web(captured.compiled) as web,
        mitmdump(
            tmp_path / "conf", "--mode", f"reverse:{web.url}", "--set", f"irc_db={case}"
        ) as proxy,
    ):
        outcomes = call_web(web, url=f"http://127.0.0.1:{proxy.port}")
    assert outcomes == web_capture.outcomes
    with Store.open(web_capture.case) as store:
        expected = [r for r in store.conn.execute(ROWS)]
    with Store.open(case) as store:
        assert [r for r in store.conn.execute(ROWS)] == expected
        kinds = {k for (k,) in store.conn.execute("SELECT kind FROM credentials")}
    assert {"bearer", "api_key", "jwt"} <= kinds
    for path in tmp_path.glob("proxy.db*"):
        raw = path.read_bytes()
        for secret in (web.lab.token, web.lab.api_key, web.lab.message_token):
            assert secret.encode() not in raw
