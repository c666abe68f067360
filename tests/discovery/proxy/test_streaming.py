"""The streamed-body gate: what is held, released, dropped and recorded."""

from __future__ import annotations

import gzip
import zlib

import pytest

from discovery.proxy.streaming import BodyGate, decoded_prefix


def test_holds_until_the_prefix_is_read_then_releases_in_order() -> None:
    seen: list[bytes] = []
    gate = BodyGate(10, decide=lambda prefix: seen.append(prefix))
    assert gate(b"abcd") == [] and gate(b"efgh") == []
    assert gate(b"ijkl") == [b"abcd", b"efgh", b"ijkl"]  # decided on the first 10 bytes
    assert seen == [b"abcdefghij"]
    assert gate(b"mnop") == [b"mnop"] and gate(b"") == []
    assert gate.total == 16 and bytes(gate.prefix) == b"abcdefghij"


def test_a_short_body_is_decided_at_its_end() -> None:
    gate = BodyGate(100, decide=lambda prefix: None)
    assert gate(b"short") == []
    assert gate(b"") == [b"short"]


def test_a_block_forwards_nothing_more() -> None:
    blocked: list[str] = []
    gate = BodyGate(
        4, decide=lambda prefix: "no" if b"key" in prefix else None, on_block=blocked.append
    )
    assert gate(b"key=") == [] and gate(b"rest") == [] and gate(b"") == []
    assert blocked == ["no"] and gate.total == 8


def test_recording_only_forwards_at_once_and_keeps_the_prefix() -> None:
    gate = BodyGate(3)
    assert gate(b"abcdef") == [b"abcdef"] and gate(b"") == []
    assert bytes(gate.prefix) == b"abc"


def test_decoded_prefix_reads_gzip_and_deflate_from_a_truncated_start() -> None:
    body = b'{"token": "abc"}' + b"y" * 5000
    assert decoded_prefix(gzip.compress(body)[:60], "gzip", 16) == body[:16]
    assert decoded_prefix(zlib.compress(body)[:60], "deflate", 16) == body[:16]
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decoded_prefix(raw.compress(body) + raw.flush(), "deflate", 16) == body[:16]
    assert decoded_prefix(b"not gzip", "gzip", 16) == b""
    assert decoded_prefix(b"brotli bytes", "br", 16) == b""  # a coding that does not decode
    assert decoded_prefix(body, None, 8) == body[:8]


def test_decoded_prefix_reads_brotli_as_a_buffered_body_is_read() -> None:
    brotli = pytest.importorskip("brotli")
    body = b'{"token": "abc"}' + b"y" * 5000
    assert decoded_prefix(brotli.compress(body), "br", 16) == body[:16]
