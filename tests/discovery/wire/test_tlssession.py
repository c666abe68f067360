"""TLS decryption with key logs, on real OpenSSL conversations made in this process (Python's
``ssl`` on both ends over memory BIOs, the client writing its key log), laid out as captures."""

from __future__ import annotations

import ssl
import struct
from pathlib import Path
from typing import Any

import pytest

from discovery.models import ObservedExchange
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from discovery.wire.keylog import KeyLog, load
from discovery.wire.tlssession import DECRYPTED, FAILED, LOST, NO_SECRETS
from tests.discovery.wire import tls_memory as mem
from tests.discovery.wire.tls_lab import HOST

REQUESTS = [
    b"GET /v1/users/42?page=2 HTTP/1.1\r\nHost: api.example.test\r\n"
    b"Authorization: Bearer abcdef0123456789abcdef0123456789\r\n\r\n",
    b"POST /v1/orders HTTP/1.1\r\nHost: api.example.test\r\nX-API-Key: k3y-0123456789abcdef\r\n"
    b'Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{"qty": 1} ',
]

TLS12 = ssl.TLSVersion.TLSv1_2
CASES: dict[str, dict[str, Any]] = {
    "tls13": {},
    "tls12-ecdhe-aes128-gcm": {"version": TLS12, "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"},
    "tls12-ecdhe-aes256-gcm": {"version": TLS12, "ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384"},
    "tls12-chacha20": {"version": TLS12, "ciphers": "ECDHE-ECDSA-CHACHA20-POLY1305"},
    "tls12-aes-ccm": {"version": TLS12, "ciphers": "ECDHE-ECDSA-AES128-CCM"},
    "tls12-cbc-sha1-etm": {"version": TLS12, "ciphers": "ECDHE-ECDSA-AES128-SHA"},
    "tls12-cbc-sha1-mac-then-encrypt": {
        "version": TLS12,
        "ciphers": "ECDHE-ECDSA-AES256-SHA",
        "no_etm": True,
    },
    "tls12-cbc-sha384": {"version": TLS12, "ciphers": "ECDHE-ECDSA-AES256-SHA384"},
    "tls12-rsa-kx-gcm": {"version": TLS12, "ciphers": "AES128-GCM-SHA256", "cert_kind": "rsa"},
    "tls12-rsa-kx-cbc-sha256": {
        "version": TLS12,
        "ciphers": "AES256-SHA256",
        "cert_kind": "rsa",
        "no_etm": True,
    },
}


