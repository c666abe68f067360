"""Client limits of the proxy: a header timeout and a per-client connection cap (slowloris).

Pure bookkeeping, driven by the addon's hooks: a connection is *waiting for a request head* from
the moment it opens, and again from the end of each response until the next request's head is
complete; one that waits longer than ``header_timeout`` seconds is due to be closed (a client that
trickles a request head, or holds an idle connection open). A connection that became a tunnel of
another protocol (WebSocket, raw TCP) is no longer watched. A client address may hold at most
``max_connections`` connections at once; the next one is refused as it opens.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

HEADER_TIMEOUT: Final = 30.0
MAX_CONNECTIONS: Final = 256


@dataclass
class _Conn:
    address: str
    waiting_since: float | None  # None while a request is in flight (or not watched)
    in_flight: int = 0
    watched: bool = True


@dataclass
class ClientLimits:
    """What the proxy's clients hold: connections per address, and which wait for a head."""

    header_timeout: float = HEADER_TIMEOUT  # 0: no timeout
    max_connections: int = MAX_CONNECTIONS  # 0: no cap
    _conns: dict[str, _Conn] = field(default_factory=dict)
    _per_address: Counter[str] = field(default_factory=Counter)

    def opened(self, conn_id: str, address: str, now: float) -> str | None:
        """A connection opened; the reason to refuse it, or None."""
        self._conns[conn_id] = _Conn(address, now)
        self._per_address[address] += 1
        if self.max_connections and self._per_address[address] > self.max_connections:
            return (
                f"{address} holds {self._per_address[address] - 1} connections: "
                f"the limit is {self.max_connections}"
            )
        return None

    def head_complete(self, conn_id: str) -> None:
        """A request's head arrived on the connection: it no longer waits."""
        conn = self._conns.get(conn_id)
        if conn is not None:
            conn.in_flight += 1
            conn.waiting_since = None

    def answered(self, conn_id: str, now: float) -> None:
        """A request on the connection ended (answered or failed)."""
        conn = self._conns.get(conn_id)
        if conn is not None:
            conn.in_flight = max(0, conn.in_flight - 1)
            if not conn.in_flight and conn.watched:
                conn.waiting_since = now

    def tunnelled(self, conn_id: str) -> None:
        """The connection carries another protocol now: no more request heads to wait for."""
        conn = self._conns.get(conn_id)
        if conn is not None:
            conn.watched = False
            conn.waiting_since = None

    def closed(self, conn_id: str) -> None:
        conn = self._conns.pop(conn_id, None)
        if conn is not None:
            self._per_address[conn.address] -= 1
            if self._per_address[conn.address] <= 0:
                del self._per_address[conn.address]

    def overdue(self, now: float) -> list[str]:
        """Connections that waited for a request head longer than the timeout."""
        if not self.header_timeout:
            return []
        limit = now - self.header_timeout
        return [
            conn_id
            for conn_id, conn in self._conns.items()
            if conn.waiting_since is not None and conn.waiting_since < limit
        ]

    def connections(self, address: str) -> int:
        return self._per_address.get(address, 0)
