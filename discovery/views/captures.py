"""The case's captures and what they lost: live captures (their kernel and queue drops, while
they run and after), and capture files that record their own loss (pcapng interface statistics).

Read by ``report`` (which captures were lossy), ``capture live`` and the console's Live screen.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from discovery.case.store import Store
from discovery.timeutil import iso

STALE_AFTER = 10.0  # a running capture updates its row every second: older means it died


@dataclass(frozen=True)
class Capture:
    """One capture input and its loss."""

    input_id: int
    name: str
    format: str
    state: str  # running | complete | stopped (its process died without finishing)
    started_at: float
    finished_at: float | None
    packets: int
    exchanges: int
    received: int | None  # packets the kernel accepted for it (live captures)
    dropped: int  # packets lost (kernel, our queues, left unread)
    kernel_dropped: int
    queue_dropped: int
    unread: int
    truncated: int
    updated_at: float | None

    @property
    def lossy(self) -> bool:
        return self.dropped > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input_id,
            "name": self.name,
            "format": self.format,
            "state": self.state,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "packets": self.packets,
            "exchanges": self.exchanges,
            "received": self.received,
            "dropped": {
                "kernel": self.kernel_dropped,
                "queue": self.queue_dropped,
                "unread": self.unread,
            },
            "lost": self.dropped,
            "lossy": self.lossy,
            "truncated": self.truncated,
        }


def _capture(row: tuple[Any, ...], now: float) -> Capture:
    input_id, path, fmt, state, started, finished, stats_text, dropped = row
    try:
        stats = json.loads(stats_text or "{}")
    except ValueError:
        stats = {}
    drops = stats.get("dropped") if isinstance(stats.get("dropped"), dict) else {}
    updated = stats.get("updated_at")
    last_sign = updated if isinstance(updated, (int, float)) else started
    if state == "complete":
        shown = "complete"
    elif now - last_sign <= STALE_AFTER:
        shown = "running"
    else:
        shown = "stopped"  # its process died without finishing

    def number(value: object) -> int:
        return int(value) if isinstance(value, (int, float)) else 0

    received = stats.get("received")
    return Capture(
        input_id=int(input_id),
        name=str(path),
        format=str(fmt),
        state=shown,
        started_at=float(started),
        finished_at=finished,
        packets=number(stats.get("packets")),
        exchanges=number(stats.get("exchanges")),
        received=number(received) if received is not None else None,
        dropped=int(dropped or 0),
        kernel_dropped=number(drops.get("kernel", dropped)),
        queue_dropped=number(drops.get("queue")),
        unread=number(drops.get("unread")),
        truncated=number(stats.get("truncated")),
        updated_at=float(updated) if isinstance(updated, (int, float)) else None,
    )


def captures(store: Store) -> list[Capture]:
    """Every input that says what it lost (live captures; files that record drops), oldest
    first."""
    now = time.time()
    rows = store.conn.execute(
        "SELECT id, path, format, state, started_at, finished_at, stats, dropped FROM inputs "
        "WHERE dropped IS NOT NULL ORDER BY id"
    ).fetchall()
    return [_capture(row, now) for row in rows]


def latest_live(store: Store) -> Capture | None:
    """The newest live capture (running or not), for the console's Live screen."""
    row = store.conn.execute(
        "SELECT id, path, format, state, started_at, finished_at, stats, dropped FROM inputs "
        "WHERE format = 'live' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return _capture(row, time.time()) if row else None
