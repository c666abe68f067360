"""From frames to exchanges: decode, reassemble, recognise each connection's protocol by its
content (HTTP/1.x on any port, TLS ClientHello), and collect the exchanges it yields.

Shared by the capture-file reader and the live sniffer.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Final

from discovery.models import ObservedExchange
from discovery.stats import IngestStats
from discovery.wire import packets
from discovery.wire.defrag import Defragmenter
from discovery.wire.http1 import HttpSession
from discovery.wire.http2 import PREFACE, Answer, H2Session
from discovery.wire.http_head import (
    METHOD_PREFIXES,
    REQUEST_START,
    RESPONSE_START,
    looks_like_request,
    looks_like_response,
)
from discovery.wire.keylog import DSB_TLS_KEY_LOG, KeyLog
from discovery.wire.reassembly import Connection, Limits, Reassembler
from discovery.wire.tls import (
    MAX_HELLO,
    NotClientHello,
    hello_exchange,
    looks_like_tls,
    parse_client_hello,
)
from discovery.wire.tlssession import TlsSession, Waiting, endpoints

log = logging.getLogger(__name__)

SCAN_BUDGET: Final = 64 * 1024  # bytes searched for an HTTP message start in an unrecognised flow
# a first segment this short may be a cut "GET " or TLS header: wait for more
HOLD_LIMIT: Final = 16
_STARTS: Final = (*METHOD_PREFIXES, b"HTTP/1.0 ", b"HTTP/1.1 ", PREFACE)

# _APP: a session of its own drives the connection (TLS with key logs, h2c)
_UNKNOWN, _HTTP, _TLS, _OTHER, _APP = 0, 1, 2, 3, 4
_WARN_REASONS: Final = frozenset({packets.MALFORMED, packets.TOO_DEEP})
_FAST: Final = struct.Struct("!4s4sHHIIBB")  # IPv4 addresses + TCP header, from offset 26


def _could_start(data: bytes) -> bool:
    """Whether a few bytes may be the cut beginning of an HTTP message or a TLS record."""
    if any(start.startswith(data) for start in _STARTS):
        return True
    return data[:1] == b"\x16" and (len(data) < 2 or data[1] == 0x03) and len(data) < 6


class ConnectionHandler:
    """Recognises one connection's protocol from its first bytes and drives its parser."""

    __slots__ = (
        "app",
        "held",
        "hello",
        "hello_frames",
        "hello_ts",
        "http",
        "kind",
        "pipeline",
        "scanned",
        "tunnel_host",
    )

    def __init__(self, pipeline: ConnectionTracker) -> None:
        self.pipeline = pipeline
        self.kind = _UNKNOWN
        self.http: HttpSession | None = None
        self.app: TlsSession | H2Session | None = None
        self.hello = bytearray()
        self.hello_ts = 0.0
        self.hello_frames = (0, 0)
        self.scanned = 0
        self.held: tuple[int, bytes, float, int] | None = None  # side, bytes, ts, first frame
        self.tunnel_host: str | None = None  # inside a CONNECT tunnel: its target

    def on_data(self, conn: Connection, side: int, data: bytes, ts: float, frame: int) -> None:
        kind = self.kind
        if kind == _HTTP:
            assert self.http is not None
            self.http.data(side == conn.client, data, ts, frame)
        elif kind == _APP:
            assert self.app is not None
            self.app.data(side == conn.client, data, ts, frame)
        elif kind == _UNKNOWN:
            self._recognise(conn, side, data, ts, frame)
        elif kind == _TLS and side == conn.client:
            self._hello_data(conn, data, frame)

    def on_gap(self, conn: Connection, side: int, size: int) -> None:
        if self.held is not None:
            held, self.held = self.held, None
            self._decide(conn, *held)
        if self.kind == _HTTP and self.http is not None:
            self.http.gap(side == conn.client, size)
        elif self.kind == _APP and self.app is not None:
            self.app.gap(side == conn.client, size)
        elif self.kind == _TLS and side == conn.client:
            self.pipeline.stats.skip("incomplete TLS ClientHello")
            self.kind = _OTHER

    def on_close(self, conn: Connection) -> None:
        if self.held is not None:  # a short stream that never said more: decide on what came
            held, self.held = self.held, None
            self._decide(conn, *held)
        if self.kind == _HTTP and self.http is not None:
            self.http.close()
        elif self.kind == _APP and self.app is not None:
            self.app.close()
        elif self.kind == _TLS:
            self.pipeline.stats.skip("incomplete TLS ClientHello")

    # ----------------------------------------------------------- recognition

    def _recognise(self, conn: Connection, side: int, data: bytes, ts: float, frame: int) -> None:
        held = self.held
        if held is not None:
            self.held = None
            if held[0] == side:  # the rest of a cut message start: decide on the whole
                data, ts, frame = held[1] + data, held[2], held[3]
            else:  # the other side spoke: decide on the held bytes alone first
                self._decide(conn, held[0], held[1], held[2], held[3])
                if self.kind != _UNKNOWN:
                    self.on_data(conn, side, data, ts, frame)
                    return
        if len(data) < HOLD_LIMIT and _could_start(data):
            self.held = (side, data, ts, frame)
            return
        self._decide(conn, side, data, ts, frame)

    def _decide(self, conn: Connection, side: int, data: bytes, ts: float, frame: int) -> None:
        if data.startswith(PREFACE[:14]):  # "PRI * HTTP/2.0": h2c with prior knowledge
            conn.client = side  # (before the lenient request line, which would take PRI)
            self._start_app(conn, "h2c")
            assert self.app is not None
            self.app.data(side == conn.client, data, ts, frame)
            return
        if looks_like_request(data):
            self._start_http(conn, client=side)
        elif looks_like_response(data):
            self._start_http(conn, client=1 - side)
        elif (
            looks_like_tls(data)
            and len(data) > 5
            and data[5] == 1
            and self.pipeline.secrets is not None
        ):
            conn.client = side
            self._start_app(conn, "tls")
            assert self.app is not None
            self.app.data(side == conn.client, data, ts, frame)
            return
        elif looks_like_tls(data) and len(data) > 5 and data[5] == 1:
            conn.client = side
            self.kind = _TLS
            self.hello_ts = ts
            self.hello_frames = (frame, frame)
            self._hello_data(conn, data, frame)
            return
        else:
            found_req = REQUEST_START.search(data)
            found_resp = RESPONSE_START.search(data)
            if found_req is None and found_resp is None:
                self.scanned += len(data)
                if self.scanned > SCAN_BUDGET or looks_like_tls(data):
                    self.kind = _OTHER
                    self.pipeline.stats.counts["connections neither HTTP/1 nor TLS"] += 1
                return
            # mid-stream: the side that sends the first message start found decides the roles
            if found_resp is None or (
                found_req is not None and found_req.start() < found_resp.start()
            ):
                self._start_http(conn, client=side)
            else:
                self._start_http(conn, client=1 - side)
        assert self.http is not None
        self.http.data(side == conn.client, data, ts, frame)

    def _start_http(self, conn: Connection, client: int) -> None:
        conn.client = client
        self.kind = _HTTP
        pipeline = self.pipeline
        self.http = HttpSession(
            pipeline.out.append if pipeline.keys is None else partial(pipeline.emit, conn),
            pipeline.stats,
            pipeline.source,
            *endpoints(conn),
            pipeline.where,
            partial(self._tunnel, conn),
            self.tunnel_host,
            partial(self._upgrade, conn),
        )

    def _tunnel(
        self, conn: Connection, target: str, client: bytes, server: bytes, ts: float, frame: int
    ) -> None:
        """A CONNECT was answered 2xx: what runs inside the tunnel is recognised afresh
        (cleartext HTTP is read, a TLS ClientHello gives its SNI), its host the target."""
        self.kind = _UNKNOWN
        self.http = None
        self.app = None
        self.scanned = 0
        self.held = None
        self.tunnel_host = target
        client_side = conn.client or 0
        if client:
            self.on_data(conn, client_side, client, ts, frame)
        if server:
            self.on_data(conn, 1 - client_side, server, ts, frame)

    def _upgrade(
        self,
        conn: Connection,
        answered: Callable[[Answer], None],
        client: bytes,
        server: bytes,
        ts: float,
        frame: int,
    ) -> None:
        """An HTTP/1.1 request's upgrade to h2c was answered 101: HTTP/2 from here on, its
        stream 1 the answer to that request (``answered``)."""
        pipeline = self.pipeline
        self.kind = _APP
        self.http = None
        self.app = H2Session(
            partial(pipeline.emit, conn),
            pipeline.stats,
            pipeline.source,
            *endpoints(conn),
            pipeline.where,
            upgraded=answered,
            upgrade_at=(ts, frame),
        )
        if client:
            self.app.data(True, client, ts, frame)
        if server:
            self.app.data(False, server, ts, frame)

    def _start_app(self, conn: Connection, kind: str) -> None:
        """Hand the connection to a session of its own (TLS decrypted with key logs, h2c)."""
        pipeline = self.pipeline
        self.kind = _APP
        if kind == "tls":
            self.app = TlsSession(pipeline, conn)
        else:
            self.app = H2Session(
                partial(pipeline.emit, conn),
                pipeline.stats,
                pipeline.source,
                *endpoints(conn),
                pipeline.where,
            )
            pipeline.stats.counts["h2c connections (HTTP/2 with prior knowledge)"] += 1

    def _hello_data(self, conn: Connection, data: bytes, frame: int) -> None:
        self.hello += data
        self.hello_frames = (self.hello_frames[0], frame)
        try:
            hello = parse_client_hello(bytes(self.hello))
        except NotClientHello as exc:
            if "incomplete" in str(exc) and len(self.hello) < MAX_HELLO:
                return
            self.pipeline.stats.skip(
                "malformed TLS ClientHello",
                f"{self.pipeline.where}: frame {frame}: {exc}",
            )
            self.kind = _OTHER
            return
        self.kind = _OTHER  # nothing more to read: the rest is encrypted
        self.hello = bytearray()
        self.pipeline.emit(
            conn,
            hello_exchange(
                hello,
                self.hello_ts,
                self.hello_frames,
                self.pipeline.source,
                *endpoints(conn),
                ja4=hello.ja4,
                host=hello.sni or self.tunnel_host,
                destination=self.tunnel_host,
            ),
        )


