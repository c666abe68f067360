"""pcap and pcapng capture files -> ``ObservedExchange``s.

Records are read with ``struct`` from 1 MiB blocks (measured faster than scapy's
``RawPcapReader``/``RawPcapNgReader``, which call ``read`` twice per record, and it lets a
truncated file keep every complete frame). Classic pcap: micro- and nanosecond timestamps, both
byte orders. pcapng: several sections (each with its byte order) and several interfaces (each
with its link type, timestamp resolution and offset); enhanced, simple and obsolete packet blocks.

A capture still being written is read up to a fixed ``end`` and its frames from ``start`` on (the
frames before it are walked, not read, so numbers and interfaces stay right); ``stats.consumed``
is the end of the last whole record. A pcapng frame whose time is outside 1970-9999 is skipped.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Final, Protocol, TypeVar

from discovery.errors import InputError
from discovery.models import ObservedExchange
from discovery.sources.window import open_window
from discovery.stats import CAPTURE_DROPS, IngestStats, Progress
from discovery.timeutil import MAX_TS, MIN_TS
from discovery.wire import packets
from discovery.wire.connections import ConnectionTracker
from discovery.wire.keylog import KeyLog
from discovery.wire.packets import SUPPORTED_LINKTYPES
from discovery.wire.reassembly import Limits

log = logging.getLogger(__name__)

CHUNK: Final = 1 << 20
MAX_RECORD: Final = 64 << 20  # a record claiming more than this is corruption, not a frame

_T = TypeVar("_T")
Frame = tuple[int, float, int, bytes]  # (frame number, epoch seconds, link type, bytes)
PAUSE_EVERY: Final = 4096  # frames pushed between two pauses of the readers (see feed_frames)


class FrameSink(Protocol):
    """What the readers push frames into (``ConnectionTracker`` is one)."""

    def frame(self, number: int, ts: float, linktype: int, data: bytes) -> None: ...

    def secrets_block(self, kind: int, data: bytes) -> None:
        """A pcapng Decryption Secrets Block (``kind``: its secrets type)."""


_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_SHB: Final = 0x0A0D0D0A
_BOM_LE: Final = b"\x4d\x3c\x2b\x1a"
_BOM_BE: Final = b"\x1a\x2b\x3c\x4d"


def read(
    path: Path,
    stats: IngestStats,
    progress: Progress | None = None,
    limits: Limits | None = None,
    *,
    start: int = 0,
    end: int | None = None,
    secrets: KeyLog | None = None,
) -> Iterator[ObservedExchange]:
    """Read a pcap or pcapng file into exchanges (reader registered for both formats); TLS
    connections whose secrets are in ``secrets`` (or in the file's Decryption Secrets Blocks)
    are decrypted."""
    pipeline = ConnectionTracker(stats, "pcap", where=str(path), limits=limits, secrets=secrets)
    return _run(pipeline, path, pipeline.take, progress, start, end)


def read_share(
    path: Path,
    stats: IngestStats,
    share: tuple[int, int],
    progress: Progress | None = None,
    limits: Limits | None = None,
    end: int | None = None,
    secrets: KeyLog | None = None,
) -> Iterator[tuple[tuple[int, int], ObservedExchange]]:
    """The exchanges of one share of the capture's flows, with their merge keys (see
    ``ConnectionTracker``): ``share`` readers of one file together give what ``read`` gives."""
    pipeline = ConnectionTracker(
        stats, "pcap", where=str(path), limits=limits, share=share, secrets=secrets
    )
    return _run(pipeline, path, pipeline.take_keyed, progress, 0, end)


def _run(
    pipeline: ConnectionTracker,
    path: Path,
    take: Callable[[], list[_T]],
    progress: Progress | None,
    start: int,
    end: int | None,
) -> Iterator[_T]:
    """Every frame of the file through ``pipeline``; what ``take`` collects, as it comes."""
    out = pipeline.out
    frames = feed_frames(path, pipeline.frame_stats, pipeline, progress, start=start, end=end)
    for _ in frames:
        if out:
            yield from take()
    pipeline.finish()
    yield from take()


_UNDECODED: Final = (packets.UNSUPPORTED_LINK, packets.NOT_IP, packets.MALFORMED, packets.TOO_DEEP)


def check_usable(path: Path, stats: IngestStats) -> None:
    """Refuse a capture none of whose frames decoded down to IP (``InputError``, naming the
    link types it has): an input that gave nothing must not pass for a quiet network."""
    if not stats.packets or sum(stats.skipped[r] for r in _UNDECODED) < stats.packets:
        return
    kinds = sorted({linktype for _, _, linktype, _ in iter_frames(path, IngestStats())})
    named = ", ".join(
        f"link type {k}" + ("" if k in SUPPORTED_LINKTYPES else " (unsupported)") for k in kinds
    )
    reasons = ", ".join(f"{stats.skipped[r]} {r}" for r in _UNDECODED if stats.skipped[r])
    raise InputError(
        str(path),
        f"nothing decoded: {stats.packets} frames of {named or 'no link type'} ({reasons})",
    )


class _Collect:
    """A sink that keeps the frames pushed into it."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def frame(self, number: int, ts: float, linktype: int, data: bytes) -> None:
        self.frames.append((number, ts, linktype, data))

    def secrets_block(self, kind: int, data: bytes) -> None:
        """Secrets are not frames: not kept."""


