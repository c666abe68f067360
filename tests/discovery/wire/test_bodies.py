"""Bounded body decoding: every supported encoding, and bombs that must stay under the cap."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from discovery.wire.bodies import decode_body

TEXT = b'{"owner": "ops@example.com", "rows": [' + b"1," * 500 + b"2]}"


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("br", brotli.compress),
        ("zstd", lambda d: zstandard.ZstdCompressor().compress(d)),
        ("identity", lambda d: d),
        ("gzip, br", lambda d: brotli.compress(gzip.compress(d))),
    ],
)
def test_decodes(encoding: str, encode: object) -> None:
    decoded, reason = decode_body(encode(TEXT), encoding)  # type: ignore[operator]
    assert (decoded, reason) == (TEXT, None)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("br", brotli.compress),
        ("zstd", lambda d: zstandard.ZstdCompressor().compress(d)),
    ],
)
def test_bomb_stays_under_the_cap(encoding: str, encode: object) -> None:
    bomb = encode(b"\0" * (8 << 20))  # type: ignore[operator]
    decoded, reason = decode_body(bomb, encoding, limit=4096)
    assert reason is None
    assert decoded == b"\0" * 4096


def test_truncated_prefix_decodes_what_it_can() -> None:
    data = gzip.compress(TEXT * 20)
    decoded, _ = decode_body(data[: len(data) // 2], "gzip")
    assert decoded and (TEXT * 20).startswith(decoded)


@pytest.mark.parametrize(
    ("encoding", "fragment"),
    [
        ("compress", "unknown content-encoding"),
        ("gzip", "gzip body does not decode"),
        ("br", "br body does not decode"),
    ],
)
def test_undecodable_returns_the_raw_prefix_and_why(encoding: str, fragment: str) -> None:
    decoded, reason = decode_body(b"not compressed at all", encoding)
    assert decoded == b"not compressed at all"
    assert reason is not None and fragment in reason