END: Final = 1 << 62  # the key of what the end of the input emits (after every frame)


def share_of(sport: int, dport: int, count: int) -> int:
    """Which of ``count`` shares a TCP connection with these ports belongs to (the same for
    both directions)."""
    mixed = sport ^ dport
    return (mixed ^ (mixed >> 7)) % count


class ConnectionTracker:
    """Frames in, ``ObservedExchange``s out (collected in ``out``; take them with ``take``).

    ``share=(index, count)`` follows only the TCP connections whose ports hash to ``index`` of
    ``count`` (both directions of a connection hash alike), so ``count`` readers of one capture
    split its flows between them. Frame-level counters (packets, skipped frames, fragments) are
    kept by share 0 only, and every exchange gets a key in ``keys``: (when it was emitted: twice
    the frame number, plus one unless an idle sweep before the frame emitted it; the frame
    number that opened its connection). Merged in key order, the shares give the
    exchanges of one reader in its order (idle sweeps go by frame number, see
    ``Reassembler.tick``); only flow-cap evictions can differ: each share caps its own flows at
    its part of the cap.
    """

    def __init__(
        self,
        stats: IngestStats,
        source: str = "pcap",
        where: str = "",
        limits: Limits | None = None,
        share: tuple[int, int] | None = None,
        secrets: KeyLog | None = None,
    ) -> None:
        self.stats = stats
        self.secrets = secrets  # TLS session secrets (key logs): connections with them decrypted
        # set when ``secrets`` grows while frames come (a followed key log): TLS connections
        # whose secrets are not logged yet wait for them (bounded), instead of staying opaque
        self.waiting: Waiting | None = None
        self.source = source
        self.where = where
        self.out: list[ObservedExchange] = []
        self.reassembler = Reassembler(self._new_handler, stats, limits)
        self.share = share
        self.keys: list[tuple[int, int]] | None = None
        self.frame_stats = stats  # where frame-level counters go
        if share is not None:
            index, count = share
            if not 0 <= index < count:
                raise ValueError(f"share {index} of {count}")
            self.keys = []
            if index:
                self.frame_stats = IngestStats()  # share 0 counts them
            limits = self.reassembler.limits  # the cap on concurrent flows holds for them all
            self.reassembler.limits = replace(limits, max_flows=max(1, limits.max_flows // count))
        self.defrag = Defragmenter(self.frame_stats)
        self.current = 0  # first element of the keys of exchanges emitted now (see above)

    def _new_handler(self, conn: Connection) -> ConnectionHandler:
        return ConnectionHandler(self)

    def emit(self, conn: Connection, exchange: ObservedExchange) -> None:
        """Collect an exchange of ``conn`` (with its key, when sharing)."""
        self.out.append(exchange)
        if self.keys is not None:
            self.keys.append((self.current, conn.opened))

    def secrets_block(self, kind: int, data: bytes) -> None:
        """Take the TLS key log of a pcapng Decryption Secrets Block (other kinds counted)."""
        if kind != DSB_TLS_KEY_LOG:
            self.frame_stats.counts["decryption secrets of other kinds (not TLS) ignored"] += 1
            return
        if self.secrets is None:
            self.secrets = KeyLog()
        self.secrets.add_text(
            data, f"{self.where} (pcapng Decryption Secrets Block)", self.frame_stats
        )

    def frame(self, number: int, ts: float, linktype: int, data: bytes) -> None:
        """Account one captured frame."""
        reassembler = self.reassembler
        if number >= reassembler.next_sweep:  # an idle sweep emits before the frame's own flow
            self.current = 2 * number
            reassembler.tick(number, ts)
        self.current = 2 * number + 1
        if (
            linktype == 1
            and len(data) >= 54
            and data[12] == 8
            and data[13] == 0
            and data[14] == 0x45
            and data[23] == 6
            and not (data[20] & 0x3F or data[21])
        ):
            # fast path: untagged Ethernet, IPv4 without options or fragmentation, TCP
            total = (data[16] << 8) | data[17]
            doff = (data[46] >> 4) * 4
            if total == 20 + doff and not data[47] & 0x07:
                return  # a bare ACK carries nothing to follow
            end = 14 + total
            if total and doff >= 20 and 34 + doff <= end <= len(data):
                src, dst, sport, dport, seq, ack, _off, flags = _FAST.unpack_from(data, 26)
                share = self.share
                if share is not None and share_of(sport, dport, share[1]) != share[0]:
                    return
                reassembler.segment(
                    packets.Segment(
                        src, dst, sport, dport, seq, ack, flags, data[34 + doff : end], 0
                    ),
                    ts,
                    number,
                )
                return
        seg = packets.decode(linktype, data)
        if isinstance(seg, packets.Fragment):
            datagram = self.defrag.add(seg, ts)
            if datagram is None:
                return
            inner = packets.ip_payload(seg.src, seg.dst, seg.proto, datagram, 0, len(datagram), 1)
            if isinstance(inner, packets.Fragment):  # a fragment inside a tunnel's datagram
                datagram = self.defrag.add(inner, ts)
                if datagram is None:
                    return
                inner = packets.ip_payload(
                    inner.src, inner.dst, inner.proto, datagram, 0, len(datagram), 2
                )
            if isinstance(inner, packets.Fragment):
                self.frame_stats.skip(packets.TOO_DEEP)
                return
            seg = inner
        if isinstance(seg, str):
            if seg in _WARN_REASONS:
                self.frame_stats.skip(seg, f"{self.where}: frame {number}: {seg}")
            else:
                self.frame_stats.skip(seg)
            return
        share = self.share
        if share is not None and share_of(seg.sport, seg.dport, share[1]) != share[0]:
            return
        reassembler.segment(seg, ts, number)

    def finish(self) -> None:
        """End of input: close every open connection (responses read until close complete)."""
        self.current = END
        self.reassembler.close_all()
        self.defrag.finish()
        if self.waiting is not None:
            self.waiting.settle()

    def take(self) -> list[ObservedExchange]:
        """The exchanges completed since the last call."""
        out = self.out[:]  # the list object stays: sessions hold its bound append
        self.out.clear()
        return out

    def take_keyed(self) -> list[tuple[tuple[int, int], ObservedExchange]]:
        """The exchanges completed since the last call, with their keys (when sharing)."""
        assert self.keys is not None
        keyed = list(zip(self.keys, self.out, strict=True))
        self.out.clear()
        self.keys.clear()
        return keyed
