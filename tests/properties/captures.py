"""Real TCP streams out of the tcpdump-made fixtures, and frames/pcaps rebuilt from byte ranges.

A ``Stream`` is one fixture connection as the bytes each side sent, in *runs*: consecutive data
of one side in capture order. Rebuilt captures keep the runs in order (a server cannot answer
bytes it has not received) and are free to cut, reorder and repeat segments inside a run.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from discovery.models import ObservedExchange
from discovery.sources.pcap import iter_frames, read
from discovery.stats import IngestStats
from discovery.wire import packets
from discovery.wire.connections import ConnectionTracker
from discovery.wire.packets import ACK, FIN, SYN
from tests.paths import FIXTURES

FIXTURES = FIXTURES / "pcap"
CLIENT, SERVER = 0, 1
PSH = 0x08
MAX_SEGMENT = 32768


@dataclass(frozen=True)
class Run:
    side: int  # CLIENT or SERVER
    start: int  # offset of data[0] in that side's byte stream
    data: bytes


@dataclass(frozen=True)
class Stream:
    """One connection of a fixture capture."""

    capture: str
    addrs: tuple[bytes, bytes]  # client, server (4 or 16 raw bytes)
    ports: tuple[int, int]
    isn: tuple[int, int]
    runs: tuple[Run, ...]

    @property
    def name(self) -> str:
        return f"{self.capture}:{self.ports[0]}->{self.ports[1]}"

    def total(self, side: int) -> bytes:
        return b"".join(r.data for r in self.runs if r.side == side)


# ------------------------------------------------------------------------- reading fixtures


@cache
def streams_of(capture: str) -> tuple[Stream, ...]:
    """Every connection of a capture seen from its SYN with contiguous data on both sides."""
    flows: dict[tuple[Any, ...], dict[str, Any]] = {}
    order: list[tuple[Any, ...]] = []
    for _n, _ts, linktype, data in iter_frames(FIXTURES / capture, IngestStats()):
        seg = packets.decode(linktype, data)
        if not isinstance(seg, packets.Segment):
            continue
        fwd = (seg.src, seg.sport, seg.dst, seg.dport)
        rev = (seg.dst, seg.dport, seg.src, seg.sport)
        if fwd in flows:
            key, side = fwd, CLIENT
        elif rev in flows:
            key, side = rev, SERVER
        elif seg.flags & SYN and not seg.flags & ACK:
            key, side = fwd, CLIENT
            flows[key] = {"next": [None, None], "isn": [None, None], "runs": [], "bad": False}
            order.append(key)
        else:
            continue
        flow = flows[key]
        if seg.flags & SYN:
            flow["isn"][side] = seg.seq
            flow["next"][side] = (seg.seq + 1) & 0xFFFFFFFF
        if seg.missing:
            flow["bad"] = True
        if seg.payload:
            nxt = flow["next"][side]
            if nxt is None:
                flow["bad"] = True
                continue
            offset = (seg.seq - nxt) & 0xFFFFFFFF
            payload = seg.payload
            if offset >= 1 << 31:  # retransmission (or overlap) of delivered bytes
                back = (1 << 32) - offset
                if back >= len(payload):
                    continue
                payload = payload[back:]
            elif offset:
                flow["bad"] = True  # a gap: not a complete stream
                continue
            flow["next"][side] = (nxt + len(payload)) & 0xFFFFFFFF
            runs = flow["runs"]
            if runs and runs[-1][0] == side:
                runs[-1][1].extend(payload)
            else:
                runs.append([side, bytearray(payload)])
    out = []
    for key in order:
        flow = flows[key]
        if flow["bad"] or None in flow["isn"] or not flow["runs"]:
            continue
        starts = [0, 0]
        runs = []
        for side, data in flow["runs"]:
            runs.append(Run(side, starts[side], bytes(data)))
            starts[side] += len(data)
        out.append(
            Stream(capture, (key[0], key[2]), (key[1], key[3]), tuple(flow["isn"]), tuple(runs))
        )
    return tuple(out)


def http_streams() -> tuple[Stream, ...]:
    """The HTTP connections of the tcpdump-made captures (Ethernet, and Linux cooked v2)."""
    return tuple(s for cap in ("http_api.pcap", "http_api_any_sll2.pcap") for s in streams_of(cap))


# ------------------------------------------------------------------------- building captures


def frame(stream: Stream, side: int, seq: int, flags: int, payload: bytes = b"") -> bytes:
    """An Ethernet frame carrying one TCP segment of ``stream`` (side's absolute seq)."""
    src, dst = stream.addrs if side == CLIENT else stream.addrs[::-1]
    sport, dport = stream.ports if side == CLIENT else stream.ports[::-1]
    ack_of = stream.isn[1 - side] + 1
    tcp = (
        struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            seq & 0xFFFFFFFF,
            ack_of & 0xFFFFFFFF,
            0x50,
            flags,
            65535,
            0,
            0,
        )
        + payload
    )
    if len(src) == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
        etype = b"\x08\x00"
    else:
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64, src, dst)
        etype = b"\x86\xdd"
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + etype + ip + tcp


