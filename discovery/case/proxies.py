"""Heartbeats of enforcing proxies: who enforces this case's blocklist, and how recently.

An enforcing proxy (``capture proxy --enforce``, the console's proxy, ``mitmdump -s addon.py
--set irc_enforce=true``) writes a row when it starts, refreshes ``seen_at`` every
``HEARTBEAT_SECONDS`` and records the blocklist change it applied and when; it deletes its row
when it stops. A row not refreshed for ``STALE_SECONDS`` is a proxy that died.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from discovery.case.store import Store

HEARTBEAT_SECONDS = 1.0
STALE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    id: str
    pid: int
    hostname: str
    started_at: float
    seen_at: float
    applied_marker: str | None
    applied_at: float | None
    blocks: int


def beat(
    store: Store,
    proxy_id: str,
    *,
    started_at: float,
    applied_marker: str | None,
    applied_at: float | None,
    blocks: int,
) -> None:
    """Write (or refresh) this process's heartbeat."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO proxy_heartbeats(id, pid, hostname, started_at, seen_at, "
            "applied_marker, applied_at, blocks) VALUES (?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at, "
            "applied_marker = excluded.applied_marker, applied_at = excluded.applied_at, "
            "blocks = excluded.blocks",
            (
                proxy_id,
                os.getpid(),
                socket.gethostname(),
                started_at,
                time.time(),
                applied_marker,
                applied_at,
                blocks,
            ),
        )


def stopped(store: Store, proxy_id: str) -> None:
    """This proxy stops enforcing: its heartbeat goes."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM proxy_heartbeats WHERE id = ?", (proxy_id,))


def heartbeats(store: Store) -> list[Heartbeat]:
    """Every heartbeat row, freshest first (stale ones included: a proxy that died)."""
    rows = store.conn.execute(
        "SELECT id, pid, hostname, started_at, seen_at, applied_marker, applied_at, blocks "
        "FROM proxy_heartbeats ORDER BY seen_at DESC"
    ).fetchall()
    return [Heartbeat(*row) for row in rows]
