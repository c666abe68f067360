"""Our HPACK decoding loop agrees with python-hyper's ``hpack`` on what its encoder writes, and
refuses what it refuses."""

from __future__ import annotations

import random

import pytest
from hpack import Decoder, Encoder
from hpack.exceptions import HPACKDecodingError
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman
from hpack.struct import NeverIndexedHeaderTuple

from discovery.wire.hpackdecode import HeaderDecoder, HpackError, huffman_decode

NAMES = (":method", ":path", ":authority", "authorization", "user-agent", "cookie", "x-trace")


@pytest.mark.parametrize("seed", range(20))
def test_blocks_decode_as_hpack_decodes_them(seed: int) -> None:
    rng = random.Random(seed)
    encoder, ours, theirs = Encoder(), HeaderDecoder(), Decoder()
    theirs.max_allowed_table_size = 1 << 20
    if seed % 3 == 0:  # dynamic table size updates, evictions, a table of nothing
        encoder.header_table_size = rng.choice([0, 128, 1024, 8192])
    for _ in range(40):
        headers: list[tuple[str, str]] = []
        for _ in range(rng.randrange(1, 12)):
            name = rng.choice(NAMES) if rng.random() < 0.8 else f"x-{rng.randrange(100)}"
            value = "".join(rng.choices("abcdef0123456789/=-_ ~;é", k=rng.randrange(0, 90)))
            never = rng.random() < 0.1
            headers.append(NeverIndexedHeaderTuple(name, value) if never else (name, value))
        block = encoder.encode(headers, huffman=rng.random() < 0.7)
        expected = [
            (bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
            for n, v in theirs.decode(block, raw=True)
        ]
        assert ours.decode(block) == expected


def test_huffman_strings_decode_as_hpack_decodes_them_and_bad_codes_are_refused() -> None:
    rng = random.Random(7)
    encode = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode
    for _ in range(500):
        plain = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
        assert huffman_decode(encode(plain)) == plain
    refused = 0
    for _ in range(500):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        try:
            expected: bytes | None = decode_huffman(noise)
        except HPACKDecodingError:
            expected = None
        try:
            got: bytes | None = huffman_decode(noise)
        except HpackError:
            got = None
        assert got == expected
        refused += got is None
    assert refused  # the comparison covered refusals


@pytest.mark.parametrize(
    "block",
    [b"\x80", b"\xbf\xff\xff\xff\xff\xff", b"\x40\x05ab", b"\xff\x00", b"\x00\x81\xff"],
    ids=["index-0", "integer-overflow", "truncated-string", "unknown-index", "bad-huffman"],
)
def test_broken_blocks_are_refused(block: bytes) -> None:
    with pytest.raises(HpackError):
        HeaderDecoder().decode(block)


def test_connections_share_decoded_strings_but_never_mix_huffman_and_literal_forms() -> None:
    """Decoded strings are remembered across connections (a client's token recurs on each of
    its connections): the same bytes sent as a Huffman string on one connection and as a
    literal on another still decode each by its own form, and every connection decodes what
    hpack decodes, however many strings went before."""
    huffman = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(b"svc-billing/2.3")
    as_huffman = Encoder().encode([("user-agent", "svc-billing/2.3")], huffman=True)
    assert huffman in as_huffman
    literal_text = huffman.decode("latin-1")  # the Huffman bytes, sent as a plain literal
    as_literal = Encoder().encode([(b"user-agent", huffman)], huffman=False)
    for _ in range(2):  # the second round reads both from the memo
        assert HeaderDecoder().decode(as_huffman) == [("user-agent", "svc-billing/2.3")]
        assert HeaderDecoder().decode(as_literal) == [("user-agent", literal_text)]
    rng = random.Random(3)
    for _ in range(300):  # more distinct strings than the memo keeps: it starts afresh
        encoder, ours, theirs = Encoder(), HeaderDecoder(), Decoder()
        headers = [(f"x-{rng.randrange(9)}", f"{rng.random()}-{i}") for i in range(40)]
        block = encoder.encode(headers, huffman=rng.random() < 0.5)
        assert ours.decode(block) == [
            (bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
            for n, v in theirs.decode(block, raw=True)
        ]