def iter_frames(
    path: Path, stats: IngestStats, progress: Progress | None = None
) -> Iterator[Frame]:
    """Every complete frame of a pcap or pcapng file, in file order (numbered from 1)."""
    sink = _Collect()
    for _ in feed_frames(path, stats, sink, progress):
        yield from sink.frames
        sink.frames.clear()
    yield from sink.frames


def feed_frames(
    path: Path,
    stats: IngestStats,
    sink: FrameSink,
    progress: Progress | None = None,
    *,
    start: int = 0,
    end: int | None = None,
) -> Iterator[None]:
    """Push every complete frame of a pcap or pcapng file into ``sink``, in file order
    (numbered from 1), pausing (yielding) every ``PAUSE_EVERY`` frames so the caller can take
    what the sink made of them. One call per frame, no generator step: the per-frame cost of
    reading is a large part of an ingest. Only frames whose record begins at or after byte
    ``start`` are pushed (the others are numbered), and reading ends at byte ``end``."""
    try:
        handle = open_window(path, end)
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    with handle:
        head = handle.read(4)
        if head in _PCAP_MAGIC:
            yield from _pcap_frames(path, handle, head, stats, sink, progress, start)
        elif head == b"\x0a\x0d\x0d\x0a":
            yield from _pcapng_frames(path, handle, head, stats, sink, progress, start)
        else:
            raise InputError(str(path), "not a pcap or pcapng capture (unknown magic bytes)")


class _Buffer:
    """A sliding window over the file: ``need(n)`` makes ``n`` bytes available from ``pos``."""

    __slots__ = ("data", "handle", "offset", "pos", "progress")

    def __init__(self, handle: BinaryIO, initial: bytes, progress: Progress | None) -> None:
        self.handle = handle
        self.data = initial
        self.pos = 0
        self.offset = 0  # file offset of data[0]
        self.progress = progress

    def need(self, n: int) -> bool:
        if len(self.data) - self.pos >= n:
            return True
        rest = self.data[self.pos :]
        self.offset += self.pos
        self.data = rest + self.handle.read(max(CHUNK, n - len(rest)))
        self.pos = 0
        if self.progress is not None:
            self.progress(self.offset)
        return len(self.data) >= n


def _truncated(stats: IngestStats, path: Path, frame: int, have: int, want: int) -> None:
    stats.skip(
        "truncated capture",
        f"{path}: frame {frame}: capture ends inside this frame ({have} of {want} bytes); "
        "every earlier frame was kept",
    )


def _u32(data: bytes, pos: int, little: bool) -> int:
    """The unsigned 32-bit integer at ``data[pos:pos + 4]`` (compiled: a few machine
    instructions, where ``struct`` builds a tuple of objects)."""
    if little:
        return data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16 | data[pos + 3] << 24
    return data[pos] << 24 | data[pos + 1] << 16 | data[pos + 2] << 8 | data[pos + 3]


