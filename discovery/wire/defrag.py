"""IPv4 and IPv6 fragment reassembly, bounded: datagrams in progress, their size and their age are capped.

Overlapping fragments: the first bytes received win (as in TCP reassembly).
"""

from __future__ import annotations

from discovery.stats import IngestStats
from discovery.wire.packets import Fragment

MAX_DATAGRAMS = 256  # x MAX_SIZE: at most 16 MiB held
MAX_SIZE = 65_535
TIMEOUT = 30.0  # seconds of capture time

_Key = tuple[bytes, bytes, int, int]


class _Pending:
    __slots__ = ("first_ts", "parts", "size", "total")

    def __init__(self, ts: float) -> None:
        self.first_ts = ts
        self.parts: dict[int, bytes] = {}
        self.size = 0
        self.total: int | None = None


class Defragmenter:
    """Collects IPv4 fragments; returns a datagram's payload once every byte of it is there."""

    def __init__(self, stats: IngestStats) -> None:
        self.stats = stats
        self.pending: dict[_Key, _Pending] = {}

    def add(self, frag: Fragment, ts: float) -> bytes | None:
        """Account one fragment; the reassembled IP payload when this one completes it."""
        self.stats.counts["IPv4 fragments" if len(frag.src) == 4 else "IPv6 fragments"] += 1
        key = (frag.src, frag.dst, frag.ident, frag.proto)
        entry = self.pending.get(key)
        if entry is None:
            if len(self.pending) >= MAX_DATAGRAMS // 2:
                self._expire(ts, force=len(self.pending) >= MAX_DATAGRAMS)
            entry = self.pending[key] = _Pending(ts)
        if frag.offset not in entry.parts:
            entry.parts[frag.offset] = frag.payload
            entry.size += len(frag.payload)
        if not frag.more:
            entry.total = frag.offset + len(frag.payload)
        if entry.size > MAX_SIZE or (entry.total or 0) > MAX_SIZE:
            del self.pending[key]
            self.stats.skip("IPv4 fragments of an oversized datagram")
            return None
        if entry.total is None:
            return None
        buf = bytearray(entry.total)
        covered = 0
        for offset in sorted(entry.parts):
            if offset > covered:
                return None  # a hole: wait for more
            part = entry.parts[offset]
            end = min(offset + len(part), entry.total)
            if end > covered:
                buf[covered:end] = part[covered - offset : end - offset]
                covered = end
        if covered < entry.total:
            return None
        del self.pending[key]
        self.stats.counts[
            "IPv4 datagrams reassembled" if len(frag.src) == 4 else "IPv6 datagrams reassembled"
        ] += 1
        return bytes(buf)

    def _expire(self, now: float, force: bool = False) -> None:
        stale = [k for k, e in self.pending.items() if now - e.first_ts > TIMEOUT]
        if force and not stale:  # at the cap: drop the oldest
            stale = [min(self.pending, key=lambda k: self.pending[k].first_ts)]
        for key in stale:
            del self.pending[key]
            self.stats.skip("IPv4 fragments never completed")

    def finish(self) -> None:
        """End of input: what is still incomplete is counted."""
        for _ in range(len(self.pending)):
            self.stats.skip("IPv4 fragments never completed")
        self.pending.clear()
