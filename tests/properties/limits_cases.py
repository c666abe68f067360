"""Hostile inputs for the resource-limit tests and benchmarks/bench_limits.py, built as streams
(no input is ever held whole in memory when it is large): each ``case_*`` runs one input
through the real code and returns what came out, for the caller to check and report."""

from __future__ import annotations

import json
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from discovery.analyse.specs import load_spec
from discovery.models import ObservedExchange
from discovery.sources.pcap import read
from discovery.stats import IngestStats
from discovery.wire.connections import ConnectionTracker

_C, _S = b"\x0a\x00\x00\x05", b"\x0a\x00\x00\x01"
_ETH = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
_MSS = 32768


def tcp_frame(
    src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int, payload: bytes = b""
) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, 0, 0x50, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    return _ETH + ip + tcp + payload


class Conversation:
    """One TCP connection fed frame by frame into a pipeline (client and server streams)."""

    def __init__(self, pipeline: ConnectionTracker, port: int) -> None:
        self.pipeline = pipeline
        self.port = port
        self.seq = [1000, 5000]
        self.n = 0
        self._send(0, 0x02, b"")
        self._send(1, 0x12, b"")

    def _send(self, side: int, flags: int, payload: bytes) -> None:
        src, dst, sport, dport = (_C, _S, self.port, 80) if side == 0 else (_S, _C, 80, self.port)
        self.n += 1
        self.pipeline.frame(
            self.n,
            1_790_000_000.0 + self.n * 1e-4,
            1,
            tcp_frame(src, dst, sport, dport, self.seq[side], flags, payload),
        )
        self.seq[side] += len(payload) + (1 if flags & 0x03 else 0)

    def send(self, side: int, data: bytes) -> None:
        for i in range(0, len(data), _MSS):
            self._send(side, 0x18, data[i : i + _MSS])

    def stream(self, side: int, chunks: Iterator[bytes]) -> None:
        for chunk in chunks:
            self.send(side, chunk)

    def close(self) -> None:
        self._send(0, 0x11, b"")
        self._send(1, 0x11, b"")


def _run(build: Any) -> tuple[list[ObservedExchange], IngestStats]:
    stats = IngestStats()
    pipeline = ConnectionTracker(stats, "pcap", where="limits")
    out: list[ObservedExchange] = []
    for conv in build(pipeline):
        conv.close()
        out += pipeline.take()
    pipeline.finish()
    return out + pipeline.take(), stats


GET = b"GET /after HTTP/1.1\r\nHost: limits.test\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _followed_by_a_good_exchange(pipeline: ConnectionTracker) -> Conversation:
    conv = Conversation(pipeline, 50999)
    conv.send(0, GET)
    conv.send(1, OK)
    return conv


