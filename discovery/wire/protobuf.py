"""Protocol Buffers messages read without their schema (the wire format of
protobuf.dev/programming-guides/encoding): field numbers, wire types and the text inside.

Without the ``.proto`` a length-delimited field (wire type 2) is a string, bytes or a nested
message; like ``protoc --decode_raw`` we try. A value that is printable UTF-8 text is a string
(kept for the sensitive-data scan, never stored); otherwise one that parses whole as a message
is read as one, one level deeper; otherwise it is bytes. Hostile input is bounded: nesting
deeper than ``MAX_DEPTH``, more than ``MAX_FIELDS`` fields in one message tree, a length past
the end of the prefix, a field number 0 or a reserved wire type end the reading there and
are counted (``Scan.cut``); a length past the end of the prefix is read as far as it goes
(bodies are kept as prefixes, so the last field is often cut).
"""

from __future__ import annotations

from typing import Final

MAX_DEPTH: Final = 16  # nested messages read at most this deep
MAX_FIELDS: Final = 4096  # fields read at most in one message tree (nested ones included)
MAX_SHAPE: Final = 64  # distinct (field path, wire type) pairs kept
WIRE_TYPES: Final = ("VARINT", "I64", "LEN", "SGROUP", "EGROUP", "I32")
_CONTROLS = bytes(b for b in range(0x20) if b not in b"\t\n\r") + b"\x7f"


class Scan:
    """What one message tree holds: its shape, its strings, and why reading stopped early."""

    __slots__ = ("cut", "fields", "paths", "shape", "strings")

    def __init__(self) -> None:
        self.shape: dict[str, None] = {}  # "1.3:LEN" in first-seen order
        self.strings: list[str] = []
        self.paths: list[str] = []  # each string's field path ("1.3"), in step with strings
        self.fields = 0
        self.cut: str | None = None  # the first reason reading stopped early


def varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position); next position -1 when the varint is cut or longer than 10 bytes."""
    value = shift = 0
    while pos < end and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return 0, -1


def _text(value: bytes) -> str | None:
    """The value as text when it is printable UTF-8 (no control characters but tab and breaks)."""
    if not value:
        return None
    if value.isascii():
        if len(value.translate(None, _CONTROLS)) != len(value):  # a control byte (C speed)
            return None
        return value.decode("ascii")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.isprintable() or all(c.isprintable() or c in "\t\n\r" for c in text):
        return text
    return None


def _walk(
    data: bytes, pos: int, end: int, prefix: str, depth: int, scan: Scan, cut_ok: bool
) -> bool:
    """Read the fields of ``data[pos:end]`` into ``scan``; False when they are not a message.

    ``cut_ok``: the bytes end where the kept prefix ends, so a last field running past it is
    a cut, not a malformation.
    """
    while pos < end:
        if scan.fields >= MAX_FIELDS:
            scan.cut = scan.cut or f"more than {MAX_FIELDS} fields"
            return True
        key, pos = varint(data, pos, end)
        if pos < 0:
            return cut_ok
        number, wire = key >> 3, key & 7
        if number == 0 or wire > 5:
            return False
        scan.fields += 1
        if wire == 0:
            _, pos = varint(data, pos, end)
            if pos < 0:
                return cut_ok
        elif wire == 1 or wire == 5:
            pos += 8 if wire == 1 else 4
            if pos > end:
                return cut_ok
        elif wire == 2:
            length, pos = varint(data, pos, end)
            if pos < 0:
                return cut_ok
            stop = pos + length
            if stop > end:
                if not cut_ok:
                    return False
                stop = end  # the prefix ends inside this value: read what there is
            value = data[pos:stop]
            text = _text(value)
            path = f"{prefix}{number}"
            if text is not None:
                scan.strings.append(text)
                scan.paths.append(path)
            elif depth + 1 >= MAX_DEPTH:
                scan.cut = scan.cut or f"nested deeper than {MAX_DEPTH}"
            elif value:
                inner = Scan()
                inner.fields = scan.fields
                nested = _walk(
                    value, 0, len(value), f"{path}.", depth + 1, inner, cut_ok and stop == end
                )
                scan.fields = inner.fields  # a failed attempt costs its work too
                if nested:
                    scan.strings += inner.strings
                    scan.paths += inner.paths
                    for key_ in inner.shape:
                        _add(scan, key_)
                    scan.cut = scan.cut or inner.cut
            _add(scan, f"{path}:LEN")
            pos = stop
            continue
        # wire types 3 and 4 (deprecated groups) carry nothing: their fields follow inline
        _add(scan, f"{prefix}{number}:{WIRE_TYPES[wire]}")
    return True


def _add(scan: Scan, key: str) -> None:
    if key not in scan.shape and len(scan.shape) < MAX_SHAPE:
        scan.shape[key] = None


def scan_message(payload: bytes, complete: bool = True, scan: Scan | None = None) -> Scan:
    """Read one message (``complete`` False: a prefix of it) into ``scan`` (a new one by default).

    A payload that is not a protobuf message leaves its reason in ``cut``.
    """
    scan = scan if scan is not None else Scan()
    if not _walk(payload, 0, len(payload), "", 0, scan, not complete):
        scan.cut = scan.cut or "not a protobuf message"
    return scan
