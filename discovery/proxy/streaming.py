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
body is not seen. Compressed bodies are read decompressed as a buffered body's prefix is
(``wire.bodies``: gzip, deflate, and br and zstd where their decoders are installed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from discovery.wire.bodies import decode_body

HOLD, PASS, BLOCKED = "holding", "passing", "blocked"


def decoded_prefix(prefix: bytes, encoding: str | None, limit: int) -> bytes:
    """The start of a body as its type reads it (``wire.bodies.decode_body``: at most ``limit``
    bytes out); a coding that does not decode: nothing."""
    decoded, reason = decode_body(prefix, encoding, limit)
    return b"" if reason is not None else decoded


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
