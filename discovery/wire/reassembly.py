"""TCP reassembly per direction, with bounded memory.

Each connection has two directions (side 0 sent the first packet seen). In-order data goes to
the connection's handler at once; out-of-order segments wait in a per-direction buffer.

Stated policies:
* overlaps: **first wins** - bytes already delivered (or already buffered at the same sequence
  number) are kept; a later segment only contributes bytes beyond them;
* gaps: when a direction's buffer reaches its cap, at FIN/RST or at the end of the input, the
  missing bytes are reported to the handler as a gap (it resynchronises at the next message);
* capture starting mid-connection: the first segment seen fixes the sequence number;
* port reuse: a SYN with a new initial sequence number on a known 4-tuple starts a new
  connection; a SYN with the same one (retransmitted, even after data) changes nothing, and
  segments of a recently closed connection that repeat its bytes (retransmissions after FIN or
  RST, a retransmitted SYN) open nothing;
* capture loss: a segment acknowledging bytes of the other direction that were never seen
  ends the wait for them at once (a gap), so one lost segment does not stall a direction until
  its buffer fills;
* memory: per-direction buffer cap, idle-flow eviction (by capture time) and a cap on concurrent
  flows (least recently active evicted first); each is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from discovery.stats import IngestStats
from discovery.wire.packets import ACK, FIN, RST, SYN, Segment, address_text

_MOD: Final = 1 << 32
_HALF: Final = 1 << 31
MAX_CLOSED_REMEMBERED: Final = 4096  # directions of closed connections whose repeats are dropped


@dataclass(frozen=True)
class Limits:
    """Memory bounds of the reassembler."""

    max_flows: int = 20_000
    flow_buffer: int = 1 << 20  # out-of-order bytes held per direction
    idle_timeout: float = 300.0  # seconds of capture time without a packet
    sweep_every: int = 8192  # frames between idle sweeps (by frame number: see ``tick``)


class Handler(Protocol):
    """The application layer of one connection (HTTP/1.x, TLS, or nothing)."""

    def on_data(self, conn: Connection, side: int, data: bytes, ts: float, frame: int) -> None: ...

    def on_gap(self, conn: Connection, side: int, size: int) -> None: ...

    def on_close(self, conn: Connection) -> None: ...


class Direction:
    """One direction's reassembly state."""

    __slots__ = ("fin", "isn", "next_seq", "ooo", "ooo_bytes")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.isn: int | None = None
        self.ooo: dict[int, tuple[bytes, float, int]] = {}
        self.ooo_bytes = 0
        self.fin = False


class Connection:
    """A TCP connection: addresses of both sides, which side is the client, its handler."""

    __slots__ = (
        "_raw",
        "client",
        "closed",
        "dirs",
        "first_ts",
        "handler",
        "ips",
        "last_ts",
        "opened",
        "ports",
    )

    def __init__(
        self, src: bytes, sport: int, dst: bytes, dport: int, ts: float, opened: int = 0
    ) -> None:
        self._raw = (src, dst)
        self.ips: tuple[str, str] | None = None  # text forms, made on demand
        self.ports = (sport, dport)
        self.dirs = (Direction(), Direction())
        self.client: int | None = None  # side index of the client, once known
        self.first_ts = ts
        self.last_ts = ts
        self.handler: Handler | None = None
        self.closed = False
        self.opened = opened  # number of the frame that opened it (one frame opens at most one)

    def ip(self, side: int) -> str:
        if self.ips is None:
            self.ips = (address_text(self._raw[0]), address_text(self._raw[1]))
        return self.ips[side]