def _pcap_frames(
    path: Path,
    handle: BinaryIO,
    magic: bytes,
    stats: IngestStats,
    sink: FrameSink,
    progress: Progress | None,
    start: int,
) -> Iterator[None]:
    endian, scale = _PCAP_MAGIC[magic]
    rest = handle.read(20)
    if len(rest) < 20:
        raise InputError(str(path), "truncated pcap file header")
    _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack(endian + "HHiIII", rest)
    linktype = network & 0x0FFFFFFF
    if linktype not in SUPPORTED_LINKTYPES:
        stats.warn(f"{path}: unsupported link type {linktype}: its frames are skipped")
    little = endian == "<"
    buf = _Buffer(handle, b"", progress)
    buf.offset = 24
    frame = 0
    data, pos, size = buf.data, 0, 0
    first = start - buf.offset  # records beginning before this position are not pushed
    while True:
        if pos + 16 > size:  # refill (the common case below runs on locals only)
            buf.pos = pos
            if not buf.need(16):
                if len(buf.data) - buf.pos:
                    _truncated(stats, path, frame + 1, len(buf.data) - buf.pos, 16)
                break
            data, pos, size = buf.data, buf.pos, len(buf.data)
            first = start - buf.offset
        sec = _u32(data, pos, little)
        frac = _u32(data, pos + 4, little)
        incl = _u32(data, pos + 8, little)
        end = pos + 16 + incl
        if end > size:
            if incl > MAX_RECORD:
                stats.skip(
                    "corrupt record",
                    f"{path}: frame {frame + 1}: record length {incl} "
                    "is not plausible; reading stopped there",
                )
                buf.pos = pos
                break
            buf.pos = pos
            if not buf.need(16 + incl):
                _truncated(stats, path, frame + 1, len(buf.data) - buf.pos - 16, incl)
                break
            data, pos, size = buf.data, buf.pos, len(buf.data)
            first = start - buf.offset
            end = pos + 16 + incl
        frame += 1
        if pos >= first:
            stats.packets += 1
            sink.frame(frame, sec + frac * scale, linktype, data[pos + 16 : end])
        pos = end
        if not frame % PAUSE_EVERY:
            yield None
    stats.consumed = buf.offset + buf.pos
    if progress is not None:
        progress(buf.offset + len(buf.data))


class _Interface:
    __slots__ = ("linktype", "offset", "scale")

    def __init__(self, linktype: int, scale: float, offset: float) -> None:
        self.linktype = linktype
        self.scale = scale
        self.offset = offset