def data_frames(stream: Stream, side: int, offset: int, payload: bytes) -> list[bytes]:
    """Data segments carrying ``payload`` at ``offset`` of ``side``'s byte stream (cut to
    ``MAX_SEGMENT`` so each fits an IPv4 datagram)."""
    return [
        frame(
            stream, side, stream.isn[side] + 1 + offset + i, ACK | PSH, payload[i : i + MAX_SEGMENT]
        )
        for i in range(0, len(payload), MAX_SEGMENT)
    ]


def handshake(stream: Stream) -> list[bytes]:
    return [
        frame(stream, CLIENT, stream.isn[0], SYN),
        frame(stream, SERVER, stream.isn[1], SYN | ACK),
    ]


def closing(stream: Stream, ends: Sequence[int]) -> list[bytes]:
    """FIN from both sides at the given stream lengths."""
    return [
        frame(stream, CLIENT, stream.isn[0] + 1 + ends[0], FIN | ACK),
        frame(stream, SERVER, stream.isn[1] + 1 + ends[1], FIN | ACK),
    ]


def replay_in_order(stream: Stream) -> list[bytes]:
    """The stream as one segment per run (the reference segmentation)."""
    frames = handshake(stream)
    for r in stream.runs:
        frames += data_frames(stream, r.side, r.start, r.data)
    return frames + closing(stream, (len(stream.total(0)), len(stream.total(1))))


def pcap_bytes(frames: Iterable[bytes], linktype: int = 1, t0: float = 1_790_000_000.0) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for i, data in enumerate(frames):
        ts = t0 + i * 0.001
        sec = int(ts)
        out.append(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(data), len(data)))
        out.append(data)
    return b"".join(out)


def read_capture(data: bytes) -> tuple[list[ObservedExchange], IngestStats]:
    """Ingest capture bytes through the pcap reader (the whole path from file to exchanges)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.pcap"
        path.write_bytes(data)
        stats = IngestStats()
        return list(read(path, stats)), stats


def run_frames(frames: Iterable[bytes]) -> tuple[list[ObservedExchange], IngestStats]:
    """Feed Ethernet frames straight into the packet pipeline (no file)."""
    stats = IngestStats()
    pipeline = ConnectionTracker(stats, "pcap", where="fuzz")
    out: list[ObservedExchange] = []
    for i, data in enumerate(frames, 1):
        stats.packets += 1
        pipeline.frame(i, 1_790_000_000.0 + i * 0.001, 1, data)
        out += pipeline.take()
    pipeline.finish()
    out += pipeline.take()
    return out, stats


# ------------------------------------------------------------------------- comparing


def key(ex: ObservedExchange) -> tuple[Any, ...]:
    """What an exchange says, without where and when it was seen (frame numbers, time)."""
    return (
        ex.client_ip,
        ex.client_port,
        ex.server_ip,
        ex.server_port,
        ex.tls,
        ex.sni,
        ex.http_version,
        ex.method,
        ex.target,
        ex.host,
        ex.status,
        ex.request_headers,
        ex.response_headers,
        ex.request_body,
        ex.response_body,
        ex.request_bytes,
        ex.response_bytes,
        ex.partial,
        ex.websocket,
    )


@cache
def original_exchanges(capture: str) -> tuple[ObservedExchange, ...]:
    return tuple(read(FIXTURES / capture, IngestStats()))


def exchanges_of(stream: Stream) -> list[tuple[Any, ...]]:
    """The exchanges the original capture yields on this stream's connection, in order."""
    client = packets.address_text(stream.addrs[0])
    return [
        key(e)
        for e in original_exchanges(stream.capture)
        if (e.client_ip, e.client_port, e.server_port) == (client, *stream.ports)
    ]
