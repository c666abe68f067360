"""h2c by ``Upgrade`` (RFC 7540 3.2): an HTTP/1.1 request asks for HTTP/2, the server answers
101 and then stream 1 in HTTP/2. The frames are made by python-hyper's ``h2`` state machines
(client and server, each started with ``initiate_upgrade_connection``) in this process; the
capture with real servers and curl is in ``test_h2c_upgrade_capture``."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import h2.config
import h2.connection
import h2.events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discovery.models import ObservedExchange
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from tests.discovery.wire import tls_memory as mem

TOKEN = "Bearer abcdef0123456789abcdef0123456789"
UPGRADED = "h2c connections (HTTP/2 by Upgrade from HTTP/1.1)"


def _upgrade_request(settings: bytes, path: str = "/v1/things", extra: bytes = b"") -> bytes:
    """The request as curl ``--http2`` sends it on an http:// URL."""
    return (
        b"GET %s HTTP/1.1\r\nHost: api.example.test:8080\r\nUser-Agent: curl/7.88.1\r\n"
        b"Accept: */*\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: %s\r\nAuthorization: %s\r\n%s\r\n"
        % (path.encode(), settings, TOKEN.encode(), extra)
    )


def _answer(server: h2.connection.H2Connection, sid: int) -> None:
    body = gzip.compress(b'{"stream": %d}' % sid)
    server.send_headers(
        sid,
        [(":status", "200"), ("content-type", "application/json"), ("content-encoding", "gzip")],
    )
    server.send_data(sid, body, end_stream=True)


