"""HTTP/2 into exchanges: h2c with prior knowledge and HTTP/2 over decrypted TLS, the frames made
by python-hyper's ``h2`` state machines (client and server) in this process."""

from __future__ import annotations

import gzip
from pathlib import Path

import h2.config
import h2.connection
import h2.events

from discovery.models import ObservedExchange
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from discovery.wire.http2 import UNDECODABLE, H2Session
from discovery.wire.keylog import load
from tests.discovery.wire import tls_memory as mem

TOKEN = "Bearer abcdef0123456789abcdef0123456789"
RequestSpec = tuple[list[tuple[str, str]], bytes]


def _requests(count: int) -> list[RequestSpec]:
    out: list[RequestSpec] = []
    for i in range(count):
        headers = [
            (":method", "POST" if i % 2 else "GET"),
            (":scheme", "https"),
            (":authority", "api.example.test"),
            (":path", f"/v1/items/{i}?expand=owner"),
            ("authorization", TOKEN),
            ("user-agent", "h2-client/1.0"),
            ("cookie", "session=s3ss10n"),
            ("cookie", "theme=dark"),
        ]
        out.append((headers, b'{"n": %d}' % i if i % 2 else b""))
    return out


class _Server:
    """An ``h2`` server answering every request: 200, a gzip JSON body."""

    def __init__(self) -> None:
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.conn.initiate_connection()

    def __call__(self, data: bytes) -> bytes:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.StreamEnded):
                body = gzip.compress(b'{"id": %d, "ok": true}' % event.stream_id)
                self.conn.send_headers(
                    event.stream_id,
                    [
                        (":status", "200"),
                        ("content-type", "application/json"),
                        ("content-encoding", "gzip"),
                    ],
                )
                self.conn.send_data(event.stream_id, body, end_stream=True)
        return bytes(self.conn.data_to_send())


def _client_bytes(requests: list[RequestSpec]) -> list[bytes]:
    """The client's bytes: the preface and settings, then one piece per request."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    pieces = [client.data_to_send()]
    for headers, body in requests:
        sid = client.get_next_available_stream_id()
        client.send_headers(sid, headers, end_stream=not body)
        if body:
            client.send_data(sid, body, end_stream=True)
        pieces.append(client.data_to_send())
    return pieces


def _h2c_chunks(requests: list[RequestSpec]) -> list[mem.Chunk]:
    server = _Server()
    chunks: list[mem.Chunk] = []
    for piece in _client_bytes(requests):
        chunks.append((True, piece))
        chunks.append((False, server(piece)))
    return chunks


def _read(path: Path, keylog: Path | None = None) -> tuple[list[ObservedExchange], IngestStats]:
    stats = IngestStats()
    secrets = load([keylog]) if keylog else None
    return list(read(path, stats, secrets=secrets)), stats


def _check(found: list[ObservedExchange], count: int) -> None:
    assert len(found) == count
    for i, ex in enumerate(found):
        assert ex.http_version == "2"
        assert ex.method == ("POST" if i % 2 else "GET")
        assert ex.target == f"/v1/items/{i}?expand=owner"
        assert ex.host == "api.example.test"
        assert ex.status == 200
        headers = dict(ex.request_headers)
        assert headers["authorization"] == TOKEN
        assert headers["cookie"] == "session=s3ss10n; theme=dark"  # RFC 9113 8.2.3
        assert not any(name.startswith(":") for name, _ in ex.request_headers)
        assert ex.response_body == b'{"id": %d, "ok": true}' % (2 * i + 1)  # gzip decoded
        assert ex.request_body == (b'{"n": %d}' % i if i % 2 else b"")
        assert not ex.partial


def test_h2c_with_prior_knowledge_gives_one_exchange_per_stream(tmp_path: Path) -> None:
    path = tmp_path / "h2c.pcap"
    path.write_bytes(mem.pcap(mem.frames(_h2c_chunks(_requests(6)), server_port=8080)))
    found, stats = _read(path)
    _check(found, 6)
    assert not found[0].tls
    assert stats.counts["h2c connections (HTTP/2 with prior knowledge)"] == 1


def test_http2_over_decrypted_tls_after_alpn_h2(tmp_path: Path) -> None:
    requests = _requests(5)
    client = b"".join(_client_bytes(requests))  # the whole client side, written at once
    keylog = tmp_path / "keys.log"
    chunks = mem.conversation(tmp_path, keylog, [client], _Server(), alpn=["h2"])
    path = tmp_path / "h2.pcap"
    path.write_bytes(mem.pcap(mem.frames(chunks)))
    found, _stats = _read(path, keylog)
    _check(found, 5)
    assert all(ex.tls and ex.alpn == "h2" for ex in found)


def test_lost_hpack_state_is_counted_and_later_headers_marked_partial() -> None:
    """A header block indexing dynamic-table entries made by a block never seen (a capture
    that missed it) cannot be decoded: counted, and nothing is invented for it."""
    pieces = _client_bytes(_requests(3))
    out: list[ObservedExchange] = []
    stats = IngestStats()
    session = H2Session(out.append, stats, "pcap", ("10.0.0.1", 1), ("10.0.0.2", 2))
    session.data(True, pieces[0], 0.0, 1)  # preface and settings
    session.data(True, pieces[2], 0.0, 2)  # the second request: its first block never seen
    session.data(True, pieces[3], 0.0, 3)
    session.close()
    assert stats.counts[UNDECODABLE] == 2
    assert out == []  # no request is made up from headers that could not be read
