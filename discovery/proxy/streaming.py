"""Request bodies mitmproxy streams (``stream_large_bodies``): a bounded prefix seen anyway.

mitmproxy reads a body whole before the ``request`` hook, unless it streams it: a body declared
larger than ``stream_large_bodies`` is streamed from the start, and a body of unknown length
(chunked HTTP/1.1, HTTP/2 without ``content-length``) once more than that was buffered. A
streamed body never reaches the ``request`` hook (``raw_content`` is None), so a credential in it
would pass unseen. ``BodyGate`` takes the place of mitmproxy's ``request.stream`` flag (a
callable receives every chunk and returns what is forwarded):

* recording: it copies the first ``limit`` bytes (the case's body prefix) and forwards every
  chunk as it comes;
* enforcing (credentials blocked): it holds the chunks until ``limit`` bytes or the end of the
  body are in, decides on that prefix with the same detection as a buffered body, and then
  releases what it held and passes the rest, or forwards nothing more and closes the client's
  connection.

What it cannot do (mitmproxy's design): the request head is sent upstream before the body
streams, so a body block cannot be answered 403 (the client's connection is closed, the upstream
sees a head and no body bytes), and a credential beyond the first ``limit`` bytes of a streamed
body is not seen. Bodies compressed with gzip or deflate are read decompressed; other codings
(br, zstd) are not read.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

HOLD, PASS, BLOCKED = "holding", "passing", "blocked"


def decoded_prefix(prefix: bytes, encoding: str | None, limit: int) -> bytes:
    """The start of a body as its type reads it: identity as is, gzip and deflate decompressed
    (at most ``limit`` bytes out); another or a broken coding: nothing."""
    coding = (encoding or "").strip().lower()
    if coding in ("", "identity"):
        return prefix[:limit]
    try:
        if coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(prefix, limit)
        if coding == "deflate":  # zlib-wrapped as the RFC says, or raw as some clients send
            try:
                return zlib.decompressobj().decompress(prefix, limit)
            except zlib.error:
                return zlib.decompressobj(-zlib.MAX_WBITS).decompress(prefix, limit)
    except zlib.error:
        return b""
    return b""


class BodyGate:
    """``flow.request.stream`` for one streamed request body (see the module)."""

    def __init__(
        self,
        limit: int,
        *,
        decide: Callable[[bytes], Any] | None = None,
        on_block: Callable[[Any], None] | None = None,
    ) -> None:
        self.limit = limit
        self.decide = decide  # prefix -> a block decision or None; None: only record
        self.on_block = on_block
        self.prefix = bytearray()
        self.total = 0
        self.held: list[bytes] = []
        self.state = HOLD if decide is not None else PASS

    def __call__(self, data: bytes) -> list[bytes]:
        """One chunk in (``b""``: the body ended), the chunks to forward now out."""
        self.total += len(data)
        room = self.limit - len(self.prefix)
        if room > 0 and data:
            self.prefix += data[:room]
        if self.state == PASS:
            return [data] if data else []
        if self.state == BLOCKED:
            return []
        if data:
            self.held.append(data)
            if len(self.prefix) < self.limit:
                return []  # more to read before deciding
        assert self.decide is not None
        decision = self.decide(bytes(self.prefix))
        held, self.held = self.held, []
        if decision is not None:
            self.state = BLOCKED
            if self.on_block is not None:
                self.on_block(decision)
            return []
        self.state = PASS
        return held