def _idb(body: bytes, endian: str) -> _Interface:
    linktype = struct.unpack_from(endian + "H", body, 0)[0]
    scale, offset = 1e-6, 0.0
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        value = body[pos + 4 : pos + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:
            res = value[0]
            scale = 2.0 ** -(res & 0x7F) if res & 0x80 else 10.0**-res
        elif code == 14 and length >= 8:
            offset = float(struct.unpack_from(endian + "q", value, 0)[0])
        pos += 4 + ((length + 3) & ~3)
    return _Interface(linktype, scale, offset)


def _pcapng_frames(
    path: Path,
    handle: BinaryIO,
    magic: bytes,
    stats: IngestStats,
    sink: FrameSink,
    progress: Progress | None,
    start: int,
) -> Iterator[None]:
    buf = _Buffer(handle, magic, progress)
    endian = "<"
    interfaces: list[_Interface] = []
    frame = 0
    next_pause = PAUSE_EVERY
    last_ts = 0.0
    first = True
    sections: list[int] = []
    drops: dict[tuple[int, int], int] = {}  # (section, interface) -> packets dropped so far
    # the same, from the blocks before ``start``: what the read this one continues counted
    counted: dict[tuple[int, int], int] = {}
    while True:
        if frame >= next_pause:
            next_pause = frame + PAUSE_EVERY
            yield None
        if not buf.need(12):
            if first:
                raise InputError(str(path), "truncated pcapng file (no complete section header)")
            if len(buf.data) - buf.pos:
                _truncated(stats, path, frame + 1, len(buf.data) - buf.pos, 12)
            break
        data, pos = buf.data, buf.pos
        btype = struct.unpack_from(endian + "I", data, pos)[0]
        if btype == _SHB:
            bom = data[pos + 8 : pos + 12]
            if bom == _BOM_LE:
                endian = "<"
            elif bom == _BOM_BE:
                endian = ">"
            else:
                if first:
                    raise InputError(str(path), "not a pcapng capture (bad byte-order magic)")
                stats.skip(
                    "corrupt record",
                    f"{path}: after frame {frame}: bad section header; reading stopped there",
                )
                break
            interfaces = []
            sections.append(frame)
        elif first:
            raise InputError(str(path), "not a pcapng capture (no section header)")
        first = False
        length = struct.unpack_from(endian + "I", data, pos + 4)[0]
        if length < 12 or length % 4 or length > MAX_RECORD:
            stats.skip(
                "corrupt record",
                f"{path}: after frame {frame}: block length {length} "
                "is not plausible; reading stopped there",
            )
            break
        if not buf.need(length):
            if btype == _SHB and not interfaces and frame == 0:
                raise InputError(str(path), "truncated pcapng file (no complete section header)")
            if btype in (2, 3, 6):
                _truncated(stats, path, frame + 1, len(buf.data) - buf.pos, length)
            else:
                stats.skip(
                    "truncated capture",
                    f"{path}: after frame {frame}: capture ends "
                    "inside a block; every earlier frame was kept",
                )
            break
        data, pos = buf.data, buf.pos
        buf.pos = pos + length
        body_start = pos + 8
        if btype == 6 or btype == 2:  # enhanced / obsolete packet block
            if btype == 6:
                iface_id, high, low, caplen, _orig = struct.unpack_from(
                    endian + "IIIII", data, body_start
                )
            else:
                iface_id, _drops, high, low, caplen, _orig = struct.unpack_from(
                    endian + "HHIIII", data, body_start
                )
            begin = body_start + 20
            caplen = min(caplen, length - 32)
            frame += 1
            earlier = buf.offset + pos < start  # read before: numbered, not pushed
            if iface_id >= len(interfaces):
                if not earlier:
                    stats.packets += 1
                    stats.skip(
                        "malformed frame", f"{path}: frame {frame}: unknown interface {iface_id}"
                    )
                continue
            iface = interfaces[iface_id]
            last_ts = ((high << 32) | low) * iface.scale + iface.offset
            if earlier:
                continue
            stats.packets += 1
            if not MIN_TS <= last_ts <= MAX_TS:
                stats.skip(
                    "implausible timestamp",
                    f"{path}: frame {frame}: time {last_ts:.6g} is outside 1970-9999",
                )
                continue
            sink.frame(frame, last_ts, iface.linktype, data[begin : begin + caplen])
        elif btype == 3:  # simple packet block: interface 0, no timestamp
            orig = struct.unpack_from(endian + "I", data, body_start)[0]
            begin = body_start + 4
            caplen = min(orig, length - 16)
            frame += 1
            if buf.offset + pos < start:
                continue
            stats.packets += 1
            if not interfaces:
                stats.skip("malformed frame", f"{path}: frame {frame}: no interface described")
                continue
            sink.frame(frame, last_ts, interfaces[0].linktype, data[begin : begin + caplen])
        elif btype == 5:  # interface statistics: what the capturing tool lost, cumulative
            earlier = buf.offset + pos < start
            _isb(
                data[body_start : pos + length - 4],
                endian,
                len(sections),
                counted if earlier else drops,
            )
        elif btype == 10 and length >= 20:  # decryption secrets (key log lines for TLS)
            kind, size = struct.unpack_from(endian + "II", data, body_start)
            at = body_start + 8  # read from the file's start: a continued read has them too
            sink.secrets_block(kind, data[at : at + min(size, length - 20)])
        elif btype == 1:  # interface description
            iface = _idb(data[body_start : pos + length - 4], endian)
            if iface.linktype not in SUPPORTED_LINKTYPES:
                stats.warn(
                    f"{path}: interface {len(interfaces)}: unsupported link type "
                    f"{iface.linktype}: its frames are skipped"
                )
            interfaces.append(iface)
    stats.consumed = buf.offset + buf.pos
    if drops:  # a continued read counts only what was dropped since (the counters add up)
        stats.counts[CAPTURE_DROPS] += sum(
            max(0, n - counted.get(key, 0)) for key, n in drops.items()
        )
    if progress is not None:
        progress(buf.offset + len(buf.data))


def _isb(body: bytes, endian: str, section: int, drops: dict[tuple[int, int], int]) -> None:
    """Keep the drop counters of an Interface Statistics Block (``isb_ifdrop``, and
    ``isb_osdrop`` when the interface's is absent): the last block of an interface holds its
    totals."""
    if len(body) < 12:
        return
    iface = struct.unpack_from(endian + "I", body, 0)[0]
    pos = 12
    ifdrop: int | None = None
    osdrop: int | None = None
    while pos + 4 <= len(body):
        code, size = struct.unpack_from(endian + "HH", body, pos)
        if code == 0:
            break
        if size == 8 and pos + 12 <= len(body):
            value = struct.unpack_from(endian + "Q", body, pos + 4)[0]
            if code == 5:
                ifdrop = value
            elif code == 7:
                osdrop = value
        pos += 4 + ((size + 3) & ~3)
    dropped = ifdrop if ifdrop is not None else osdrop
    if dropped is not None:
        drops[(section, iface)] = dropped