def case_huge_header(size: int = 1 << 20) -> tuple[list[ObservedExchange], IngestStats]:
    """A request with one header line of ``size`` bytes, then a normal request."""

    def build(p: ConnectionTracker) -> Iterator[Conversation]:
        conv = Conversation(p, 50001)
        conv.send(0, b"GET /big HTTP/1.1\r\nHost: limits.test\r\nX-Big: ")
        conv.stream(0, (b"a" * _MSS for _ in range(size // _MSS)))
        conv.send(0, b"\r\n\r\n" + GET)
        conv.send(1, b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n" + OK)
        yield conv
        yield _followed_by_a_good_exchange(p)

    return _run(build)


def case_many_headers(count: int = 10_000) -> tuple[list[ObservedExchange], IngestStats]:
    def build(p: ConnectionTracker) -> Iterator[Conversation]:
        conv = Conversation(p, 50002)
        head = b"".join(b"X-H%d: v\r\n" % i for i in range(count))
        conv.send(0, b"GET /many HTTP/1.1\r\nHost: limits.test\r\n" + head + b"\r\n" + GET)
        conv.send(1, OK + OK)
        yield conv
        yield _followed_by_a_good_exchange(p)

    return _run(build)


def case_declared_length(
    declared: int = 10 << 30,
    sent: int = 8 << 20,
) -> tuple[list[ObservedExchange], IngestStats]:
    """A POST declaring ``declared`` bytes that sends ``sent`` and closes."""

    def build(p: ConnectionTracker) -> Iterator[Conversation]:
        conv = Conversation(p, 50003)
        conv.send(
            0,
            b"POST /upload HTTP/1.1\r\nHost: limits.test\r\nContent-Length: %d\r\n\r\n" % declared,
        )
        conv.stream(0, (b"u" * _MSS for _ in range(sent // _MSS)))
        yield conv
        yield _followed_by_a_good_exchange(p)

    return _run(build)


def case_endless_chunked(sent: int = 8 << 20) -> tuple[list[ObservedExchange], IngestStats]:
    """A chunked response that never sends its last chunk (``sent`` bytes of chunks)."""
    chunk = b"%x\r\n" % 4096 + b"c" * 4096 + b"\r\n"

    def build(p: ConnectionTracker) -> Iterator[Conversation]:
        conv = Conversation(p, 50004)
        conv.send(0, b"GET /stream HTTP/1.1\r\nHost: limits.test\r\n\r\n")
        conv.send(1, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        conv.stream(1, (chunk * 8 for _ in range(sent // (len(chunk) * 8))))
        yield conv
        yield _followed_by_a_good_exchange(p)

    return _run(build)


def gzip_bomb(size: int = 1 << 30) -> bytes:
    """gzip(gzip(``size`` zero bytes)), compressed in 1 MiB steps (never ``size`` in memory):
    1 GiB becomes about 1 MB, then about 2 KB."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    parts = []
    for _ in range(size >> 20):
        parts.append(outer.compress(inner.compress(zeros)))
    parts.append(outer.compress(inner.flush()))
    parts.append(outer.flush())
    return b"".join(parts)


def case_gzip_bomb(bomb: bytes) -> tuple[list[ObservedExchange], IngestStats]:
    def build(p: ConnectionTracker) -> Iterator[Conversation]:
        conv = Conversation(p, 50005)
        conv.send(0, b"GET /bomb HTTP/1.1\r\nHost: limits.test\r\n\r\n")
        conv.send(
            1,
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: %d"
            b"\r\n\r\n" % len(bomb) + bomb,
        )
        yield conv
        yield _followed_by_a_good_exchange(p)

    return _run(build)


def case_nested_json(depth: int = 100_000) -> tuple[list[ObservedExchange], IngestStats]:
    body = b'{"a":' * depth + b"1" + b"}" * depth

    def build(p: ConnectionTracker) -> Iterator[Conversation]:
        conv = Conversation(p, 50006)
        conv.send(
            0,
            b"POST /nested HTTP/1.1\r\nHost: limits.test\r\nContent-Type: application/json"
            b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
        )
        conv.send(
            1,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d"
            b"\r\n\r\n" % len(body) + body,
        )
        yield conv
        yield _followed_by_a_good_exchange(p)

    return _run(build)


def half_open_capture(path: Path, flows: int = 100_000) -> None:
    """A pcap of ``flows`` connections that send a SYN and a request and are never answered,
    then one complete exchange; struct-packed records, written in one pass."""
    request = b"GET /half HTTP/1.1\r\nHost: limits.test\r\n\r\n"
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        n = 0

        def rec(frame: bytes) -> None:
            nonlocal n
            n += 1
            out.write(
                struct.pack(
                    "<IIII", 1_790_000_000 + n // 100_000, n % 100_000 * 10, len(frame), len(frame)
                )
                + frame
            )

        for i in range(flows):
            src = struct.pack("!I", 0x0A000000 + (i >> 14))
            port = 1024 + (i & 0x3FFF)
            rec(tcp_frame(src, _S, port, 80, 100, 0x02))
            rec(tcp_frame(src, _S, port, 80, 101, 0x18, request))
        rec(tcp_frame(_C, _S, 60000, 80, 100, 0x02))
        rec(tcp_frame(_S, _C, 80, 60000, 900, 0x12))
        rec(tcp_frame(_C, _S, 60000, 80, 101, 0x18, GET))
        rec(tcp_frame(_S, _C, 80, 60000, 901, 0x18, OK))
        rec(tcp_frame(_C, _S, 60000, 80, 101 + len(GET), 0x11))
        rec(tcp_frame(_S, _C, 80, 60000, 901 + len(OK), 0x11))


def case_half_open(flows: int = 100_000) -> tuple[list[ObservedExchange], IngestStats]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "half-open.pcap"
        half_open_capture(path, flows)
        stats = IngestStats()
        # keep only what the check needs: 100k exchanges are not the point
        out = [e for e in read(path, stats) if e.target != "/half"]
        return out, stats


def huge_spec(path: Path, operations: int = 20_000) -> None:
    paths = {
        f"/r{i}/{{id}}": {
            "get": {
                "operationId": f"op{i}",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"200": {"description": "ok"}},
            }
        }
        for i in range(operations)
    }
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "huge", "version": "1"},
        "servers": [{"url": "https://huge.test"}],
        "paths": paths,
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


def case_huge_spec(operations: int = 20_000, validate: bool = False) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huge.json"
        huge_spec(path, operations)
        return len(load_spec(path, validate=validate).operations)