class Reassembler:
    """Feeds TCP segments into per-connection handlers, in order, within memory limits."""

    def __init__(
        self,
        new_handler: Callable[[Connection], Handler],
        stats: IngestStats,
        limits: Limits | None = None,
    ) -> None:
        self.new_handler = new_handler
        self.stats = stats
        self.limits = limits or Limits()
        self.flows: dict[tuple[bytes, int, bytes, int], tuple[Connection, int]] = {}
        self.conns: dict[tuple[bytes, int, bytes, int], Connection] = {}
        self.next_sweep = self.limits.sweep_every  # frame number of the next idle sweep
        # each direction of a recently closed connection: (ISN, next sequence number, when)
        self.closed_recently: dict[tuple[bytes, int, bytes, int], tuple[int, int, float]] = {}

    def tick(self, frame: int, ts: float) -> None:
        """Sweep idle flows when frame number ``frame`` is due for it. Sweeps go by frame number
        (every frame, bare ACKs included, may be the one), so readers that share a capture's
        flows between them all sweep at the frames, and with the times, one reader would."""
        if frame >= self.next_sweep:
            self.next_sweep = frame + self.limits.sweep_every
            self.sweep_idle(ts)

    # ------------------------------------------------------------------ per segment

    def segment(self, seg: Segment, ts: float, frame: int) -> None:
        """Account one TCP segment (capture order)."""
        src, dst, sport, dport = seg.src, seg.dst, seg.sport, seg.dport
        seq, flags, payload, missing = seg.seq, seg.flags, seg.payload, seg.missing
        if not payload and not flags & 0x07 and not missing:
            return  # a bare ACK: nothing to reassemble
        if frame >= self.next_sweep:
            self.tick(frame, ts)
        key = (src, sport, dst, dport)
        entry = self.flows.get(key)
        if entry is not None:
            conn, side = entry
            if flags & SYN and not flags & ACK:
                isn = conn.dirs[side].isn
                if isn is not None and isn != seq:  # port reuse: a new connection
                    self.stats.counts["port reuse (new connection on a known 4-tuple)"] += 1
                    self.close(conn)
                    entry = None
        if entry is None:
            if not payload and not flags & SYN:
                return  # a bare ACK/FIN/RST of a connection we do not follow
            if self.closed_recently and self._after_close(key, seq, flags, ts):
                return
            conn = self._open(key, ts, frame)
            side = 0
        conn.last_ts = ts
        d = conn.dirs[side]
        if flags & SYN:
            if d.isn == seq and d.next_seq is not None:  # a retransmitted SYN: nothing new
                self.stats.counts["retransmitted SYNs"] += 1
            else:
                d.isn = seq
                d.next_seq = (seq + 1) % _MOD
            if conn.client is None:
                conn.client = (1 - side) if flags & ACK else side
            seq = (seq + 1) % _MOD  # data on a SYN (TCP Fast Open) starts after it
        elif flags & ACK and conn.dirs[1 - side].ooo:
            self._ack_above_hole(conn, 1 - side, seg.ack)
        if payload or missing:
            self._data(conn, side, d, seq, payload, missing, ts, frame)
        if flags & RST:
            self.close(conn)
            return
        if flags & FIN:
            d.fin = True
            other = conn.dirs[1 - side]
            if other.fin and not d.ooo and not other.ooo:
                self.close(conn)

    def _after_close(
        self, key: tuple[bytes, int, bytes, int], seq: int, flags: int, ts: float
    ) -> bool:
        """Whether a segment of no open connection repeats what a closed one already carried
        (a retransmission after FIN or RST, a retransmitted SYN)."""
        known = self.closed_recently.get(key)
        if known is None:
            return False
        isn, next_seq, closed_at = known
        if ts - closed_at > self.limits.idle_timeout:
            del self.closed_recently[key]
            return False
        if flags & SYN:
            if seq != isn:
                return False  # a new connection on the same ports
        else:
            if (seq - next_seq) % _MOD < _HALF:
                return False  # at or beyond the end of what was seen: new data
        self.stats.counts["segments repeated after their connection closed"] += 1
        return True

    def _ack_above_hole(self, conn: Connection, side: int, ack: int) -> None:
        """The peer acknowledged bytes of ``side`` that were never captured: the hole before
        its buffered segments will not be filled (capture loss), skip it now rather than when
        the buffer fills."""
        d = conn.dirs[side]
        if d.next_seq is None:
            return
        diff = (ack - d.next_seq) % _MOD
        if 0 < diff < _HALF:
            self.stats.counts["gaps acknowledged by the peer (capture loss)"] += 1
            self._skip_gap(conn, side, d)

    def _open(self, key: tuple[bytes, int, bytes, int], ts: float, frame: int) -> Connection:
        if len(self.conns) >= self.limits.max_flows:
            self._evict_for_cap()
        src, sport, dst, dport = key
        conn = Connection(src, sport, dst, dport, ts, frame)
        self.flows[key] = (conn, 0)
        self.flows[(dst, dport, src, sport)] = (conn, 1)
        self.conns[key] = conn
        self.stats.flows += 1
        conn.handler = self.new_handler(conn)
        return conn

    def _data(
        self,
        conn: Connection,
        side: int,
        d: Direction,
        seq: int,
        payload: bytes,
        missing: int,
        ts: float,
        frame: int,
    ) -> None:
        handler = conn.handler
        assert handler is not None
        if d.next_seq is None:  # capture started mid-connection
            d.next_seq = seq
        diff = (seq - d.next_seq) % _MOD
        if diff >= _HALF:
            diff -= _MOD
        if diff == 0:
            if payload:
                d.next_seq = (seq + len(payload)) % _MOD
                handler.on_data(conn, side, payload, ts, frame)
            if missing:
                self.stats.counts["segments cut by the snap length"] += 1
                d.next_seq = (d.next_seq + missing) % _MOD
                handler.on_gap(conn, side, missing)
            if d.ooo:
                self._drain(conn, side, d)
            return
        if diff < 0:
            if -diff >= len(payload):
                self.stats.counts["retransmitted segments"] += 1
                return
            self.stats.counts["overlapping segments (first wins)"] += 1
            self._data(conn, side, d, d.next_seq, payload[-diff:], missing, ts, frame)
            return
        # out of order: hold it (first wins at the same sequence number)
        self.stats.counts["out-of-order segments"] += 1
        if seq in d.ooo and len(d.ooo[seq][0]) >= len(payload):
            return
        if d.ooo_bytes + len(payload) > self.limits.flow_buffer:
            self.stats.counts["gaps: flow buffer full"] += 1
            if d.ooo:
                self._skip_gap(conn, side, d)
            else:  # a single segment beyond the cap: skip straight to it
                self.stats.counts["gaps (missing bytes skipped)"] += 1
                d.next_seq = seq
                handler.on_gap(conn, side, diff)
            self._data(conn, side, d, seq, payload, missing, ts, frame)
            return
        old = d.ooo.get(seq)
        if old is not None:
            d.ooo_bytes -= len(old[0])
        d.ooo[seq] = (payload, ts, frame)
        d.ooo_bytes += len(payload)

    def _drain(self, conn: Connection, side: int, d: Direction) -> None:
        """Deliver buffered segments that became in order."""
        handler = conn.handler
        assert handler is not None and d.next_seq is not None
        while d.ooo:
            nxt = d.next_seq
            best = None
            for s in d.ooo:
                diff = (s - nxt) % _MOD
                if diff >= _HALF:
                    diff -= _MOD
                if diff <= 0 and (best is None or diff < best[1]):
                    best = (s, diff)
            if best is None:
                return
            s, diff = best
            data, ts, frame = d.ooo.pop(s)
            d.ooo_bytes -= len(data)
            if -diff < len(data):
                chunk = data[-diff:] if diff else data
                d.next_seq = (nxt + len(chunk)) % _MOD
                handler.on_data(conn, side, chunk, ts, frame)

    def _skip_gap(self, conn: Connection, side: int, d: Direction) -> None:
        """Give up on the missing bytes before the lowest buffered segment."""
        handler = conn.handler
        assert handler is not None and d.next_seq is not None
        if not d.ooo:
            return
        nxt = d.next_seq
        lowest = min(d.ooo, key=lambda s: (s - nxt) % _MOD)
        size = (lowest - nxt) % _MOD
        self.stats.counts["gaps (missing bytes skipped)"] += 1
        d.next_seq = lowest
        handler.on_gap(conn, side, size)
        self._drain(conn, side, d)

    # ------------------------------------------------------------------ ending flows

    def close(self, conn: Connection) -> None:
        """End a connection: deliver what is buffered (with gaps), then tell its handler."""
        if conn.closed:
            return
        conn.closed = True
        for side, d in enumerate(conn.dirs):
            while d.ooo:
                self._skip_gap(conn, side, d)
        key = (conn._raw[0], conn.ports[0], conn._raw[1], conn.ports[1])
        rev = (conn._raw[1], conn.ports[1], conn._raw[0], conn.ports[0])
        if self.conns.get(key) is conn:
            del self.conns[key]
            self.flows.pop(key, None)
            self.flows.pop(rev, None)
            recent = self.closed_recently
            for side, dkey in ((0, key), (1, rev)):
                d = conn.dirs[side]
                if d.isn is not None and d.next_seq is not None:
                    recent.pop(dkey, None)
                    recent[dkey] = (d.isn, d.next_seq, conn.last_ts)
            while len(recent) > MAX_CLOSED_REMEMBERED:
                del recent[next(iter(recent))]
        if conn.handler is not None:
            conn.handler.on_close(conn)

    def sweep_idle(self, now: float) -> None:
        """Close connections idle for longer than the timeout (capture time)."""
        limit = now - self.limits.idle_timeout
        idle = [c for c in self.conns.values() if c.last_ts < limit]
        for conn in idle:
            self.stats.counts["flows evicted (idle)"] += 1
            self.close(conn)

    def _evict_for_cap(self) -> None:
        ordered = sorted(self.conns.values(), key=lambda c: c.last_ts)
        for conn in ordered[: max(1, len(ordered) // 8)]:
            self.stats.counts["flows evicted (flow cap)"] += 1
            self.close(conn)

    def close_all(self) -> None:
        """End every connection still open (end of input)."""
        for conn in list(self.conns.values()):
            self.close(conn)
