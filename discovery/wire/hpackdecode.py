"""HPACK header block decoding (RFC 7541) for one direction of an HTTP/2 connection: the
static table and the Huffman code come from python-hyper's ``hpack``; the decoding loop, the
dynamic table and a bounded memo of decoded strings (shared by all connections) are here,
because a capture decodes every block of every connection (values such as tokens and user
agents repeat block after block, and ``hpack.Decoder`` decodes each anew and logs each header
at DEBUG).

Lenient like a passive observer must be: a dynamic table size update above the size the peer
advertised is taken (we may not have seen the SETTINGS frame).
"""

from __future__ import annotations

from typing import Final

from hpack.huffman_table import (
    HUFFMAN_COMPLETE,
    HUFFMAN_EMIT_SYMBOL,
    HUFFMAN_FAIL,
    HUFFMAN_TABLE,
)
from hpack.table import HeaderTable

_STATIC: Final = tuple(
    (name.decode("latin-1"), value.decode("latin-1")) for name, value in HeaderTable.STATIC_TABLE
)
_STATIC_LEN: Final = len(_STATIC)
MEMO_SIZE: Final = 8192  # decoded strings remembered, shared by every connection's decoders
# a string as sent (its Huffman or literal form) -> its text. Values such as tokens, user agents
# and hosts recur block after block and across the connections of a capture (a client opens
# many): each is decoded once while it is remembered. Bounded; process memory only, like the
# detectors' memo of header values (``redact.credentials``).
_MEMO: dict[bytes, str] = {}
MAX_TABLE: Final = 1 << 20  # largest dynamic table accepted from a size update


class HpackError(ValueError):
    """A header block that cannot be decoded (truncated, bad index, bad Huffman code)."""


class HeaderDecoder:
    """Decodes the header blocks of one direction, in order; keeps its dynamic table."""

    __slots__ = ("entries", "max_size", "size", "sizes")

    def __init__(self, max_size: int = 4096) -> None:
        self.entries: list[tuple[str, str]] = []  # oldest first, as decoded (shared, not copied)
        self.sizes: list[int] = []  # each entry's RFC 7541 size
        self.size = 0
        self.max_size = max_size

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        """The header fields of one block (``HpackError`` when it cannot be decoded)."""
        out: list[tuple[str, str]] = []
        pos = 0
        end = len(block)
        try:
            while pos < end:
                byte = block[pos]
                if byte & 0x80:  # indexed field
                    index, pos = _integer(block, pos, 0x7F)
                    out.append(self._field(index))
                elif byte & 0x60 == 0x20:  # dynamic table size update
                    size, pos = _integer(block, pos, 0x1F)
                    if size > MAX_TABLE:
                        raise HpackError(f"table size {size} too large")
                    self.max_size = size
                    self._evict(0)
                else:  # literal: added to the table (0x40), or not indexed / never indexed
                    indexing = byte & 0x40
                    index, pos = _integer(block, pos, 0x3F if indexing else 0x0F)
                    if index:
                        name = self._field(index)[0]
                    else:
                        name, pos = self._string(block, pos)
                    value, pos = self._string(block, pos)
                    field = (name, value)
                    out.append(field)
                    if indexing:
                        self._add(field)
        except IndexError as exc:
            raise HpackError("truncated header block") from exc
        return out

    def _field(self, index: int) -> tuple[str, str]:
        if 0 < index <= _STATIC_LEN:
            return _STATIC[index - 1]
        entries = self.entries
        at = len(entries) - (index - _STATIC_LEN)
        if index <= _STATIC_LEN or at < 0:
            raise HpackError(f"index {index} not in the table")
        return entries[at]

    def _string(self, block: bytes, pos: int) -> tuple[str, int]:
        huffman = block[pos] & 0x80
        length, pos = _integer(block, pos, 0x7F)
        end = pos + length
        if end > len(block):
            raise HpackError("truncated string")
        raw = block[pos:end]
        key = raw if huffman else b"\x00" + raw  # literal and Huffman forms kept apart
        memo = _MEMO
        text = memo.get(key)
        if text is None:
            text = huffman_decode(raw).decode("latin-1") if huffman else raw.decode("latin-1")
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = text
        return text, end

    def _add(self, field: tuple[str, str]) -> None:
        size = len(field[0]) + len(field[1]) + 32  # latin-1: one character per byte
        if size > self.max_size:
            self.entries.clear()
            self.sizes.clear()
            self.size = 0
            return
        self._evict(size)
        self.entries.append(field)
        self.sizes.append(size)
        self.size += size

    def _evict(self, room: int) -> None:
        entries, sizes = self.entries, self.sizes
        while entries and self.size + room > self.max_size:
            del entries[0]
            self.size -= sizes.pop(0)


# hpack's nibble machine, a byte per step: ``_STEPS[state << 8 | byte]`` packs the state after
# the byte (bits 20 on), whether the string may end there (bit 19), how many symbols it emits
# (bits 16-17) and the symbols (bits 8-15 the first of two, bits 0-7 the last); a bad code is
# ``_BAD``. Each state's 256 steps are built when the state is first reached (ints only: the
# compiled loop below allocates nothing but its output).
_STATES: Final = len(HUFFMAN_TABLE) // 16
_UNBUILT: Final = -2
_BAD: Final = -1
_STEPS: list[int] = [_UNBUILT] * (_STATES << 8)


def _build(state: int) -> None:
    """The 256 steps of one state of the machine."""
    table = HUFFMAN_TABLE
    base = state << 8
    for byte in range(256):
        first, flags1, out1 = table[state * 16 + (byte >> 4)]
        if flags1 & HUFFMAN_FAIL:
            _STEPS[base | byte] = _BAD
            continue
        second, flags2, out2 = table[first * 16 + (byte & 0x0F)]
        if flags2 & HUFFMAN_FAIL:
            _STEPS[base | byte] = _BAD
            continue
        symbols = [
            out for out, flags in ((out1, flags1), (out2, flags2)) if flags & HUFFMAN_EMIT_SYMBOL
        ]
        packed = len(symbols) << 16
        for symbol in symbols:
            packed = (packed & ~0xFFFF) | ((packed & 0xFF) << 8) | symbol
        complete = 1 << 19 if flags2 & HUFFMAN_COMPLETE else 0
        _STEPS[base | byte] = second << 20 | complete | packed


def huffman_decode(raw: bytes) -> bytes:
    """Decode an HPACK Huffman string (RFC 7541 5.2), a byte per step."""
    steps = _STEPS
    out = bytearray()
    state = 0
    step = 1 << 19  # the empty string is complete
    for byte in raw:
        at = state << 8 | byte
        step = steps[at]
        if step < 0:
            if step == _UNBUILT:
                _build(state)
                step = steps[at]
            if step < 0:
                raise HpackError("bad Huffman code")
        count = (step >> 16) & 3
        if count == 1:
            out.append(step & 0xFF)
        elif count == 2:
            out.append((step >> 8) & 0xFF)
            out.append(step & 0xFF)
        state = step >> 20
    if not step & (1 << 19):
        raise HpackError("bad Huffman padding")
    return bytes(out)


def _integer(block: bytes, pos: int, mask: int) -> tuple[int, int]:
    """An HPACK integer with an N-bit prefix (``mask``) starting at ``pos``: (value, next)."""
    value = block[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while True:
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
        if shift > 28:
            raise HpackError("integer too large")
