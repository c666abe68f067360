"""Input readers, one module per format, each turning a foreign format into ``ObservedExchange``s.

A reader is ``read(path, stats, progress, start=0, end=None) -> Iterator[ObservedExchange]``: it
counts what it skips in ``stats`` (by reason, with warnings naming the place) and never raises for
a bad part it can go past; it raises ``InputError`` only when the file cannot be used at all.
Values it did not compute itself go through ``bounds`` (status, port, time, size).

Appendable formats (pcap, pcapng, Zeek logs, mitmproxy flow files) read the records that begin at
or after byte ``start`` and end by byte ``end`` (the file may grow while it is read), and set
``stats.consumed`` to the end of their last whole record; a record cut by ``end`` is left for
the next read of the grown file. HAR is read as a whole.

The readers of captures (pcap, pcapng) also decrypt TLS with key logs, taken as ``secrets=``:
``reader_for(fmt, secrets)`` hands the key logs to them, so a caller never asks which reader
decrypts.
"""

from __future__ import annotations

import functools
import importlib
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from discovery.errors import InputError, UnknownFormatError
from discovery.models import ObservedExchange
from discovery.stats import IngestStats, Progress

if TYPE_CHECKING:
    from discovery.wire.keylog import KeyLog


class Reader(Protocol):
    def __call__(
        self,
        path: Path,
        stats: IngestStats,
        progress: Progress | None = None,
        *,
        start: int = 0,
        end: int | None = None,
    ) -> Iterator[ObservedExchange]: ...


# format -> "module:function"; modules are imported only when that format is read.
READERS: dict[str, str] = {
    "pcap": "discovery.sources.pcap:read",
    "pcapng": "discovery.sources.pcap:read",
    "har": "discovery.sources.har:read",
    "mitm": "discovery.sources.mitm:read",
    "zeek": "discovery.sources.zeek:read",
}
# the formats whose readers decrypt TLS connections with key logs (``secrets=``)
DECRYPTING = frozenset({"pcap", "pcapng"})

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",  # microsecond, both byte orders
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",  # nanosecond, both byte orders
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"


def detect_format(path: Path) -> str:
    """Recognise an input by its content (magic bytes, then structure)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if head[:2] == GZIP_MAGIC:
        return _detect_compressed(path, head)
    if len(head) >= 4 and head[:4] in _PCAP_MAGICS:
        return "pcap"
    if head[:4] == _PCAPNG_MAGIC:
        return "pcapng"
    text = head.lstrip()
    if text.startswith(b"#separator") or text.startswith(b"#fields"):
        return "zeek"
    if text.startswith(b"{"):
        if any(_zeek_record(line) for line in _first_lines(path)):
            return "zeek"
        if b'"log"' in head[:4096] and (b'"entries"' in head or b'"creator"' in head):
            return "har"
    # mitmproxy flow files are tnetstrings: "<digits>:" then a dict ending in "}"
    digits = head[:12].split(b":", 1)[0]
    if (
        digits.isdigit()
        and len(head) > len(digits) + 1
        and head[len(digits) : len(digits) + 1] == b":"
    ):
        return "mitm"
    if not head:
        raise UnknownFormatError(str(path), "empty file")
    raise UnknownFormatError(
        str(path), "not a recognised capture or log (pcap, pcapng, HAR, mitmproxy flows, Zeek)"
    )


def _detect_compressed(path: Path, head: bytes) -> str:
    """A gzip-compressed input: a rotated Zeek log (the only format read compressed)."""
    try:
        inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 65536)
    except zlib.error as exc:
        raise UnknownFormatError(str(path), f"damaged gzip data ({exc})") from exc
    text = inner.lstrip()
    lines = text.split(b"\n", 8)[:8] if text.startswith(b"{") else []
    if text.startswith((b"#separator", b"#fields")) or any(_zeek_record(x) for x in lines):
        return "zeek"
    if not inner:
        raise UnknownFormatError(str(path), "empty gzip file")
    raise UnknownFormatError(
        str(path), "gzip-compressed, but not a Zeek log (the only format read compressed)"
    )


def _first_lines(path: Path, count: int = 8, limit: int = 4 << 20) -> list[bytes]:
    """The first lines of a file, each read up to ``limit`` bytes (a JSON log's first record
    may be long: a hostile URI)."""
    with path.open("rb") as handle:
        return [handle.readline(limit) for _ in range(count)]


def _zeek_record(line: bytes) -> bool:
    """A line holding one Zeek JSON record (one bad line first does not hide the others)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json goes
        return False
    return isinstance(obj, dict) and "uid" in obj and "ts" in obj


def reader_for(fmt: str, secrets: KeyLog | None = None) -> Reader:
    """Import the reader of a format; ``secrets`` (TLS key logs) are handed to it when it
    decrypts (the other formats carry no TLS to decrypt)."""
    try:
        target = READERS[fmt]
    except KeyError:
        raise UnknownFormatError("-", f"unknown format {fmt!r}") from None
    module_name, func = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise UnknownFormatError(
                "-", f"the {fmt} reader is missing from this installation: reinstall ir-console"
            ) from exc
        raise
    reader: Callable[..., Iterator[ObservedExchange]] = getattr(module, func)
    if secrets is not None and fmt in DECRYPTING:
        return functools.partial(reader, secrets=secrets)
    return reader
