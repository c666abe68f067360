"""TLS ClientHello parsing and JA4, checked against a published fingerprint of a real browser."""

from __future__ import annotations

import struct

import pytest

from discovery.wire.tls import ClientHello, NotClientHello, is_grease, ja4, parse_client_hello

# Chrome 143 as fingerprinted by browserleaks.com: ja4 and ja4_ro (original order) published
# together; GREASE values added the way Chrome sends them (they must be ignored).
CHROME_JA4 = "t13d1516h2_8daaf6152771_d8a2da3f94cd"
CHROME_CIPHERS = [
    0x1301,
    0x1302,
    0x1303,
    0xC02B,
    0xC02F,
    0xC02C,
    0xC030,
    0xCCA9,
    0xCCA8,
    0xC013,
    0xC014,
    0x009C,
    0x009D,
    0x002F,
    0x0035,
]
CHROME_EXTS = [
    0x002D,
    0x0033,
    0x0010,
    0xFE0D,
    0x0017,
    0x44CD,
    0x0000,
    0x000B,
    0x000A,
    0x002B,
    0xFF01,
    0x0023,
    0x0012,
    0x0005,
    0x000D,
    0x001B,
]
CHROME_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


def client_hello(
    ciphers: list[int],
    exts: list[int],
    *,
    sni: str | None = None,
    alpn: list[bytes] | None = None,
    versions: list[int] | None = None,
    sigalgs: list[int] | None = None,
    split_records: bool = False,
) -> bytes:
    """A ClientHello wrapped in TLS records (optionally split across two records)."""
    ext_bytes = b""
    for etype in exts:
        body = b""
        if etype == 0x0000 and sni:
            name = sni.encode()
            body = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
        elif etype == 0x0010 and alpn:
            items = b"".join(bytes([len(a)]) + a for a in alpn)
            body = struct.pack("!H", len(items)) + items
        elif etype == 0x002B and versions:
            body = bytes([2 * len(versions)]) + b"".join(struct.pack("!H", v) for v in versions)
        elif etype == 0x000D and sigalgs:
            body = struct.pack("!H", 2 * len(sigalgs)) + b"".join(
                struct.pack("!H", s) for s in sigalgs
            )
        ext_bytes += _ext(etype, body)
    hello = (
        b"\x03\x03"
        + bytes(32)
        + b"\x20"
        + bytes(32)
        + struct.pack("!H", 2 * len(ciphers))
        + b"".join(struct.pack("!H", c) for c in ciphers)
        + b"\x01\x00"
        + struct.pack("!H", len(ext_bytes))
        + ext_bytes
    )
    handshake = b"\x01" + len(hello).to_bytes(3, "big") + hello
    if split_records:
        half = len(handshake) // 2
        parts = [handshake[:half], handshake[half:]]
    else:
        parts = [handshake]
    return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(p)) + p for p in parts)


def chrome(split: bool = False) -> bytes:
    return client_hello(
        [0x4A4A, *CHROME_CIPHERS],
        [0x2A2A, *CHROME_EXTS, 0x3A3A],
        sni="tls.browserleaks.com",
        alpn=[b"h2", b"http/1.1"],
        versions=[0x7A7A, 0x0304, 0x0303],
        sigalgs=CHROME_SIGALGS,
        split_records=split,
    )


@pytest.mark.parametrize("split", [False, True])
def test_ja4_of_a_published_chrome_hello(split: bool) -> None:
    hello = parse_client_hello(chrome(split))
    assert hello.sni == "tls.browserleaks.com"
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.ja4 == CHROME_JA4


@pytest.mark.parametrize(
    ("fields", "expected_prefix"),
    [
        (dict(versions=None, sni=None, alpn=None), "t12i020600"),
        (dict(versions=[0x0304], sni="a.test", alpn=[b"http/1.1"]), "t13d0206h1"),
        (dict(versions=None, sni="a.test", alpn=[b"\xab\xcd"]), "t12d0206ad"),
        (dict(versions=None, sni="a.test", alpn=[b"h"]), "t12d0206hh"),
    ],
)
def test_ja4_header_part(fields: dict[str, object], expected_prefix: str) -> None:
    data = client_hello(
        [0x1301, 0xC02B],
        [0x0000, 0x0010, 0x002B, 0x000D, 0x000A, 0x0017],
        sigalgs=[0x0403],
        **fields,
    )  # type: ignore[arg-type]
    assert parse_client_hello(data).ja4.startswith(expected_prefix + "_")


def test_ja4_without_ciphers_or_extensions_uses_zero_hashes() -> None:
    hello = ClientHello(0x0303, (), (), None, (), (), ())
    assert ja4(hello) == "t12i000000_000000000000_000000000000"


def test_sni_extension_only_does_not_count_in_the_extension_hash() -> None:
    a = parse_client_hello(client_hello([0x1301], [0x0000, 0x000A], sni="x.test"))
    b = parse_client_hello(client_hello([0x1301], [0x000A]))
    assert a.ja4.split("_")[2] == b.ja4.split("_")[2]
    assert a.ja4.split("_")[0] != b.ja4.split("_")[0]  # "d" vs "i", and the count


@pytest.mark.parametrize(
    "data",
    [b"", b"GET / HTTP/1.1\r\n", chrome()[:40], b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"],
)
def test_not_a_complete_client_hello(data: bytes) -> None:
    with pytest.raises(NotClientHello):
        parse_client_hello(data)


@pytest.mark.parametrize(
    ("value", "grease"), [(0x0A0A, True), (0xFAFA, True), (0x0A1A, False), (0x1301, False)]
)
def test_grease_values(value: int, grease: bool) -> None:
    assert is_grease(value) is grease
