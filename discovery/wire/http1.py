"""HTTP/1.0 and 1.1 on one TCP connection: parse both directions with httptools (llhttp) and
pair requests with responses in order (keep-alive, pipelining).

What llhttp cannot know from one direction is handled here: a response to HEAD (or to CONNECT)
has no body whatever its headers say, 1xx responses (100-continue) precede the real one, an
Upgrade (101, CONNECT 2xx) ends HTTP on the connection. After a gap inside a body whose length
is known, the parser is fed filler so framing survives; anywhere else the direction
resynchronises at the next message start and the exchange is marked partial.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Final

import httptools

from discovery.models import ObservedExchange, observed_exchange
from discovery.stats import IngestStats
from discovery.wire.bodies import BODY_PREFIX, decode_body

MAX_TARGET: Final = 16 * 1024
MAX_HEADERS: Final = 200
MAX_HEADER_BYTES: Final = 64 * 1024
MAX_PENDING: Final = 256  # pipelined requests waiting for their responses
MAX_HEAD_WAIT: Final = 64 * 1024  # bytes buffered while looking for the end of a response head
MAX_FILL: Final = 4 << 20  # largest body gap bridged with filler bytes
# a message head (start line + headers) longer than this is dropped
MAX_HEAD_BYTES: Final = 256 * 1024
_REQUEST_TAIL: Final = MAX_TARGET + 64  # bytes kept across chunks while looking for a request line
_RESPONSE_TAIL: Final = 12  # a status line start is 13 bytes: a match may begin in the last 12
_FILL: Final = bytes(64 * 1024)
_BODY_CUT = (
    "HTTP {kind} bodies cut short by the end of the connection "
    "(declared length or chunks never complete; kept as partial)"
)

METHODS = (
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"HEAD",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"SEARCH",
    b"PURGE",
)
_METHOD_ALT = b"|".join(METHODS)
REQUEST_START = re.compile(rb"(?:" + _METHOD_ALT + rb") [\x21-\x7e\x80-\xff]+ HTTP/1\.[01]\r?\n")
RESPONSE_START = re.compile(rb"HTTP/1\.[01] [1-5][0-9][0-9][ \r]")
_REQUEST_PREFIXES = tuple(m + b" " for m in METHODS)
# llhttp refuses raw bytes >= 0x80 in a request target; servers commonly take them (raw UTF-8
# paths, and probes made of them): they are percent-encoded for the parser only (see
# ``_Side._escape_line``) and the target is kept as sent.
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_MAX_LINE: Final = MAX_TARGET + 64


def _percent(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match.group(0)[0]


def _target_of(line: bytes) -> bytes | None:
    """The request target of a request line (method SP target SP version)."""
    parts = line.rstrip(b"\r").split(b" ")
    return parts[1] if len(parts) == 3 else None


def looks_like_request(data: bytes) -> bool:
    """True when data starts with an HTTP/1 request line (or the start of one)."""
    return data.startswith(_REQUEST_PREFIXES) and (
        REQUEST_START.match(data) is not None or b"\n" not in data[:MAX_TARGET]
    )


def looks_like_response(data: bytes) -> bool:
    """True when data starts with an HTTP/1 status line."""
    return data.startswith((b"HTTP/1.0 ", b"HTTP/1.1 "))


class Message:
    """One request or response as it is parsed; lives until it is paired and emitted."""

    __slots__ = (
        "answered",
        "body",
        "body_bytes",
        "first_frame",
        "header_bytes",
        "headers",
        "headers_done",
        "last_frame",
        "method",
        "partial",
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
        self.header_bytes = 0
        self.body = bytearray()
        self.body_bytes = 0
        self.partial = False
        self.headers_done = False
        self.answered = False
        self.upgrade = False

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


class _Side:
    """One direction of the connection: its parser, its message in progress, its sync state."""

    def __init__(self, session: HttpSession, is_request: bool) -> None:
        self.session = session
        self.is_request = is_request
        self.parser: httptools.HttpRequestParser | httptools.HttpResponseParser | None = None
        self.msg: Message | None = None
        self.syncing = True  # looking for the start of a message
        self.skipped_before_sync = False
        self.head_wait = b""
        self.sync_tail = b""  # bytes that may begin a message start cut by a segment boundary
        self.head_fed = 0  # bytes fed to the parser since the current message began
        self.held: bytearray | None = None  # request bytes held after an Upgrade request
        self.filling = False
        self.ts = 0.0
        self.frame = 0
        self.stopped = False
        # a request line cut by a segment boundary (its bytes so far, unescaped) and whether it
        # had bytes >= 0x80; the target as sent when the parser was fed an escaped one
        self.line_buf: bytearray | None = None
        self.line_high = False
        self.original_target: bytes | None = None

    # ----------------------------------------------------------- httptools callbacks

    def on_message_begin(self) -> None:
        self.msg = Message(self.ts, self.frame)
        self.head_fed = 0
        if self.skipped_before_sync:
            self.msg.partial = True
            self.skipped_before_sync = False

    def on_url(self, url: bytes) -> None:
        msg = self.msg
        if msg is None:
            return
        room = MAX_TARGET - len(msg.target)
        if len(url) > room and not msg.partial:
            msg.partial = True
            self.session.stats.counts[f"HTTP request targets cut at {MAX_TARGET} bytes"] += 1
            self.session.stats.warn(
                f"{self.session.where}: frame {self.frame}: request target longer than "
                f"{MAX_TARGET} bytes: cut, exchange marked partial"
            )
        if room > 0:
            msg.target += url[:room]

    def on_header(self, name: bytes, value: bytes) -> None:
        msg = self.msg
        if msg is None:
            return
        msg.header_bytes += len(name) + len(value)
        if len(msg.headers) < MAX_HEADERS and msg.header_bytes <= MAX_HEADER_BYTES:
            msg.headers.append((name.decode("latin-1"), value.decode("latin-1")))
        elif not msg.partial:
            msg.partial = True
            kind = "request" if self.is_request else "response"
            self.session.stats.counts[
                f"HTTP {kind}s with headers dropped (over {MAX_HEADERS} or {MAX_HEADER_BYTES} bytes)"
            ] += 1
            self.session.stats.warn(
                f"{self.session.where}: frame {self.frame}: HTTP {kind} with more than "
                f"{MAX_HEADERS} headers or {MAX_HEADER_BYTES} header bytes: the rest dropped, "
                "exchange marked partial"
            )

    def on_headers_complete(self) -> None:
        msg, parser = self.msg, self.parser
        if msg is None or parser is None:
            return
        msg.headers_done = True
        msg.version = parser.get_http_version()
        if isinstance(parser, httptools.HttpRequestParser):
            msg.method = parser.get_method().decode("ascii", "replace")
            if self.original_target is not None:  # the parser saw it percent-encoded
                msg.target = self.original_target[:MAX_TARGET]
                self.original_target = None
        else:
            msg.status = parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        msg = self.msg
        if msg is None:
            return
        msg.body_bytes += len(body)
        if not self.filling and len(msg.body) < BODY_PREFIX:
            msg.body += body[: BODY_PREFIX - len(msg.body)]

    def on_message_complete(self) -> None:
        msg = self.msg
        if msg is None:
            return
        self.msg = None
        msg.last_frame = self.frame
        if self.is_request:
            self.session.request_done(msg)
        else:
            self.session.response_done(msg)

    # ----------------------------------------------------------- feeding

    def _new_parser(self) -> None:
        self.parser = (
            httptools.HttpRequestParser(self)
            if self.is_request
            else httptools.HttpResponseParser(self)
        )

    def feed(self, data: bytes, ts: float, frame: int) -> None:
        self.ts, self.frame = ts, frame
        if self.msg is not None:
            self.msg.last_frame = frame
        if self.held is not None:
            if len(self.held) < MAX_HEAD_WAIT:
                self.held += data[: MAX_HEAD_WAIT - len(self.held)]
            return
        while data and not self.stopped:
            if self.syncing:
                data = self._sync(data)
                continue
            if (
                not self.is_request
                and self.msg is None
                and self.session.next_response_is_head_only()
            ):
                data = self._feed_head_only(data)
                continue
            data = self._feed_parser(data)

    def _sync(self, data: bytes) -> bytes:
        if self.sync_tail:  # a message start may straddle the previous chunk and this one
            data = self.sync_tail + data
            self.sync_tail = b""
        pattern = REQUEST_START if self.is_request else RESPONSE_START
        found = pattern.search(data)
        if found is None:
            if self.is_request:  # a request line cannot span a newline
                keep = data[data.rfind(b"\n") + 1 :][-_REQUEST_TAIL:]
            else:
                keep = data[-_RESPONSE_TAIL:]
            self._skipped(len(data) - len(keep))
            self.sync_tail = bytes(keep)
            return b""
        start = found.start()
        self._skipped(start)
        self.syncing = False
        self._new_parser()
        return data[start:]

    def _skipped(self, size: int) -> None:
        if size:
            self.skipped_before_sync = True
            self.session.stats.counts["bytes skipped while resynchronising"] += size

    def _drop_sync_tail(self) -> None:
        self._skipped(len(self.sync_tail))
        self.sync_tail = b""

    def _feed_head_only(self, data: bytes) -> bytes:
        """Feed a response head to the parser and end the message there (HEAD, CONNECT)."""
        buf = self.head_wait + data if self.head_wait else data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_WAIT:
                self.head_wait = b""
                self._error("response head too long", buf)
                return b""
            self.head_wait = buf
            return b""
        self.head_wait = b""
        head, rest = buf[: end + 4], buf[end + 4 :]
        self._feed_parser(head)
        if self.msg is not None and self.msg.headers_done:
            self.on_message_complete()
        self._new_parser()
        return rest

    def _feed_parser(self, data: bytes) -> bytes:
        """Feed the parser; returns the bytes to look at again (resynchronising after an error
        inside this chunk: a good message after a broken one in the same segment is kept)."""
        if self.parser is None:
            self._new_parser()
        assert self.parser is not None
        in_head = self.msg is None or not self.msg.headers_done
        if self.is_request and (self.msg is None or self.line_buf is not None):
            data = self._escape_line(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = int(exc.args[0]) if exc.args else len(data)
            self.session.upgraded(self, data[offset:])
        except httptools.HttpParserError as exc:
            self._error(str(exc) or type(exc).__name__, data)
            return data[1:]
        else:
            msg = self.msg
            if in_head and msg is not None and not msg.headers_done:
                # llhttp has no head limit and httptools joins a long header in memory
                self.head_fed += len(data)
                if self.head_fed > MAX_HEAD_BYTES:
                    kind = "request" if self.is_request else "response"
                    self.session.stats.counts[f"HTTP {kind} heads over {MAX_HEAD_BYTES} bytes"] += 1
                    self._error(f"head larger than {MAX_HEAD_BYTES} bytes", data)
        return b""

    def _escape_line(self, data: bytes) -> bytes:
        """``data`` with the bytes >= 0x80 of the request line it starts (or continues)
        percent-encoded, remembering the target as sent (see ``_HIGH_BYTE``)."""
        end = data.find(b"\n")
        line = data if end < 0 else data[:end]
        here = _HIGH_BYTE.search(line) is not None  # in this part of the line
        high = here  # in the whole line so far
        if self.line_buf is not None:  # the rest of a line begun in an earlier segment
            self.line_buf += line[: _MAX_LINE - len(self.line_buf)]
            high = here or self.line_high
        else:
            self.original_target = None
        if end < 0:
            if self.line_buf is None:
                self.line_buf = bytearray(line[:_MAX_LINE])
            self.line_high = high
        else:
            whole = bytes(self.line_buf) if self.line_buf is not None else line
            self.line_buf, self.line_high = None, False
            if high:
                self.original_target = _target_of(whole)
        return _HIGH_BYTE.sub(_percent, line) + data[len(line) :] if here else data

    def _error(self, reason: str, data: bytes) -> None:
        kind = "request" if self.is_request else "response"
        self.session.stats.skip(
            f"malformed HTTP {kind}",
            f"{self.session.where}: frame {self.frame}: malformed HTTP {kind}: {reason}",
        )
        self.abandon_message()
        self.syncing = True
        self.skipped_before_sync = True
        self.line_buf, self.line_high, self.original_target = None, False, None

    def abandon_message(self) -> None:
        """End the message in progress as partial (kept when its head was complete)."""
        msg, self.msg = self.msg, None
        self.parser = None
        if msg is None or not msg.headers_done:
            return
        msg.partial = True
        if self.is_request:
            self.session.request_done(msg)
        else:
            self.session.response_done(msg)

    def gap(self, size: int) -> None:
        """Bytes of this direction were never captured."""
        if self.stopped:
            return
        if self.held is not None:
            self.held = bytearray()
            return
        self._drop_sync_tail()
        msg = self.msg
        if (
            msg is not None
            and msg.headers_done
            and not self.syncing
            and size <= MAX_FILL
            and self.parser is not None
        ):
            msg.partial = True
            self.filling = True
            try:
                while size > 0 and self.msg is msg:
                    piece = _FILL[: min(size, len(_FILL))]
                    size -= len(piece)
                    self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                self.parser = None
            except httptools.HttpParserError:
                self.abandon_message()
                self.syncing = True
                self.skipped_before_sync = True
            finally:
                self.filling = False
            if self.msg is not msg and size > 0:  # the message ended inside the gap
                self.syncing = True
                self.skipped_before_sync = True
            return
        self.abandon_message()
        self.syncing = True
        self.skipped_before_sync = True

    def close(self) -> None:
        """End of the connection: a response read until close is complete now."""
        msg = self.msg
        if self.stopped:
            return
        self._drop_sync_tail()
        if msg is None:
            return
        if not msg.headers_done:
            kind = "request" if self.is_request else "response"
            self.session.stats.skip(
                f"HTTP {kind} heads cut short by the end of the connection",
                f"{self.session.where}: frame {self.frame}: connection ends inside an HTTP "
                f"{kind} head",
            )
        if msg.headers_done and not self.is_request:
            # complete when the body is framed by the close; cut short when it had a length
            if msg.header("content-length") is not None or msg.header("transfer-encoding"):
                msg.partial = True
                self.session.stats.counts[_BODY_CUT.format(kind="response")] += 1
            self.on_message_complete()
        else:
            if msg.headers_done:  # a request whose declared body never all came
                self.session.stats.counts[_BODY_CUT.format(kind="request")] += 1
            self.abandon_message()


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
    ) -> None:
        self.emit = emit
        self.stats = stats
        self.source = source
        self.client = client
        self.server = server
        self.where = where
        self.requests = _Side(self, True)
        self.responses = _Side(self, False)
        self.pending: deque[Message] = deque()
        self.tunnel = False

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

    def next_response_is_head_only(self) -> bool:
        if self.pending:
            method = self.pending[0].method
        elif self.requests.msg is not None and self.requests.msg.headers_done:
            method = self.requests.msg.method
        else:
            return False
        return method in ("HEAD", "CONNECT")

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
        else:
            self.stats.skip("HTTP response without a request")
            return
        if status == 101 or (request.method == "CONNECT" and 200 <= status < 300):
            self._start_tunnel(request, msg)
            return
        if request.upgrade:  # upgrade refused: HTTP goes on
            self._resume_requests()
        self._emit(request, msg)

    def upgraded(self, side: _Side, rest: bytes) -> None:
        """llhttp paused after an Upgrade/CONNECT message (request) or a 101 (response)."""
        if side.is_request:
            if self.pending and self.pending[-1].headers_done:
                self.pending[-1].upgrade = True
            side.held = bytearray(rest[:MAX_HEAD_WAIT])
            side.parser = None
        else:
            side.parser = None

    def _resume_requests(self) -> None:
        side = self.requests
        held, side.held = side.held, None
        side._new_parser()
        if held:
            side.feed(bytes(held), side.ts, side.frame)

    def _start_tunnel(self, request: Message, response: Message) -> None:
        self.tunnel = True
        self.requests.stopped = self.responses.stopped = True
        self.stats.counts["connections upgraded (handshake kept, frames skipped)"] += 1
        while self.pending:  # anything pipelined before the upgrade answer has no response
            self._emit(self.pending.popleft(), None)
        self._emit(request, response)

    def _emit(self, req: Message, resp: Message | None) -> None:
        upgrade = (req.header("upgrade") or "").lower()
        last = max(req.last_frame, resp.last_frame) if resp else req.last_frame
        first = req.first_frame
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
                host=req.header("host"),
                status=resp.status if resp else None,
                request_headers=tuple(req.headers),
                response_headers=tuple(resp.headers) if resp else (),
                request_body=req.decoded_body(),
                response_body=resp.decoded_body() if resp else b"",
                request_bytes=req.body_bytes,
                response_bytes=resp.body_bytes if resp else 0,
                partial=req.partial or (resp.partial if resp else False),
                websocket=upgrade == "websocket" and resp is not None and resp.status == 101,
            )
        )
