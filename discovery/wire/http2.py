"""HTTP/2 on one connection (RFC 9113): frames, HPACK header blocks (``hpackdecode``, on python-hyper's
``hpack`` tables; one decoder per direction, dynamic table included) and streams paired into exchanges.

Each stream gives one exchange: ``:method``, ``:path``, ``:authority``, ``:status``, the
regular headers (``cookie`` fields joined with "; " as RFC 9113 8.2.3 says for HTTP/1 use) and
bounded body prefixes, so everything after the wire layer sees it as it sees HTTP/1.x. Interim
(1xx) responses are skipped; response trailers (a HEADERS frame after DATA: gRPC's
``grpc-status``) follow the response headers; pushed streams (PUSH_PROMISE) are exchanges too.

A connection upgraded from HTTP/1.1 (``Upgrade: h2c``, RFC 7540 3.2; RFC 9113 deprecates it,
servers still answer it) has no stream 1 request of its own: the HTTP/1.1 request that asked
for the upgrade is stream 1, answered in HTTP/2. Such a session is made with ``upgraded``,
which takes stream 1's response (an ``Answer``) in place of an exchange, so the request is
recorded once, by the HTTP/1 side that read it.

What the protocol does not let us see is counted, never guessed: after a gap a direction's
frame boundaries are lost (it stops; open streams are emitted partial); a header block that
does not decode (HPACK state unknown: a lost block, or a connection seen from its middle) is
counted and the headers decoded after it in that direction are marked partial, since the
dynamic table they index may be wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from discovery.models import ObservedExchange, observed_exchange
from discovery.stats import IngestStats
from discovery.wire.bodies import BODY_PREFIX, decode_body
from discovery.wire.hpackdecode import HeaderDecoder, HpackError

PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_STREAMS: Final = 1024  # open streams kept per connection
MAX_BLOCK: Final = 1 << 20  # header block bytes gathered across CONTINUATION frames
MAX_HEADERS: Final = 200
_DATA, _HEADERS, _RST, _SETTINGS, _PUSH, _GOAWAY, _CONT = 0, 1, 3, 4, 5, 7, 9
_END_STREAM, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x4, 0x8, 0x20

UNDECODABLE: Final = "HTTP/2 header blocks not decodable (HPACK state unknown; later ones partial)"
LOST: Final = "HTTP/2 directions not parsed past a gap (frame boundaries lost)"
NO_PREFACE: Final = "HTTP/2 connections without the client preface (not parsed)"


@dataclass(frozen=True, slots=True)
class Answer:
    """Stream 1's response on a connection upgraded to h2c: the answer to the HTTP/1.1 request
    that asked for the upgrade."""

    status: int | None
    headers: tuple[tuple[str, str], ...]  # regular fields, then trailers
    body: bytes  # prefix as sent (content-coding not undone)
    body_bytes: int
    last_frame: int
    partial: bool


class _Stream:
    __slots__ = (
        "first",
        "last",
        "partial",
        "req",
        "req_body",
        "req_bytes",
        "req_done",
        "resp",
        "resp_body",
        "resp_bytes",
        "status",
        "trailers",
        "ts",
    )

    def __init__(self, ts: float, frame: int) -> None:
        self.ts = ts
        self.first = frame
        self.last = frame
        self.req: list[tuple[str, str]] | None = None  # pseudo-headers first, as decoded
        self.resp: list[tuple[str, str]] | None = None
        self.status: int | None = None
        self.trailers: list[tuple[str, str]] | None = None
        self.req_body = bytearray()
        self.resp_body = bytearray()
        self.req_bytes = 0
        self.resp_bytes = 0
        self.req_done = False
        self.partial = False


class _Side:
    __slots__ = ("block", "block_end", "block_stream", "broken", "buf", "decoder", "hpack_lost")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.decoder = HeaderDecoder()
        self.block: bytearray | None = None  # a header block waiting for CONTINUATION
        self.block_stream = 0
        self.block_end = False
        self.broken = False
        self.hpack_lost = False


class H2Session:
    """HTTP/2 frames of both directions of one connection in, one exchange per stream out."""

    def __init__(
        self,
        emit: Callable[[ObservedExchange], None],
        stats: IngestStats,
        source: str,
        client: tuple[str, int],
        server: tuple[str, int],
        where: str = "",
        preface: bool = True,
        upgraded: Callable[[Answer], None] | None = None,
        upgrade_at: tuple[float, int] = (0.0, 0),
    ) -> None:
        """``upgraded``: the connection was upgraded from HTTP/1.1 (at ``upgrade_at``: time and
        frame of the 101): stream 1's response goes to it."""
        self.emit = emit
        self.stats = stats
        self.source = source
        self.client = client
        self.server = server
        self.where = where
        self.sides = (_Side(), _Side())  # client, server
        self.preface_pending = preface
        self.streams: dict[int, _Stream] = {}
        self.upgraded = upgraded
        self.upgrade_stream: _Stream | None = None
        if upgraded is not None:  # stream 1 is open, its request sent (half-closed, RFC 9113 3.2)
            stream = _Stream(*upgrade_at)
            stream.req = []
            stream.req_done = True
            self.streams[1] = stream
            self.upgrade_stream = stream

    # ----------------------------------------------------------- bytes in

    def data(self, from_client: bool, data: bytes, ts: float, frame: int) -> None:
        side = self.sides[0 if from_client else 1]
        if side.broken:
            return
        buf = side.buf
        if buf:  # a frame cut by the last call: read on from its start (frames sliced from bytes)
            buf += data
            data = bytes(buf)
            buf.clear()
        if from_client and self.preface_pending:
            if len(data) < len(PREFACE):
                if not PREFACE.startswith(data):
                    self._no_preface(side)
                else:
                    buf += data
                return
            if not data.startswith(PREFACE):
                self._no_preface(side)
                return
            data = data[len(PREFACE) :]
            self.preface_pending = False
        pos = 0
        size = len(data)
        while size - pos >= 9:
            length = (data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2]
            end = pos + 9 + length
            if end > size:
                break
            ftype = data[pos + 3]
            flags = data[pos + 4]
            sid = int.from_bytes(data[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
            payload = data[pos + 9 : end]
            pos = end
            self._frame(from_client, side, ftype, flags, sid, payload, ts, frame)
            if side.broken:
                return
        if pos < size:
            buf += data[pos:] if pos else data

    def _no_preface(self, side: _Side) -> None:
        side.broken = True
        self.sides[1].broken = True
        self.stats.counts[NO_PREFACE] += 1

    def gap(self, from_client: bool, size: int) -> None:
        side = self.sides[0 if from_client else 1]
        if side.broken:
            return
        side.broken = True
        side.buf.clear()
        self.stats.counts[LOST] += 1
        for stream in self.streams.values():
            stream.partial = True

    def close(self) -> None:
        for sid in list(self.streams):
            stream = self.streams.pop(sid)
            if stream.req is not None:
                if stream.resp is not None:  # the response began but never ended
                    stream.partial = True
                self._emit(stream)

    # ----------------------------------------------------------- frames

    def _frame(
        self,
        from_client: bool,
        side: _Side,
        ftype: int,
        flags: int,
        sid: int,
        payload: bytes,
        ts: float,
        frame: int,
    ) -> None:
        if side.block is not None and ftype != _CONT:
            self.stats.counts["HTTP/2 header blocks cut by another frame"] += 1
            side.block = None
            side.hpack_lost = True
        if ftype == _DATA:
            stream = self.streams.get(sid)
            if stream is None:
                return
            if flags & _PADDED and payload:
                payload = payload[1 : len(payload) - payload[0]]
            stream.last = frame
            if from_client:
                stream.req_bytes += len(payload)
                room = BODY_PREFIX - len(stream.req_body)
                if room > 0:
                    stream.req_body += payload[:room]
                if flags & _END_STREAM:
                    stream.req_done = True
            else:
                stream.resp_bytes += len(payload)
                room = BODY_PREFIX - len(stream.resp_body)
                if room > 0:
                    stream.resp_body += payload[:room]
                if flags & _END_STREAM:
                    self._finish(sid)
        elif ftype == _HEADERS:
            if flags & _PADDED and payload:
                payload = payload[1 : len(payload) - payload[0]]
            if flags & _PRIORITY:
                payload = payload[5:]
            side.block_stream = sid
            side.block_end = bool(flags & _END_STREAM)
            if flags & _END_HEADERS:
                self._headers(from_client, side, sid, payload, side.block_end, ts, frame)
            else:
                side.block = bytearray(payload)
        elif ftype == _CONT:
            if side.block is None or sid != side.block_stream:
                return
            side.block += payload
            if len(side.block) > MAX_BLOCK:
                side.block = None
                side.hpack_lost = True
                self.stats.counts[UNDECODABLE] += 1
                return
            if flags & _END_HEADERS:
                block, side.block = bytes(side.block), None
                self._headers(from_client, side, sid, block, side.block_end, ts, frame)
        elif ftype == _PUSH and not from_client:
            if flags & _PADDED and payload:
                payload = payload[1 : len(payload) - payload[0]]
            if len(payload) < 4:
                return
            promised = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if flags & _END_HEADERS:
                headers = self._decode(side, payload[4:])
                if headers is not None and promised not in self.streams:
                    stream = self._open(promised, ts, frame)
                    stream.req = headers
                    stream.req_done = True
                    stream.partial = side.hpack_lost
                    self.stats.counts["HTTP/2 pushed streams"] += 1
            else:  # rare: a promise continued; its block still feeds the decoder
                side.block = bytearray(payload[4:])
                side.block_stream = sid
        elif ftype == _RST:
            stream = self.streams.get(sid)
            if stream is not None:
                stream.last = frame
                if stream.resp is None:
                    stream.partial = True
                self._finish(sid)

    def _decode(self, side: _Side, block: bytes) -> list[tuple[str, str]] | None:
        try:
            headers = side.decoder.decode(block)
        except HpackError:
            self.stats.counts[UNDECODABLE] += 1
            side.hpack_lost = True
            return None
        if len(headers) > MAX_HEADERS:
            del headers[MAX_HEADERS:]
        return headers

    def _open(self, sid: int, ts: float, frame: int) -> _Stream:
        if len(self.streams) >= MAX_STREAMS:
            oldest = next(iter(self.streams))
            self.stats.counts["HTTP/2 streams emitted early (open stream cap)"] += 1
            stream = self.streams[oldest]
            stream.partial = True
            self._finish(oldest)
        stream = _Stream(ts, frame)
        self.streams[sid] = stream
        return stream

    def _headers(
        self,
        from_client: bool,
        side: _Side,
        sid: int,
        block: bytes,
        end_stream: bool,
        ts: float,
        frame: int,
    ) -> None:
        headers = self._decode(side, block)
        stream = self.streams.get(sid)
        if from_client:
            if stream is None:
                if headers is None:
                    return
                stream = self._open(sid, ts, frame)
            if stream.req is None and headers is not None:
                stream.req = headers
                stream.partial = stream.partial or side.hpack_lost
            stream.last = frame
            if end_stream:
                stream.req_done = True
            return
        if stream is None:
            return
        stream.last = frame
        if headers is None:
            stream.partial = True
        elif stream.resp is None:
            status = _status(headers)
            if status is not None and 100 <= status < 200 and status != 101:
                if end_stream:
                    self._finish(sid)
                return  # interim response
            stream.resp = headers
            stream.status = status
            stream.partial = stream.partial or side.hpack_lost
        elif stream.trailers is None:  # trailers: a second block, after the response's data
            stream.trailers = headers
        if end_stream:
            self._finish(sid)

    def _finish(self, sid: int) -> None:
        stream = self.streams.pop(sid, None)
        if stream is not None and stream.req is not None:
            self._emit(stream)

    # ----------------------------------------------------------- exchanges out

    def _emit(self, stream: _Stream) -> None:
        if stream is self.upgrade_stream and self.upgraded is not None:
            self.upgrade_stream = None
            self.upgraded(
                Answer(
                    stream.status,
                    tuple(_response_headers(stream)),
                    bytes(stream.resp_body),
                    stream.resp_bytes,
                    stream.last,
                    stream.partial,
                )
            )
            return
        req = stream.req
        assert req is not None
        method = path = authority = None
        headers: list[tuple[str, str]] = []
        cookies: list[str] = []
        cookie_at = -1
        for name, value in req:
            if name.startswith(":"):
                if name == ":method":
                    method = value
                elif name == ":path":
                    path = value
                elif name == ":authority":
                    authority = value
            elif name == "cookie":
                if cookie_at < 0:
                    cookie_at = len(headers)
                    headers.append(("cookie", ""))
                cookies.append(value)
            else:
                headers.append((name, value))
        if method is None:
            self.stats.skip("HTTP/2 streams without :method")
            return
        if cookie_at >= 0:
            headers[cookie_at] = ("cookie", "; ".join(cookies))
        host = authority or _first(headers, "host")
        if path is None and method == "CONNECT":
            path = authority
        resp_headers = _response_headers(stream)
        req_body, _ = decode_body(bytes(stream.req_body), _first(headers, "content-encoding"))
        resp_body, _ = decode_body(
            bytes(stream.resp_body), _first(resp_headers, "content-encoding")
        )
        first, last = stream.first, stream.last
        self.emit(
            observed_exchange(
                ts=stream.ts,
                source=self.source,
                evidence=f"frames {first}-{last}" if last != first else f"frame {first}",
                client_ip=self.client[0],
                client_port=self.client[1],
                server_ip=self.server[0],
                server_port=self.server[1],
                http_version="2",
                method=method,
                target=path,
                host=host,
                status=stream.status,
                request_headers=tuple(headers),
                response_headers=tuple(resp_headers),
                request_body=req_body,
                response_body=resp_body,
                request_bytes=stream.req_bytes,
                response_bytes=stream.resp_bytes,
                partial=stream.partial,
            )
        )


def _response_headers(stream: _Stream) -> list[tuple[str, str]]:
    """A stream's response fields without pseudo-headers, its trailers after them (a header's
    first value is the header's)."""
    headers = [(n, v) for n, v in (stream.resp or ()) if not n.startswith(":")]
    if stream.trailers:
        headers += [(n, v) for n, v in stream.trailers if not n.startswith(":")]
    return headers


def _status(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name == ":status":
            return int(value) if value.isdigit() and len(value) == 3 else None
    return None


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None