def _upgraded_chunks(
    switching: bytes = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
    b"Upgrade: h2c\r\n\r\n",
    answer_stream_one: bool = True,
) -> list[mem.Chunk]:
    """Upgrade, 101 with the server's first HTTP/2 frames (stream 1's answer) in the same
    segment, then a second request on stream 3."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    settings = client.initiate_upgrade_connection()
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_upgrade_connection(settings)
    if answer_stream_one:
        _answer(server, 1)
    chunks: list[mem.Chunk] = [(True, _upgrade_request(settings))]
    chunks.append((False, switching + server.data_to_send()))
    client.send_headers(
        3,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "api.example.test:8080"),
            (":path", "/v1/items?expand=owner"),
            ("authorization", TOKEN),
        ],
    )
    client.send_data(3, b'{"n": 3}', end_stream=True)
    piece = client.data_to_send()  # the preface (magic, SETTINGS) and stream 3
    chunks.append((True, piece))
    for event in server.receive_data(piece):
        if isinstance(event, h2.events.StreamEnded):
            _answer(server, event.stream_id)
    chunks.append((False, server.data_to_send()))
    return chunks


def _read(tmp_path: Path, chunks: list[mem.Chunk]) -> tuple[list[ObservedExchange], IngestStats]:
    path = tmp_path / "upgrade.pcap"
    path.write_bytes(mem.pcap(mem.frames(chunks, server_port=8080)))
    stats = IngestStats()
    return sorted(read(path, stats), key=lambda ex: ex.ts), stats


def test_the_upgrade_request_is_recorded_once_with_stream_one_as_its_response(
    tmp_path: Path,
) -> None:
    found, stats = _read(tmp_path, _upgraded_chunks())
    assert [(ex.method, ex.target, ex.http_version) for ex in found] == [
        ("GET", "/v1/things", "1.1"),  # the upgrade request, as it was sent
        ("POST", "/v1/items?expand=owner", "2"),  # stream 3
    ]
    upgrade, second = found
    assert upgrade.status == 200  # stream 1's answer, not the 101
    assert upgrade.response_body == b'{"stream": 1}'  # its gzip body decoded
    assert dict(upgrade.response_headers)["content-type"] == "application/json"
    assert dict(upgrade.request_headers)["Authorization"] == TOKEN
    assert upgrade.host == "api.example.test:8080"
    assert not upgrade.partial
    assert upgrade.evidence == "frames 3-4"  # from the request to stream 1's end (with the 101)
    assert second.status == 200
    assert second.response_body == b'{"stream": 3}'
    assert second.request_body == b'{"n": 3}'
    assert second.host == "api.example.test:8080"
    assert stats.counts[UPGRADED] == 1
    assert not stats.counts["connections upgraded (handshake kept, frames skipped)"]


def test_a_101_without_an_upgrade_header_switches_to_the_only_protocol_offered(
    tmp_path: Path,
) -> None:
    found, _stats = _read(
        tmp_path, _upgraded_chunks(switching=b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    )
    assert [(ex.target, ex.status) for ex in found] == [
        ("/v1/things", 200),
        ("/v1/items?expand=owner", 200),
    ]


def test_stream_one_never_answered_still_records_the_request_once(tmp_path: Path) -> None:
    found, _stats = _read(tmp_path, _upgraded_chunks(answer_stream_one=False))
    upgrade = [ex for ex in found if ex.target == "/v1/things"]
    assert len(upgrade) == 1
    assert upgrade[0].status is None
    assert [ex.status for ex in found if ex.target != "/v1/things"] == [200]


def test_a_refused_upgrade_stays_http1_and_the_next_request_is_read(tmp_path: Path) -> None:
    """The server answers the upgrade request in HTTP/1.1 (as hypercorn does one with a body):
    the connection goes on in HTTP/1.1."""
    body = b'{"x":1}'
    request = _upgrade_request(b"AAMAAABkAAQCAAAAAAIAAAAA", "/post", b"Content-Length: 7\r\n")
    request = request.replace(b"GET ", b"POST ", 1) + body
    chunks: list[mem.Chunk] = [
        (True, request),
        (False, mem.http1_response(request)),
        (True, b"GET /next HTTP/1.1\r\nHost: api.example.test:8080\r\n\r\n"),
        (False, mem.http1_response(b"")),
    ]
    found, stats = _read(tmp_path, chunks)
    assert [(ex.method, ex.target, ex.http_version, ex.status) for ex in found] == [
        ("POST", "/post", "1.1", 200),
        ("GET", "/next", "1.1", 200),
    ]
    assert found[0].request_body == body
    assert not stats.counts[UPGRADED]


def test_a_websocket_upgrade_is_not_taken_for_h2c(tmp_path: Path) -> None:
    request = (
        b"GET /chat HTTP/1.1\r\nHost: api.example.test\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    chunks: list[mem.Chunk] = [
        (True, request),
        (
            False,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi",
        ),
    ]
    found, stats = _read(tmp_path, chunks)
    assert [(ex.target, ex.status, ex.websocket) for ex in found] == [("/chat", 101, True)]
    assert not stats.counts[UPGRADED]


_SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(0, 255))),
    cut=st.integers(0, 2),
)
def test_whatever_follows_the_101_the_upgrade_request_is_recorded_once(
    flips: list[tuple[int, int, int]], cut: int
) -> None:
    """Bytes changed anywhere after the 101 (a broken or hostile HTTP/2 side), or the
    connection cut short: no error, and the upgrade request is one exchange."""
    chunks = _upgraded_chunks()
    parts = [bytearray(data) for _side, data in chunks]
    for part, at, value in flips:
        start = len(_SWITCH) if part == 1 else 0  # the upgrade request and the 101 stay
        if part == 0 or len(parts[part]) <= start:
            continue
        parts[part][start + at % (len(parts[part]) - start)] = value
    mangled = [(side, bytes(data)) for (side, _), data in zip(chunks, parts, strict=True)]
    mangled = mangled[: len(mangled) - cut]  # cut short (request and 101 kept)
    with tempfile.TemporaryDirectory() as folder:
        found, _stats = _read(Path(folder), mangled)
    assert [ex.target for ex in found].count("/v1/things") == 1