def _capture(tmp_path: Path, chunks: list[mem.Chunk], name: str = "c.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(mem.pcap(mem.frames(chunks)))
    return path


def _read(path: Path, secrets: KeyLog | None) -> tuple[list[ObservedExchange], IngestStats]:
    stats = IngestStats()
    return list(read(path, stats, secrets=secrets)), stats


def _view(ex: ObservedExchange) -> tuple[Any, ...]:
    """What the layers above see of a request (not where it came from)."""
    return (
        ex.method,
        ex.target,
        ex.host,
        ex.status,
        ex.http_version,
        ex.request_headers,
        ex.response_headers,
        ex.request_body,
        ex.response_body,
        ex.request_bytes,
        ex.response_bytes,
        ex.partial,
    )


def _cleartext(tmp_path: Path) -> list[tuple[Any, ...]]:
    """The same requests and responses over plain TCP."""
    chunks: list[mem.Chunk] = []
    for request in REQUESTS:
        chunks += [(True, request), (False, mem.http1_response(request))]
    found, _ = _read(_capture(tmp_path, chunks, "plain.pcap"), None)
    return [_view(ex) for ex in found]


@pytest.mark.parametrize("case", sorted(CASES))
def test_decrypted_requests_equal_their_cleartext_equivalent(tmp_path: Path, case: str) -> None:
    keylog = tmp_path / "keys.log"
    chunks = mem.conversation(tmp_path, keylog, REQUESTS, mem.http1_response, **CASES[case])
    path = _capture(tmp_path, chunks)
    if "rsa-kx" in case:  # only the pre-master secret: extended master secret derivation
        lines = keylog.read_text().splitlines()
        keylog.write_text("\n".join(line for line in lines if line.startswith("RSA ")) + "\n")
    found, stats = _read(path, load([keylog]))
    assert [_view(ex) for ex in found] == _cleartext(tmp_path)
    assert all(ex.tls and ex.sni == HOST and ex.ja4 and ex.error is None for ex in found)
    assert stats.counts[DECRYPTED.format(origin=keylog)] == 1
    assert not stats.skipped


def test_without_its_secrets_a_connection_stays_opaque_exactly_as_without_key_logs(
    tmp_path: Path,
) -> None:
    chunks = mem.conversation(tmp_path, tmp_path / "keys.log", REQUESTS, mem.http1_response)
    path = _capture(tmp_path, chunks)
    other = tmp_path / "other.log"
    other.write_text("CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48 + "\n")
    without, _ = _read(path, None)
    with_other, stats = _read(path, load([other]))
    assert with_other == without
    assert len(without) == 1 and without[0].method is None and without[0].sni == HOST
    assert stats.counts[NO_SECRETS] == 1


@pytest.mark.parametrize("case", ["tls13", "tls12-ecdhe-aes128-gcm", "tls12-cbc-sha1-etm"])
def test_a_wrong_secret_fails_authentication_is_counted_and_marks_the_connection(
    tmp_path: Path, case: str
) -> None:
    keylog = tmp_path / "keys.log"
    chunks = mem.conversation(tmp_path, keylog, REQUESTS, mem.http1_response, **CASES[case])
    path = _capture(tmp_path, chunks)
    damaged = []
    for line in keylog.read_text().splitlines():
        if line.startswith("#"):
            continue
        label, random, secret = line.split()
        flipped = f"{int(secret[0], 16) ^ 1:x}" + secret[1:]
        damaged.append(f"{label} {random} {flipped}")
    keylog.write_text("\n".join(damaged) + "\n")
    found, stats = _read(path, load([keylog]))
    assert len(found) == 1 and found[0].method is None  # nothing guessed at
    assert found[0].error is not None and "TLS decryption failed" in found[0].error
    assert stats.counts[FAILED] >= 1


def test_a_gap_stops_the_direction_and_is_counted(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    chunks = mem.conversation(tmp_path, keylog, REQUESTS, mem.http1_response)
    frames = mem.frames(chunks)
    # drop the segment of the first request: the record sequence is lost with it, so the
    # second request (whose nonce depends on it) is not decrypted by guesswork
    client_data = [
        i for i, f in enumerate(frames) if f[26:30] == bytes([10, 0, 0, 1]) and len(f) > 54
    ]
    del frames[client_data[-2]]
    path = tmp_path / "gap.pcap"
    path.write_bytes(mem.pcap(frames))
    found, stats = _read(path, load([keylog]))
    assert [ex.method for ex in found] == [None]  # the connection, opaque
    assert found[0].sni == HOST
    assert stats.counts[LOST] == 1


def _pcapng_with_secrets(keylog: bytes, frames: list[bytes]) -> bytes:
    def block(btype: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out.append(block(1, struct.pack("<HHI", 1, 0, 65535)))
    out.append(block(10, struct.pack("<II", 0x544C534B, len(keylog)) + keylog))
    for i, data in enumerate(frames):
        ts = int((mem.T0 + i / 1000) * 1e6)
        head = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
        out.append(block(6, head + data))
    return b"".join(out)


def test_pcapng_decryption_secrets_block_gives_the_same_exchanges(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    chunks = mem.conversation(tmp_path, keylog, REQUESTS, mem.http1_response)
    frames = mem.frames(chunks)
    plain = tmp_path / "c.pcap"
    plain.write_bytes(mem.pcap(frames))
    injected = tmp_path / "c.pcapng"
    injected.write_bytes(_pcapng_with_secrets(keylog.read_bytes(), frames))
    with_file, _ = _read(plain, load([keylog]))
    from_block, stats = _read(injected, None)
    assert [_view(ex) for ex in from_block] == [_view(ex) for ex in with_file]
    assert len(from_block) == 2
    assert any("Decryption Secrets Block" in reason for reason in stats.counts)


def test_several_key_logs_are_combined(tmp_path: Path) -> None:
    one, two = tmp_path / "one.log", tmp_path / "two.log"
    first = mem.conversation(tmp_path, one, REQUESTS[:1], mem.http1_response)
    second = mem.conversation(tmp_path, two, REQUESTS[1:], mem.http1_response, version=TLS12)
    frames = mem.frames(first) + mem.frames(second, client_port=40001)
    path = tmp_path / "two.pcap"
    path.write_bytes(mem.pcap(frames))
    found, stats = _read(path, load([one, two]))
    assert [ex.method for ex in found] == ["GET", "POST"]
    assert stats.counts[DECRYPTED.format(origin=one)] == 1
    assert stats.counts[DECRYPTED.format(origin=two)] == 1


def _h2_conversation(tmp_path: Path, keylog: Path, streams: int) -> list[mem.Chunk]:
    """One TLS 1.3 connection (ALPN h2) carrying ``streams`` HTTP/2 requests, one at a time,
    made by python-hyper's ``h2`` state machines."""
    import h2.config
    import h2.connection
    import h2.events

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    requests = []
    for n in range(streams):
        sid = client.get_next_available_stream_id()
        client.send_headers(
            sid,
            [
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", HOST),
                (":path", f"/v1/items/{n}"),
                ("authorization", f"Bearer tok-{n:04d}-0123456789abcdef0123456789"),
            ],
            end_stream=True,
        )
        requests.append(client.data_to_send())

    def respond(got: bytes) -> bytes:
        for event in server.receive_data(got):
            if isinstance(event, h2.events.RequestReceived):
                server.send_headers(event.stream_id, [(":status", "200")])
                server.send_data(event.stream_id, b'{"ok": true}', end_stream=True)
        return server.data_to_send()

    return mem.conversation(tmp_path, keylog, requests, respond, alpn=["h2"])


def test_a_connection_state_is_released_when_it_ends_and_its_exchanges_leave_at_once(
    tmp_path: Path,
) -> None:
    """Memory flat with capture size: each stream's exchange leaves as its stream ends, and a
    connection's reassembly, TLS and HTTP/2 state go when its FINs are seen, not at the end of
    the input (however many connections came before)."""
    from discovery.wire.connections import ConnectionTracker

    keylog = tmp_path / "keys.log"
    connections = 6
    frame_lists = [
        mem.frames(_h2_conversation(tmp_path, keylog, 3), client_port=41000 + n)
        for n in range(connections)
    ]
    stats = IngestStats()
    tracker = ConnectionTracker(stats, "pcap", secrets=load([keylog]))
    number = 0
    for frame_list in frame_lists:
        for data in frame_list:
            number += 1
            tracker.frame(number, mem.T0 + number / 1000, 1, data)
            if data is frame_list[-3]:  # the last data segment: every stream has ended
                assert len(tracker.take()) == 3  # emitted as they ended, nothing waits
        assert not tracker.reassembler.conns and not tracker.reassembler.flows
    tracker.finish()
    assert tracker.take() == []
    assert stats.counts[DECRYPTED.format(origin=keylog)] == connections
