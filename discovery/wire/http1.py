"""HTTP/1.x on one TCP connection: both directions parsed by our own lenient parser (heads in
``http_head``, bodies here) and requests paired with responses in order (keep-alive,
pipelining).

What one direction cannot tell is handled here: a response to HEAD (or to CONNECT) has no body
whatever its headers say, 1xx responses (100-continue) precede the real one, an Upgrade (101)
ends HTTP on the connection, a CONNECT answered 2xx hands the tunnel's bytes back to the
connection (``on_tunnel``), which recognises what runs inside (cleartext HTTP, TLS). An upgrade
to h2c answered 101 hands the connection to HTTP/2 (``on_upgrade``): the upgrade request is
stream 1, and is emitted once, with the HTTP/2 response stream 1 gives it.

Conflicting framing (``Transfer-Encoding`` with ``Content-Length``, two lengths, a chunking some
servers would not recognise) has two readings. The stream follows the longer one (what a front
end that forwards everything reads); the bytes the shorter reading leaves over are what a back
end would read as the next request: such a request is emitted on its own, marked
``smuggled_request`` and never paired with a response, and the carrier says what both readings
made of it (``framing_conflict``).

A gap inside a body whose length is known keeps the framing (the exchange is marked partial);
anywhere else the direction resynchronises at the next message start, marked partial too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Final

from discovery.models import ObservedExchange, observed_exchange
from discovery.stats import IngestStats
from discovery.wire import http_head as hh
from discovery.wire.bodies import BODY_PREFIX, decode_body
from discovery.wire.http2 import Answer

MAX_TARGET: Final = hh.MAX_TARGET
MAX_HEADERS: Final = hh.MAX_HEADERS
MAX_HEADER_BYTES: Final = hh.MAX_HEADER_BYTES
MAX_PENDING: Final = 256  # pipelined requests waiting for their responses
MAX_HEAD_WAIT: Final = 64 * 1024  # request bytes held while an Upgrade/CONNECT is answered
# a message head (start line + headers) longer than this is dropped
MAX_HEAD_BYTES: Final = 256 * 1024
MAX_LINE: Final = 4096  # a chunk-size or trailer line
MAX_SMUGGLED: Final = 16  # requests read from one carrier's leftover bytes
_MAX_CHUNK: Final = (1 << 64) - 1  # a chunk size above this wraps in a 64-bit reading
_AS_SENT: Final = "the chunk size as sent"
_REQUEST_TAIL: Final = MAX_TARGET + 64  # bytes kept across chunks while looking for a request line
_RESPONSE_TAIL: Final = 24  # a status line start may begin in the last bytes of a chunk
_BODY_CUT = (
    "HTTP {kind} bodies cut short by the end of the connection "
    "(declared length or chunks never complete; kept as partial)"
)

# what one direction is reading
_SYNC: Final = 0  # looking for a message start
_HEAD: Final = 1
_LENGTH: Final = 2
_CHUNK_SIZE: Final = 3
_CHUNK_DATA: Final = 4
_CHUNK_END: Final = 5
_TRAILER: Final = 6
_CLOSE: Final = 7  # body until the connection closes
_HOLD: Final = 8  # request bytes held until an Upgrade/CONNECT is answered
_STOPPED: Final = 9

REQUEST_START = hh.REQUEST_START
RESPONSE_START = hh.RESPONSE_START
looks_like_request = hh.looks_like_request
looks_like_response = hh.looks_like_response

TunnelCallback = Callable[[str, bytes, bytes, float, int], None]
# an upgrade to h2c was answered 101: (where stream 1's answer goes, the client's bytes after the
# upgrade request, the server's after the 101, time, frame); HTTP/2 goes on from them
UpgradeCallback = Callable[[Callable[[Answer], None], bytes, bytes, float, int], None]


class Message:
    """One request or response as it is parsed; lives until it is paired and emitted."""

    __slots__ = (
        "anomalies",
        "answered",
        "body",
        "body_bytes",
        "close",
        "first_frame",
        "headers",
        "headers_done",
        "host",
        "last_frame",
        "method",
        "partial",
        "raw",
        "status",
        "target",
        "ts",
        "upgrade",
        "version",
    )

    def __init__(self, ts: float, frame: int) -> None:
        self.ts = ts
        self.first_frame = frame
        self.last_frame = frame
        self.method: str | None = None
        self.target = b""
        self.version: str | None = None
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.anomalies: list[str] = []
        self.host: str | None = None
        self.body = bytearray()
        self.raw: bytearray | None = None  # raw body bytes, kept when two readings differ
        self.body_bytes = 0
        self.partial = False
        self.headers_done = False
        self.answered = False
        self.upgrade = False
        self.close = False

    def header(self, name: str) -> str | None:
        """First value of a header; ``name`` in lower case."""
        size = len(name)
        for key, value in self.headers:
            if len(key) == size and key.lower() == name:  # the length rules out most at once
                return value
        return None

    def decoded_body(self) -> bytes:
        if not self.body:
            return b""
        data, _reason = decode_body(bytes(self.body), self.header("content-encoding"))
        return data


def _message_from(head: hh.Head, ts: float, frame: int) -> Message:
    msg = Message(ts, frame)
    msg.method = head.method
    msg.target = head.target
    msg.version = head.version
    msg.status = head.status
    msg.headers = head.headers
    msg.anomalies = head.anomalies
    msg.host = head.host
    msg.partial = head.partial
    msg.close = head.close
    msg.upgrade = head.method == "CONNECT" or (head.upgrade and msg.header("upgrade") is not None)
    msg.headers_done = True
    return msg


class _Side:
    """One direction of the connection: its state, its message in progress, its sync state."""

    __slots__ = (
        "alt_end",
        "alt_label",
        "buf",
        "frame",
        "head_frame",
        "head_ts",
        "held",
        "is_request",
        "kind",
        "long_label",
        "msg",
        "raw_used",
        "remaining",
        "scan",
        "session",
        "short_end",
        "short_label",
        "skipped_before_sync",
        "state",
        "ts",
    )

    def __init__(self, session: HttpSession, is_request: bool) -> None:
        self.session = session
        self.is_request = is_request
        self.kind = "request" if is_request else "response"
        self.state = _SYNC
        self.msg: Message | None = None
        self.buf = b""  # bytes of a head, chunk line or sync tail not yet complete
        self.scan = 0  # where to look again for a head's end in ``buf``
        self.remaining = 0  # body or chunk bytes still to come
        self.skipped_before_sync = False
        self.held = bytearray()
        self.ts = 0.0
        self.frame = 0
        self.head_ts = 0.0
        self.head_frame = 0
        self.alt_end = -1  # raw body size under the other reading (-1: none)
        self.alt_label = ""
        self.raw_used = 0  # raw body bytes read so far (counted only when ``alt_end`` >= 0)
        self.short_end = -1  # where the shorter of two readings ends the body (-1: not known)
        self.short_label = ""
        self.long_label = ""

    # ----------------------------------------------------------- feeding

    def feed(self, data: bytes, ts: float, frame: int) -> None:
        self.ts, self.frame = ts, frame
        if self.msg is not None:
            self.msg.last_frame = frame
        while data:
            state = self.state
            if state == _HEAD:
                data = self._head(data)
            elif state == _LENGTH:
                data = self._length(data)
            elif state == _SYNC:
                data = self._sync(data)
            elif state in (_CHUNK_DATA, _CHUNK_SIZE, _CHUNK_END):
                data = self._chunked(data)
            elif state == _TRAILER:
                data = self._trailer(data)
            elif state == _CLOSE:
                self._body(data)
                if self.alt_end >= 0:
                    self._raw(data)
                data = b""
            elif state == _HOLD:
                if len(self.held) < MAX_HEAD_WAIT:
                    self.held += data[: MAX_HEAD_WAIT - len(self.held)]
                data = b""
            else:
                break
        if self.state == _STOPPED and self.session.handover is not None:
            self.session.hand_over(self.is_request, data, ts, frame)

    def _sync(self, data: bytes) -> bytes:
        if self.buf:  # a message start may straddle the previous chunk and this one
            data = self.buf + data
            self.buf = b""
        if self.is_request:
            # between messages, empty lines are allowed (RFC 9112 2.2)
            stripped = data.lstrip(b"\r\n")
            if stripped and hh.looks_like_request(stripped):
                self.state = _HEAD
                return stripped
            found = REQUEST_START.search(data)
        else:
            found = RESPONSE_START.search(data)
        if found is None:
            if self.is_request:  # a request line cannot span a newline
                keep = data[data.rfind(b"\n") + 1 :][-_REQUEST_TAIL:]
            else:
                keep = data[-_RESPONSE_TAIL:]
            self._skipped(len(data) - len(keep))
            self.buf = bytes(keep)
            return b""
        start = found.start()
        self._skipped(start)
        self.state = _HEAD
        return data[start:]

    def _skipped(self, size: int) -> None:
        if size:
            self.skipped_before_sync = True
            self.session.stats.counts["bytes skipped while resynchronising"] += size

    def _head(self, data: bytes) -> bytes:
        buf = self.buf
        if buf:
            buf += data
            start = self.scan
        else:
            self.head_ts, self.head_frame = self.ts, self.frame
            buf = data
            start = 0
        end = hh.head_end(buf, start)
        if end < 0 and self.is_request:
            end = self._simple_request_end(buf)
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                self.session.stats.counts[
                    f"HTTP {self.kind} heads over {MAX_HEAD_BYTES} bytes"
                ] += 1
                self.buf = b""
                self._error(f"head larger than {MAX_HEAD_BYTES} bytes")
                return b""
            self.buf = buf
            self.scan = max(len(buf) - 2, 0)
            return b""
        self.buf = b""
        head = hh.parse_head(buf[:end], self.is_request)
        if head is None:
            self._error("no " + ("request" if self.is_request else "status") + " line")
            return buf[1:]
        self._start_message(head)
        return buf[end:]

    def _simple_request_end(self, buf: bytes) -> int:
        """A request line without a version followed by something other than a header ends
        the request there (HTTP/0.9 style); -1 when it is not that, or not known yet."""
        nl = buf.find(b"\n")
        if nl < 0:
            return -1
        line = buf[:nl]
        if b"HTTP/" in line:
            return -1
        nxt = buf.find(b"\n", nl + 1)
        if nxt < 0:
            return -1
        following = buf[nl + 1 : nxt]
        colon = following.find(b":")
        if colon > 0 and b" " not in following[:colon]:
            return -1  # a header line: the head goes on
        return nl + 1

    def _start_message(self, head: hh.Head) -> None:
        msg = _message_from(head, self.head_ts, self.head_frame)
        msg.last_frame = self.frame
        if self.skipped_before_sync:
            msg.partial = True
            self.skipped_before_sync = False
        if head.partial:
            self._count_cut(head)
        self.msg = msg
        session = self.session
        framing: hh.Framing | None = head.framing
        if self.is_request:
            session.request_head(msg)
        else:
            framing = session.response_framing(msg, head.framing)
        if framing is None:
            return  # a tunnel: the session took over
        self.alt_end = self.short_end = -1
        kind = framing.kind
        length = framing.length
        if framing.alt_length >= 0:
            self.alt_end = framing.alt_length
            self.alt_label = framing.alt_label
            self.raw_used = 0
            msg.raw = bytearray()
            if kind != hh.CHUNKED:  # two lengths: follow the longer
                if self.alt_end > length:
                    self.short_end, self.short_label = length, framing.label
                    self.long_label = framing.alt_label
                    length = self.alt_end
                    kind = hh.LENGTH
                else:
                    self.short_end, self.short_label = self.alt_end, framing.alt_label
                    self.long_label = framing.label
        if kind == hh.NO_BODY or (kind == hh.LENGTH and length == 0):
            self.remaining = 0
            self._complete()
        elif kind == hh.LENGTH:
            self.remaining = length
            self.state = _LENGTH
        elif kind == hh.CHUNKED:
            self.state = _CHUNK_SIZE
        else:
            self.state = _CLOSE

    def _count_cut(self, head: hh.Head) -> None:
        stats, where = self.session.stats, self.session.where
        if len(head.target) >= MAX_TARGET:
            stats.counts[f"HTTP request targets cut at {MAX_TARGET} bytes"] += 1
            stats.warn(
                f"{where}: frame {self.frame}: request target longer than {MAX_TARGET} bytes: "
                "cut, exchange marked partial"
            )
        if hh.HEADERS_DROPPED in head.anomalies:
            stats.counts[
                f"HTTP {self.kind}s with headers dropped (over {MAX_HEADERS} or "
                f"{MAX_HEADER_BYTES} bytes)"
            ] += 1
            stats.warn(
                f"{where}: frame {self.frame}: HTTP {self.kind} with more than {MAX_HEADERS} "
                f"headers or {MAX_HEADER_BYTES} header bytes: the rest dropped, exchange marked "
                "partial"
            )

    # ----------------------------------------------------------- bodies

    def _body(self, data: bytes) -> None:
        msg = self.msg
        if msg is None:
            return
        msg.body_bytes += len(data)
        if len(msg.body) < BODY_PREFIX:
            msg.body += data[: BODY_PREFIX - len(msg.body)]

    def _raw(self, data: bytes) -> None:
        """Raw body bytes of a message with two readings (counted, a prefix kept)."""
        self.raw_used += len(data)
        msg = self.msg
        if msg is not None and msg.raw is not None and len(msg.raw) < BODY_PREFIX:
            msg.raw += data[: BODY_PREFIX - len(msg.raw)]

    def _length(self, data: bytes) -> bytes:
        take = self.remaining
        if len(data) <= take:
            self.remaining = take - len(data)
            self._body(data)
            if self.alt_end >= 0:
                self._raw(data)
            if self.remaining == 0:
                self._complete()
            return b""
        piece = data[:take]
        self._body(piece)
        if self.alt_end >= 0:
            self._raw(piece)
        self.remaining = 0
        self._complete()
        return data[take:]

    def _line(self, data: bytes) -> tuple[bytes | None, bytes]:
        """A complete line (without its end) and the rest, or None while it is incomplete."""
        buf = self.buf + data if self.buf else data
        nl = buf.find(b"\n")
        if nl < 0:
            self.buf = buf
            if len(buf) > MAX_LINE:
                self.buf = b""
                self._bad_chunk("line too long")
            return None, b""
        self.buf = b""
        line = buf[:nl]
        if self.alt_end >= 0:
            self._raw(buf[: nl + 1])
        if line[-1:] == b"\r":
            line = line[:-1]
        elif self.msg is not None and hh.BARE_LF not in self.msg.anomalies:
            self.msg.anomalies.append(hh.BARE_LF)
        return line, buf[nl + 1 :]

    def _chunked(self, data: bytes) -> bytes:
        state = self.state
        if state == _CHUNK_DATA:
            take = self.remaining
            piece = data[:take] if len(data) > take else data
            self._body(piece)
            if self.alt_end >= 0:
                self._raw(piece)
            self.remaining = take - len(piece)
            if self.remaining == 0:
                self.state = _CHUNK_END
            return data[len(piece) :]
        if state == _CHUNK_END:
            buf = self.buf + data if self.buf else data
            self.buf = b""
            if buf[:2] == b"\r\n" or buf[:1] == b"\n":
                used = 2 if buf[:1] == b"\r" else 1
                if self.alt_end >= 0:
                    self._raw(buf[:used])
                self.state = _CHUNK_SIZE
                return buf[used:]
            if buf == b"\r":
                self.buf = buf
                return b""
            self._note(hh.BAD_CHUNK)  # data runs on past the chunk: read the next size here
            self.state = _CHUNK_SIZE
            return buf
        line, rest = self._line(data)
        if line is None:
            return b""
        text = line.split(b";", 1)[0].strip(b" \t")
        if not text or text.strip(b"0123456789abcdefABCDEF"):
            self._bad_chunk("chunk size not hex")
            return rest
        size = int(text, 16)  # at most MAX_LINE digits
        if size > _MAX_CHUNK:
            if self.is_request and self.alt_end < 0:
                self._chunk_overflow(size & _MAX_CHUNK)
            else:
                self._bad_chunk("chunk size too large")
            return rest
        if size == 0:
            self.state = _TRAILER
        else:
            self.remaining = size
            self.state = _CHUNK_DATA
        return rest

    def _trailer(self, data: bytes) -> bytes:
        while True:
            line, data = self._line(data)
            if line is None:
                return b""
            if not line:
                self._chunked_done()
                return data

    def _chunked_done(self) -> None:
        """The chunked reading ended: a longer length reading goes on to its end."""
        if self.alt_end >= 0:
            if self.alt_end > self.raw_used:
                self.short_end, self.short_label = self.raw_used, "Transfer-Encoding: chunked"
                self.long_label = self.alt_label
                self.remaining = self.alt_end - self.raw_used
                self.state = _LENGTH
                return
            self.short_end, self.short_label = self.alt_end, self.alt_label
            self.long_label = "Transfer-Encoding: chunked"
        self._complete()

    def _chunk_overflow(self, wrapped: int) -> None:
        """A chunk size of 2^64 or more: a server reading it in 64 bits reads ``wrapped`` (a
        ``0`` ends the body there: what follows is its next request), one that takes it as
        sent reads the rest of the connection as this body. The stream follows the longer
        reading; at the close the bytes after the shorter one are read as hidden requests."""
        self._note(hh.CHUNK_OVERFLOW)
        msg = self.msg
        if msg is None:
            return
        msg.raw = bytearray()
        self.raw_used = 0
        self.alt_end = 0  # raw bytes are counted from here
        self.short_end = wrapped
        self.short_label = "the chunk size wrapped at 64 bits"
        self.long_label = _AS_SENT
        self.state = _CLOSE

    def end_unbounded(self) -> None:
        """The server answered a request whose body one reading never ends (a chunk size
        past 64 bits): it ended its reading there, so both readings are known now."""
        msg = self.msg
        if msg is not None and self.state == _CLOSE and self.alt_end >= 0:
            msg.partial = True
            self._complete()

    def _bad_chunk(self, why: str) -> None:
        """A chunk line no server could read: the length reading, if any, takes over."""
        self._note(hh.BAD_CHUNK + ": " + why)
        if self.alt_end > self.raw_used:
            self.remaining = self.alt_end - self.raw_used
            self.state = _LENGTH
            self.short_end = -1
            return
        msg = self.msg
        if msg is not None:
            msg.partial = True
        self.session.stats.counts["HTTP chunked bodies with a bad chunk (resynchronised)"] += 1
        self.short_end = -1
        self._complete()
        self.state = _SYNC
        self.skipped_before_sync = True

    def _note(self, anomaly: str) -> None:
        msg = self.msg
        if msg is not None and anomaly not in msg.anomalies:
            msg.anomalies.append(anomaly)

    # ----------------------------------------------------------- message ends

    def _complete(self) -> None:
        msg = self.msg
        self.state = _HEAD
        self.buf = b""
        if msg is None:
            return
        self.msg = None
        msg.last_frame = self.frame
        if self.short_end >= 0 and msg.raw is not None:
            self._two_readings(msg)
        self.alt_end = self.short_end = -1
        msg.raw = None
        if self.is_request:
            self.session.request_done(msg)
            if msg.upgrade and self.state == _HEAD:
                self.state = _HOLD
                self.held = bytearray()
        else:
            self.session.response_done(msg)

    def _two_readings(self, msg: Message) -> None:
        """The message ended under the longer reading; the bytes after the shorter one's end
        are what a server making that reading would read next."""
        raw = msg.raw
        assert raw is not None
        total, short = self.raw_used, self.short_end
        if short >= total:
            return
        longer = (
            f"{self.long_label} reads past the {total} bytes seen"
            if self.long_label == _AS_SENT
            else f"{self.long_label} at byte {total}"
        )
        msg.anomalies.append(
            f"{hh.FRAMING_CONFLICT}: {self.short_label} ends the body at byte {short}, {longer}"
        )
        self.session.smuggled(msg, bytes(raw[short:total]), short, self.short_label)

    def _error(self, reason: str) -> None:
        kind = self.kind
        self.session.stats.skip(
            f"malformed HTTP {kind}",
            f"{self.session.where}: frame {self.frame}: malformed HTTP {kind}: {reason}",
        )
        self.abandon_message()
        self.state = _SYNC
        self.skipped_before_sync = True

    def abandon_message(self) -> None:
        """End the message in progress as partial."""
        msg, self.msg = self.msg, None
        self.alt_end = self.short_end = -1
        if msg is None:
            return
        msg.partial = True
        msg.raw = None
        if self.is_request:
            self.session.request_done(msg)
        else:
            self.session.response_done(msg)

    def gap(self, size: int) -> None:
        """Bytes of this direction were never captured."""
        state = self.state
        if state == _STOPPED:
            return
        if state == _HOLD:
            self.held = bytearray()
            return
        msg = self.msg
        if msg is not None:
            msg.partial = True
        if state in (_LENGTH, _CHUNK_DATA):
            assert msg is not None
            if size <= self.remaining:  # the framing survives: the message goes on
                msg.body_bytes += size
                self.remaining -= size
                if self.alt_end >= 0:  # its bytes are lost: no second reading
                    self.alt_end = self.short_end = -1
                    msg.raw = None
                if self.remaining == 0:
                    if state == _LENGTH:
                        self._complete()
                    else:
                        self.state = _CHUNK_END
                return
            msg.body_bytes += self.remaining
            self.remaining = 0
            self.alt_end = self.short_end = -1
            self._complete()  # it ended inside the gap
        elif state == _CLOSE:
            assert msg is not None
            msg.body_bytes += size
            if self.alt_end >= 0:  # its bytes are lost: no second reading
                self.alt_end = self.short_end = -1
                msg.raw = None
            return
        elif state != _SYNC:
            self.abandon_message()
        if self.buf:
            self._skipped(len(self.buf))
        self.buf = b""
        self.state = _SYNC
        self.skipped_before_sync = True

    def close(self) -> None:
        """End of the connection: a response read until close is complete now."""
        state = self.state
        if state == _STOPPED:
            return
        session = self.session
        if state == _HEAD and self.buf:
            self._unfinished_head()
            return
        if state == _SYNC:
            self._skipped(len(self.buf))
            self.buf = b""
            return
        msg = self.msg
        if msg is None:
            return
        if state == _CLOSE:
            if self.alt_end >= 0:  # a chunked body the longer reading never ended
                msg.partial = True
                session.stats.counts[_BODY_CUT.format(kind=self.kind)] += 1
            self._complete()
            return
        session.stats.counts[_BODY_CUT.format(kind=self.kind)] += 1
        self.alt_end = self.short_end = -1
        self.abandon_message()

    def _unfinished_head(self) -> None:
        """A head the connection ended inside: a request keeps what it had (the credential of a
        half-open flood is in it), a response is counted."""
        buf, self.buf = self.buf, b""
        stats, kind = self.session.stats, self.kind
        cut = buf.rfind(b"\n")
        head = hh.parse_head(buf[: cut + 1] if cut >= 0 else buf, self.is_request)
        if (
            head is not None
            and hh.MISSING_VERSION in head.anomalies
            and buf.find(b"\n") == len(buf) - 1
        ):  # a version-less request line and the close: a whole HTTP/0.9 request
            msg = _message_from(head, self.head_ts, self.head_frame)
            msg.last_frame = self.frame
            msg.upgrade = False
            self.session.request_head(msg)
            self.session.request_done(msg)
            return
        if not self.is_request or head is None:
            stats.skip(
                f"HTTP {kind} heads cut short by the end of the connection",
                f"{self.session.where}: frame {self.frame}: connection ends inside an HTTP "
                f"{kind} head",
            )
            return
        stats.counts[
            "HTTP request heads cut short by the end of the connection (kept as partial)"
        ] += 1
        head.anomalies.append(hh.UNFINISHED_HEAD)
        msg = _message_from(head, self.head_ts, self.head_frame)
        msg.last_frame = self.frame
        msg.partial = True
        msg.upgrade = False
        self.session.request_head(msg)
        self.session.request_done(msg)


class HttpSession:
    """HTTP/1.x on one connection: pairs requests and responses and emits exchanges."""

    def __init__(
        self,
        emit: Callable[[ObservedExchange], None],
        stats: IngestStats,
        source: str,
        client: tuple[str, int],
        server: tuple[str, int],
        where: str = "",
        on_tunnel: TunnelCallback | None = None,
        default_host: str | None = None,
        on_upgrade: UpgradeCallback | None = None,
    ) -> None:
        self.emit = emit
        self.stats = stats
        self.source = source
        self.client = client
        self.server = server
        self.where = where
        self.on_tunnel = on_tunnel
        self.on_upgrade = on_upgrade
        self.upgraded: Message | None = None  # the request upgraded to h2c, awaiting stream 1
        ip, port = server
        self.server_host = default_host or (f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
        self.tunnel_target = default_host  # inside a CONNECT tunnel: where the proxy connected
        self.requests = _Side(self, True)
        self.responses = _Side(self, False)
        self.pending: deque[Message] = deque()
        self.tunnel = False
        self.handover: tuple[str, bytes] | None = None  # a CONNECT tunnel's target, held bytes
        self.closing = False  # a message said Connection: close

    # ----------------------------------------------------------- from the reassembler

    def data(self, from_client: bool, data: bytes, ts: float, frame: int) -> None:
        if self.tunnel:
            return
        (self.requests if from_client else self.responses).feed(data, ts, frame)

    def gap(self, from_client: bool, size: int) -> None:
        if not self.tunnel:
            (self.requests if from_client else self.responses).gap(size)

    def close(self) -> None:
        if not self.tunnel:
            self.responses.close()
            self.requests.close()
        while self.pending:
            self._emit(self.pending.popleft(), None)

    # ----------------------------------------------------------- pairing

    def _answering(self) -> Message | None:
        """The request the next response answers."""
        if self.pending:
            return self.pending[0]
        msg = self.requests.msg
        return msg if msg is not None and msg.headers_done else None

    def request_head(self, msg: Message) -> None:
        """A request head was read: flag what the connection's history makes odd."""
        if self.closing:
            msg.anomalies.append(hh.AFTER_CLOSE)
        if msg.close:
            self.closing = True

    def response_framing(self, msg: Message, framing: hh.Framing) -> hh.Framing | None:
        """The framing of a response body, which depends on the request it answers; None when
        the response opens a tunnel (the session stops reading)."""
        request = self._answering()
        status = msg.status or 0
        if msg.close:
            self.closing = True
        if request is not None and request.method == "HEAD":
            return hh.Framing(hh.NO_BODY, 0, "")
        if 100 <= status < 200 or status == 204 or status == 304:
            if status == 101:
                self.responses.msg = None
                self.responses.state = _STOPPED
                self.response_done(msg)
                return None
            return hh.Framing(hh.NO_BODY, 0, "")
        if request is not None and request.method == "CONNECT" and 200 <= status < 300:
            self.responses.msg = None
            self.responses.state = _STOPPED
            self.response_done(msg)
            return None
        return framing

    def request_done(self, msg: Message) -> None:
        if msg.answered:
            return
        self.pending.append(msg)
        if len(self.pending) > MAX_PENDING:
            self.stats.counts["requests emitted without response (pipeline cap)"] += 1
            self._emit(self.pending.popleft(), None)

    def response_done(self, msg: Message) -> None:
        status = msg.status or 0
        if 100 <= status < 200 and status != 101:
            return  # interim response (100-continue, 103 early hints)
        if self.pending:
            request = self.pending.popleft()
        elif self.requests.msg is not None and self.requests.msg.headers_done:
            request = self.requests.msg  # answered before the request body ended
            request.answered = True
            self.requests.end_unbounded()
        else:
            self.stats.skip("HTTP response without a request")
            return
        if status == 101 or (request.method == "CONNECT" and 200 <= status < 300):
            self._start_tunnel(request, msg)
            return
        if request.upgrade:  # upgrade refused: HTTP goes on
            self._resume_requests()
        self._emit(request, msg)

    def _resume_requests(self) -> None:
        side = self.requests
        if side.state != _HOLD:
            return
        held, side.held = bytes(side.held), bytearray()
        side.state = _HEAD
        if held:
            side.feed(held, side.ts, side.frame)

    def _start_tunnel(self, request: Message, response: Message) -> None:
        self.tunnel = True
        held = bytes(self.requests.held) if self.requests.state == _HOLD else b""
        self.requests.state = self.responses.state = _STOPPED
        while self.pending:  # anything pipelined before the upgrade answer has no response
            self._emit(self.pending.popleft(), None)
        if request.method != "CONNECT" and self.on_upgrade is not None and _h2c(request, response):
            self.stats.counts["h2c connections (HTTP/2 by Upgrade from HTTP/1.1)"] += 1
            self.upgraded = request  # emitted with stream 1's answer
            self.handover = ("", held)
            return
        self._emit(request, response)
        if request.method == "CONNECT" and self.on_tunnel is not None:
            self.stats.counts["CONNECT tunnels (contents read on their own)"] += 1
            target = request.target.decode("latin-1")[:255]
            self.handover = (target, held)
        else:
            self.stats.counts["connections upgraded (handshake kept, frames skipped)"] += 1

    def hand_over(self, from_client: bool, rest: bytes, ts: float, frame: int) -> None:
        """Give a CONNECT tunnel's bytes (the client's held ones, what follows the server's
        answer) to the connection, which recognises what runs inside."""
        handover, self.handover = self.handover, None
        if handover is None:
            return
        target, held = handover
        client_bytes = held + rest if from_client else held
        server_bytes = b"" if from_client else rest
        upgraded, self.upgraded = self.upgraded, None
        if upgraded is not None and self.on_upgrade is not None:
            self.on_upgrade(
                partial(self._answered, upgraded), client_bytes, server_bytes, ts, frame
            )
        elif self.on_tunnel is not None:
            self.on_tunnel(target, client_bytes, server_bytes, ts, frame)

    def _answered(self, request: Message, answer: Answer) -> None:
        """The request upgraded to h2c, with stream 1's HTTP/2 response."""
        response = Message(request.ts, answer.last_frame)
        response.status = answer.status
        response.headers = list(answer.headers)
        response.body += answer.body[:BODY_PREFIX]
        response.body_bytes = answer.body_bytes
        response.partial = answer.partial
        self._emit(request, response)

    def smuggled(self, carrier: Message, leftover: bytes, offset: int, reading: str) -> None:
        """Requests a server making the shorter reading would read from ``leftover``."""
        data = leftover.lstrip(b"\r\n")
        for _ in range(MAX_SMUGGLED):
            if not data or not hh.looks_like_request(data):
                return
            end = hh.head_end(data)
            complete = end >= 0
            head = hh.parse_head(data if end < 0 else data[:end], True)
            if head is None:
                return
            head.anomalies.append(
                f"{hh.SMUGGLED}: read by {reading} from byte {offset} of the body of the "
                f"request in frame {carrier.first_frame}"
            )
            if not complete:
                head.anomalies.append(hh.UNFINISHED_HEAD)
            msg = _message_from(head, carrier.ts, carrier.first_frame)
            msg.last_frame = carrier.last_frame
            msg.partial = msg.partial or not complete
            self.stats.counts["HTTP requests hidden by conflicting framing (smuggled)"] += 1
            if not complete:
                self._emit(msg, None)
                return
            length = head.framing.length if head.framing.kind == hh.LENGTH else 0
            body = data[end : end + length]
            msg.body += body[:BODY_PREFIX]
            msg.body_bytes = len(body)
            msg.partial = msg.partial or len(body) < length
            self._emit(msg, None)
            offset += end + length
            data = data[end + length :].lstrip(b"\r\n")

    def _emit(self, req: Message, resp: Message | None) -> None:
        upgrade = (req.header("upgrade") or "").lower()
        last = max(req.last_frame, resp.last_frame) if resp else req.last_frame
        first = req.first_frame
        host = req.host
        anomalies = req.anomalies
        if host is None:
            host = self._host_without_header(req)
            if req.method is not None:
                anomalies = [*anomalies, hh.MISSING_HOST]
        if resp is not None and resp.anomalies:
            anomalies = [*anomalies, *("response_" + a for a in resp.anomalies)]
        self.emit(
            observed_exchange(
                ts=req.ts,
                source=self.source,
                evidence=f"frames {first}-{last}" if last != first else f"frame {first}",
                client_ip=self.client[0],
                client_port=self.client[1],
                server_ip=self.server[0],
                server_port=self.server[1],
                http_version=req.version,
                method=req.method,
                target=req.target.decode("utf-8", "replace"),
                host=host,
                status=resp.status if resp else None,
                request_headers=tuple(req.headers),
                response_headers=tuple(resp.headers) if resp else (),
                request_body=req.decoded_body(),
                response_body=resp.decoded_body() if resp else b"",
                request_bytes=req.body_bytes,
                response_bytes=resp.body_bytes if resp else 0,
                partial=req.partial or (resp.partial if resp else False),
                websocket=upgrade == "websocket" and resp is not None and resp.status == 101,
                anomalies=tuple(anomalies),
                destination=self.tunnel_target,
            )
        )

    def _host_without_header(self, req: Message) -> str:
        """Where a request without a Host header went: a CONNECT's target, an absolute
        target's authority, else the server's address (``10.0.0.5:8080``)."""
        target = req.target
        if req.method == "CONNECT" and target:
            return target.decode("latin-1")[:255]
        lowered = target[:8].lower()
        if lowered.startswith((b"http://", b"https://")):
            rest = target[target.index(b"//") + 2 :]
            for stop in (b"/", b"?", b"#"):
                cut = rest.find(stop)
                if cut >= 0:
                    rest = rest[:cut]
            authority = rest[rest.rfind(b"@") + 1 :]
            if authority:
                return authority.decode("latin-1")[:255]
        return self.server_host


def _tokens(value: str | None) -> list[str]:
    return [token.strip().lower() for token in (value or "").split(",") if token.strip()]


def _h2c(request: Message, response: Message) -> bool:
    """Whether a 101 switched the connection to h2c: the protocol the response's Upgrade names,
    else (a server that leaves it out) the request's only offer."""
    chosen = _tokens(response.header("upgrade"))
    if chosen:
        return chosen[0] == "h2c"
    return _tokens(request.header("upgrade")) == ["h2c"]
